#include <stdlib.h>
#include <string.h>

#include "io/config.h"
#include "test.h"

static int STREQ(const char *a, const char *b) {
    return a && b && !strcmp(a, b);
}

static void check_released(void) {
    size_t n = 0;
    while (config_builtin_name(n)) {
        const char *name = config_builtin_name(n++);
        ptts_config c;
        ptts_err e = {0};
        int rc = config_load_builtin(&c, name, &e);
        CHECK(rc == PTTS_OK, "%s: %s", name, e.msg);
        CHECK(STREQ(c.name, name), "%s", name);
        CHECK(c.weights_path.kind == CFG_PATH_HF &&
                  c.weights_path_without_voice_cloning.kind == CFG_PATH_HF,
              "%s", name);
        CHECK(c.flow_lm.lookup_table.tokenizer_path.kind == CFG_PATH_HF, "%s", name);
        CHECK(c.flow_lm.weights_path.kind == CFG_PATH_NONE && !c.mimi.weights_path.path, "%s",
              name);
        config_free(&c);
    }
    CHECK(n == 12, "%zu released configs", n);
}

static void check_english(void) {
    ptts_config c;
    ptts_err e = {0};
    CHECK(config_load_builtin(&c, "english", &e) == PTTS_OK, "%s", e.msg);
    CHECK(STREQ(c.weights_path.path, "hf://kyutai/pocket-tts/languages/english/model.safetensors@"
                                     "39592ff23c9ef80098bb74895d104c26275fe2c9"));
    CHECK(STREQ(c.weights_path_without_voice_cloning.path,
                "hf://kyutai/pocket-tts-without-voice-cloning/languages/english/"
                "model.safetensors@d29db7978e464fb90cb3359ee0c69a273b9142cc"));
    CHECK(!c.pad_with_spaces_for_short_inputs && !c.remove_semicolons);
    CHECK(c.model_recommended_frames_after_eos == -1);
    CHECK(c.flow_lm.insert_bos_before_voice == 1 && STREQ(c.flow_lm.dtype, "float32"));
    CHECK(c.flow_lm.flow.depth == 6 && c.flow_lm.flow.dim == 512);
    CHECK(c.flow_lm.transformer.d_model == 1024 && c.flow_lm.transformer.hidden_scale == 4 &&
          c.flow_lm.transformer.max_period == 10000 && c.flow_lm.transformer.num_heads == 16 &&
          c.flow_lm.transformer.num_layers == 6);
    CHECK(c.flow_lm.lookup_table.dim == 1024 && c.flow_lm.lookup_table.n_bins == 4000 &&
          STREQ(c.flow_lm.lookup_table.tokenizer, "sentencepiece"));
    CHECK(STREQ(c.flow_lm.lookup_table.tokenizer_path.path,
                "hf://kyutai/pocket-tts-without-voice-cloning/languages/english/"
                "tokenizer.model@d29db7978e464fb90cb3359ee0c69a273b9142cc"));
    CHECK(STREQ(c.mimi.dtype, "float32") && c.mimi.sample_rate == 24000 && c.mimi.channels == 1 &&
          c.mimi.frame_rate == 12.5);
    CHECK(c.mimi.inner_dim == 32 && c.mimi.outer_dim == 512);
    CHECK(c.mimi.seanet.dimension == 512 && c.mimi.seanet.channels == 1 &&
          c.mimi.seanet.n_filters == 64 && c.mimi.seanet.n_residual_layers == 1);
    CHECK(c.mimi.seanet.ratios.n == 3 && c.mimi.seanet.ratios.v[0] == 6 &&
          c.mimi.seanet.ratios.v[1] == 5 && c.mimi.seanet.ratios.v[2] == 4);
    CHECK(c.mimi.seanet.kernel_size == 7 && c.mimi.seanet.residual_kernel_size == 3 &&
          c.mimi.seanet.last_kernel_size == 3 && c.mimi.seanet.dilation_base == 2 &&
          STREQ(c.mimi.seanet.pad_mode, "constant") && c.mimi.seanet.compress == 2);
    CHECK(c.mimi.transformer.d_model == 512 && c.mimi.transformer.num_heads == 8 &&
          c.mimi.transformer.num_layers == 2 && c.mimi.transformer.layer_scale == 0.01 &&
          c.mimi.transformer.context == 250 && c.mimi.transformer.dim_feedforward == 2048 &&
          c.mimi.transformer.input_dimension == 512);
    CHECK(c.mimi.transformer.output_dimensions.n == 1 &&
          c.mimi.transformer.output_dimensions.v[0] == 512);
    CHECK(c.mimi.transformer.max_period == 10000, "default max_period");
    CHECK(c.mimi.quantizer.dimension == 32 && c.mimi.quantizer.output_dimension == 512);
    config_free(&c);

    CHECK(config_load_builtin(&c, "english_2026-01", &e) == PTTS_OK, "%s", e.msg);
    CHECK(c.pad_with_spaces_for_short_inputs == 1 && !c.remove_semicolons);
    CHECK(c.flow_lm.insert_bos_before_voice == 0 && c.mimi.inner_dim == 512);
    CHECK(c.flow_lm.transformer.num_layers == 6 && c.model_recommended_frames_after_eos == -1);
    CHECK(STREQ(c.flow_lm.lookup_table.tokenizer_path.path,
                "hf://kyutai/pocket-tts-without-voice-cloning/tokenizer.model@"
                "d29db7978e464fb90cb3359ee0c69a273b9142cc"));
    config_free(&c);

    CHECK(config_load_builtin(&c, "french_24l", &e) == PTTS_OK, "%s", e.msg);
    CHECK(c.remove_semicolons == 1 && !c.pad_with_spaces_for_short_inputs);
    CHECK(c.model_recommended_frames_after_eos == 8);
    CHECK(c.flow_lm.transformer.num_layers == 24 && c.flow_lm.insert_bos_before_voice == 1);
    CHECK(STREQ(c.weights_path.path, "hf://kyutai/pocket-tts/languages/french_24l/"
                                     "model.safetensors@39592ff23c9ef80098bb74895d104c26275fe2c9"));
    config_free(&c);

    CHECK(config_load_builtin(&c, "french", &e) == PTTS_ERR_NOT_FOUND);
    CHECK(strstr(e.msg, "'french_24l'") != NULL, "%s", e.msg);
    CHECK(config_load_builtin(&c, "klingon", &e) == PTTS_ERR_NOT_FOUND);
    CHECK(STREQ(e.msg, "unknown language 'klingon' (available: english, english_2026-01, "
                       "english_2026-04, french_24l, german, german_24l, italian, italian_24l, "
                       "portuguese, portuguese_24l, spanish, spanish_24l)"),
          "%s", e.msg);
    config_free(&c);
}

static void check_fixtures(void) {
    ptts_config c;
    ptts_err e = {0};
    char want[4096];
    CHECK(config_load_file(&c, fixture("models/tiny/config.yaml"), &e) == PTTS_OK, "%s", e.msg);
    snprintf(want, sizeof want, "%s", fixture("models/tiny/model.safetensors"));
    CHECK(c.weights_path.kind == CFG_PATH_LOCAL && STREQ(c.weights_path.path, want), "%s",
          c.weights_path.path);
    snprintf(want, sizeof want, "%s", fixture("models/tiny/tokenizer.model"));
    CHECK(c.flow_lm.lookup_table.tokenizer_path.kind == CFG_PATH_LOCAL &&
          STREQ(c.flow_lm.lookup_table.tokenizer_path.path, want));
    CHECK(c.weights_path_without_voice_cloning.kind == CFG_PATH_NONE && !c.name);
    CHECK(!c.pad_with_spaces_for_short_inputs && !c.remove_semicolons &&
          c.model_recommended_frames_after_eos == -1 && c.flow_lm.insert_bos_before_voice);
    CHECK(c.flow_lm.flow.depth == 2 && c.flow_lm.flow.dim == 32);
    CHECK(c.flow_lm.transformer.d_model == 64 && c.flow_lm.transformer.num_heads == 4 &&
          c.flow_lm.transformer.num_layers == 2 && c.flow_lm.lookup_table.n_bins == 4000);
    CHECK(c.mimi.inner_dim == 32 && c.mimi.outer_dim == 64 && c.mimi.seanet.n_filters == 8 &&
          c.mimi.seanet.n_residual_layers == 1 && c.mimi.transformer.context == 40 &&
          c.mimi.transformer.dim_feedforward == 128 && c.mimi.quantizer.output_dimension == 64);
    config_free(&c);

    CHECK(config_load_file(&c, fixture("models/tiny-v1/config.yaml"), &e) == PTTS_OK, "%s", e.msg);
    CHECK(c.pad_with_spaces_for_short_inputs == 1 && c.remove_semicolons == 1 &&
          c.model_recommended_frames_after_eos == 5 && !c.flow_lm.insert_bos_before_voice);
    CHECK(c.mimi.inner_dim == 64 && c.mimi.seanet.n_residual_layers == 2);
    config_free(&c);

    CHECK(config_load_file(&c, fixture("models/none/config.yaml"), &e) == PTTS_ERR_IO);
    CHECK(strstr(e.msg, "No such file") != NULL, "%s", e.msg);
    config_free(&c);
}

/* The tiny config with the first occurrence of `from` replaced by `to`. */
static char *mutate(const char *base, const char *from, const char *to) {
    const char *at = strstr(base, from);
    if (!at) return NULL;
    size_t nb = strlen(base), nf = strlen(from), nt = strlen(to);
    char *s = malloc(nb - nf + nt + 1);
    if (!s) return NULL;
    size_t k = (size_t)(at - base);
    memcpy(s, base, k);
    memcpy(s + k, to, nt);
    memcpy(s + k + nt, at + nf, nb - k - nf + 1);
    return s;
}

static const struct {
    const char *from, *to;
    int code;
    const char *msg; /* whole message, or its start when it ends with '*' */
} bad[] = {
    {"flow_lm:\n", "flow_lm:\n  bogus: 1\n", PTTS_ERR_CONFIG,
     "flow_lm.bogus: unknown key (line 8)"},
    {"remove_semicolons: false\n", "default_temperature: 0.3\n", PTTS_ERR_CONFIG,
     "default_temperature: unknown key (line 5)"},
    {"    num_heads: 4\n", "", PTTS_ERR_CONFIG, "flow_lm.transformer.num_heads: missing"},
    {"    tokenizer_path: tokenizer.model\n", "", PTTS_ERR_CONFIG,
     "flow_lm.lookup_table.tokenizer_path: missing"},
    {"  quantizer:\n    dimension: 32\n    output_dimension: 64\n", "", PTTS_ERR_CONFIG,
     "mimi.quantizer: missing"},
    {"num_layers: 2", "num_layers: two", PTTS_ERR_CONFIG,
     "flow_lm.transformer.num_layers: expected an integer, got 'two' (line 18)"},
    {"d_model: 64", "d_model: \"64\"", PTTS_ERR_CONFIG,
     "flow_lm.transformer.d_model: expected an integer, got the string \"64\" (line 14)"},
    {"d_model: 64", "d_model: 64.0", PTTS_ERR_CONFIG,
     "flow_lm.transformer.d_model: expected an integer, got '64.0' (line 14)"},
    {"d_model: 64", "d_model:", PTTS_ERR_CONFIG,
     "flow_lm.transformer.d_model: expected an integer, got null (line 14)"},
    {"d_model: 64", "d_model: [64]", PTTS_ERR_CONFIG,
     "flow_lm.transformer.d_model: expected an integer, got a list (line 14)"},
    {"d_model: 64", "d_model: 99999999999", PTTS_ERR_CONFIG,
     "flow_lm.transformer.d_model: 99999999999 is out of range [1, 16777216] (line 14)"},
    {"remove_semicolons: false", "remove_semicolons: 3", PTTS_ERR_CONFIG,
     "remove_semicolons: expected true or false, got '3' (line 5)"},
    {"dtype: float32", "dtype: 32", PTTS_ERR_CONFIG,
     "flow_lm.dtype: expected a string, got '32' (line 9)"},
    {"dtype: float32", "dtype: float64", PTTS_ERR_CONFIG,
     "flow_lm.dtype: unknown dtype 'float64' (float32, float16 or bfloat16)"},
    {"frame_rate: 12.5", "frame_rate: fast", PTTS_ERR_CONFIG,
     "mimi.frame_rate: expected a number, got 'fast' (line 30)"},
    {"frame_rate: 12.5", "frame_rate: -12.5", PTTS_ERR_CONFIG,
     "mimi.frame_rate: -12.5 must be positive (line 30)"},
    {"frame_rate: 12.5", "frame_rate: 12.3", PTTS_ERR_CONFIG,
     "mimi.frame_rate: 12.3 does not divide the codec rate 200 Hz (sample_rate / product of "
     "ratios) into whole steps"},
    {"model_recommended_frames_after_eos: null", "model_recommended_frames_after_eos: -3",
     PTTS_ERR_CONFIG,
     "model_recommended_frames_after_eos: -3 is out of range [0, 16777216] (line 6)"},
    {"flow_lm:\n", "flow_lm: [\n", PTTS_ERR_CONFIG, "invalid YAML at line *"},
    {"  dtype: float32\n  flow:", "  dtype: float32\n flow:", PTTS_ERR_CONFIG,
     "invalid YAML at line *"},
    {"    - 5\n", "    - 0\n", PTTS_ERR_CONFIG,
     "mimi.seanet.ratios[1]: 0 is out of range [1, 16777216] (line 38)"},
    {"    - 6\n", "    - 7\n", PTTS_ERR_CONFIG,
     "mimi.seanet.ratios: their product (the hop) does not divide mimi.sample_rate 24000"},
    {"    - 5\n", "    - x\n", PTTS_ERR_CONFIG,
     "mimi.seanet.ratios[1]: expected an integer, got 'x' (line 38)"},
    {"    ratios:\n    - 6\n    - 5\n    - 4\n", "    ratios: 120\n", PTTS_ERR_CONFIG,
     "mimi.seanet.ratios: expected a list of integers, got '120' (line 36)"},
    {"    ratios:\n    - 6\n    - 5\n    - 4\n", "    ratios: []\n", PTTS_ERR_CONFIG,
     "mimi.seanet.ratios: expected 1 to 8 values, got 0 (line 36)"},
    {"    num_heads: 4\n", "    num_heads: 5\n", PTTS_ERR_CONFIG,
     "flow_lm.transformer.d_model: 64 is not a multiple of num_heads 5"},
    {"    num_heads: 4\n", "    num_heads: 64\n", PTTS_ERR_CONFIG,
     "flow_lm.transformer: head size d_model/num_heads = 1 must be even"},
    {"    dim: 64\n    n_bins", "    dim: 32\n    n_bins", PTTS_ERR_CONFIG,
     "flow_lm.lookup_table.dim: 32 differs from flow_lm.transformer.d_model 64"},
    {"tokenizer: sentencepiece", "tokenizer: bpe", PTTS_ERR_UNSUPPORTED,
     "flow_lm.lookup_table.tokenizer: 'bpe' is not supported (sentencepiece)"},
    {"  channels: 1\n", "  channels: 2\n", PTTS_ERR_UNSUPPORTED,
     "mimi.channels: 2 channels are not supported (mono only)"},
    {"pad_mode: constant", "pad_mode: reflect", PTTS_ERR_CONFIG,
     "mimi.seanet.pad_mode: 'reflect' is not constant or replicate"},
    {"    output_dimensions:\n    - 64\n", "    output_dimensions: [64, 64]\n", PTTS_ERR_CONFIG,
     "mimi.transformer.output_dimensions: expected one entry, equal to mimi.seanet.dimension 64"},
    {"    output_dimension: 64", "    output_dimension: 32", PTTS_ERR_CONFIG,
     "mimi.quantizer.output_dimension: 32 differs from mimi.outer_dim 64"},
    {"flow_lm:\n  insert_bos_before_voice: true\n",
     "flow_lm:\n  insert_bos_before_voice: true\n  insert_bos_before_voice: false\n",
     PTTS_ERR_CONFIG, "flow_lm.insert_bos_before_voice: repeated key (line 9)"},
    {"weights_path: model.safetensors", "weights_path: hf://kyutai/model.safetensors",
     PTTS_ERR_CONFIG,
     "weights_path: malformed URL 'hf://kyutai/model.safetensors' (expected "
     "hf://owner/repo/file[@revision]) (line 3)"},
    {"weights_path: model.safetensors", "weights_path: ''", PTTS_ERR_CONFIG,
     "weights_path: empty path (line 3)"},
    {"  flow:\n    depth: 2\n    dim: 32\n", "  flow: 3\n", PTTS_ERR_CONFIG,
     "flow_lm.flow: expected a mapping, got '3' (line 10)"},
    {"# Random", "[1]: 2\n# Random", PTTS_ERR_CONFIG, "config: a key is not a string (line 1)"},
    {"    output_dimension: 64\n", "    output_dimension: 64\n---\nb: 2\n", PTTS_ERR_CONFIG,
     "expected a single YAML document"},
};

static void check_errors(void) {
    char *base = read_file(fixture("models/tiny/config.yaml"), NULL);
    CHECK(base != NULL, "cannot read the tiny config");
    if (!base) return;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *yaml = mutate(base, bad[i].from, bad[i].to);
        CHECK(yaml != NULL, "case %zu: '%s' not in the config", i, bad[i].from);
        if (!yaml) continue;
        ptts_config c;
        ptts_err e = {0};
        int rc = config_load_string(&c, yaml, strlen(yaml), "dir", &e);
        size_t n = strlen(bad[i].msg);
        int prefix = bad[i].msg[n - 1] == '*';
        CHECK(rc == bad[i].code, "case %zu: status %d, message: %s", i, rc, e.msg);
        CHECK(prefix ? !strncmp(e.msg, bad[i].msg, n - 1) : !strcmp(e.msg, bad[i].msg),
              "case %zu:\n  got  %s\n  want %s", i, e.msg, bad[i].msg);
        config_free(&c);
        free(yaml);
    }

    /* Other well-formed variants. */
    ptts_config c;
    ptts_err e = {0};
    const char *empty[] = {"", "# only a comment\n", "---\n"};
    for (size_t i = 0; i < 3; i++) {
        CHECK(config_load_string(&c, empty[i], strlen(empty[i]), NULL, &e) == PTTS_ERR_CONFIG);
        CHECK(STREQ(e.msg, "the config is empty"), "%s", e.msg);
        config_free(&c);
    }
    char deep[100001];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = 0;
    CHECK(config_load_string(&c, deep, strlen(deep), NULL, &e) == PTTS_ERR_CONFIG);
    CHECK(STREQ(e.msg, "nested more than 32 levels deep (line 1)"), "%s", e.msg);
    config_free(&c);
    CHECK(config_load_string(&c, "- 1\n", 4, NULL, &e) == PTTS_ERR_CONFIG);
    CHECK(STREQ(e.msg, "config: expected a mapping, got a list (line 1)"), "%s", e.msg);
    config_free(&c);

    char *yaml = mutate(base, "weights_path: model.safetensors",
                        "weights_path: https://example.com/m.safetensors\n"
                        "weights_path_without_voice_cloning: /abs/open.safetensors");
    CHECK(yaml && config_load_string(&c, yaml, strlen(yaml), "some/dir", &e) == PTTS_OK, "%s",
          e.msg);
    CHECK(c.weights_path.kind == CFG_PATH_HTTP &&
          STREQ(c.weights_path.path, "https://example.com/m.safetensors"));
    CHECK(c.weights_path_without_voice_cloning.kind == CFG_PATH_LOCAL &&
          STREQ(c.weights_path_without_voice_cloning.path, "/abs/open.safetensors"));
    CHECK(STREQ(c.flow_lm.lookup_table.tokenizer_path.path, "some/dir/tokenizer.model"));
    config_free(&c);
    free(yaml);

    /* No base folder: relative paths kept; YAML 1.1 booleans, flow style, aliases. */
    yaml = mutate(base, "pad_with_spaces_for_short_inputs: false\nremove_semicolons: false",
                  "pad_with_spaces_for_short_inputs: yes\nremove_semicolons: On");
    char *y2 = yaml ? mutate(yaml, "  flow:\n    depth: 2\n    dim: 32\n",
                             "  flow: {depth: &two 2, dim: 32}\n")
                    : NULL;
    char *y3 = y2 ? mutate(y2, "    num_layers: 2\n", "    num_layers: *two\n") : NULL;
    CHECK(y3 && config_load_string(&c, y3, strlen(y3), NULL, &e) == PTTS_OK, "%s", e.msg);
    CHECK(c.pad_with_spaces_for_short_inputs == 1 && c.remove_semicolons == 1);
    CHECK(c.flow_lm.flow.depth == 2 && c.flow_lm.flow.dim == 32 &&
          c.flow_lm.transformer.num_layers == 2);
    CHECK(STREQ(c.weights_path.path, "model.safetensors"));
    config_free(&c);
    free(yaml);
    free(y2);
    free(y3);
    free(base);
}

int main(void) {
    check_released();
    check_english();
    check_fixtures();
    check_errors();
    TEST_END();
}
