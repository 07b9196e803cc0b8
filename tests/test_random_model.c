/* Random models (ptts_debug_random_model): the tensor list of the released configs against
 * the real checkpoints' lists, and of the toy configs against their upstream checkpoints;
 * a written toy model loads, speaks through the public API at a sane level, is the same for
 * the same seed, stores bf16/f16 as the rounded f32 values; bad requests are refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/random_model.h"
#include "io/safetensors.h"
#include "pocket_tts.h"
#include "test.h"

/* The plan of a released config formatted as the reference lists are:
 * "name\t[d0, d1]\tcount" lines, then "# total parameters: N". */
static char *plan_listing(const char *language) {
    ptts_config c;
    rm_plan p = {0};
    ptts_err e = {0};
    char *out = NULL;
    int rc = config_load_builtin(&c, language, &e);
    if (!rc) rc = rm_plan_build(&p, &c, &e);
    CHECK(rc == 0, "%s: %s", language, e.msg);
    if (!rc) {
        size_t cap = p.n * 128 + 64, n = 0;
        int64_t total = 0;
        out = malloc(cap);
        for (size_t i = 0; i < p.n; i++) {
            const rm_tensor *t = &p.v[i];
            n += (size_t)snprintf(out + n, cap - n, "%s\t[", t->name);
            for (int d = 0; d < t->ndim; d++)
                n += (size_t)snprintf(out + n, cap - n, "%s%lld", d ? ", " : "",
                                      (long long)t->shape[d]);
            n += (size_t)snprintf(out + n, cap - n, "]\t%lld\n", (long long)t->numel);
            total += t->numel;
        }
        snprintf(out + n, cap - n, "# total parameters: %lld\n", (long long)total);
    }
    rm_plan_free(&p);
    config_free(&c);
    return out;
}

static void check_reference_lists(void) {
    static const char *const langs[] = {"english", "english_2026-01", "french_24l"};
    for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "reference/%s.txt", langs[i]);
        char *ref = read_file(fixture(rel), NULL), *got = plan_listing(langs[i]);
        CHECK(ref != NULL, "cannot read %s", rel);
        if (ref && got) {
            const char *body = strchr(ref, '\n'); /* skip the title comment */
            body = body ? body + 1 : ref;
            int same = !strcmp(body, got);
            CHECK(same, "%s: the tensor list differs from %s", langs[i], rel);
            if (!same) { /* name the first differing line */
                const char *a = body, *b = got;
                while (*a && *a == *b)
                    a++, b++;
                while (a > body && a[-1] != '\n')
                    a--, b--;
                fprintf(stderr, "  want: %.100s\n  got:  %.100s\n", a, b);
            }
        }
        free(ref);
        free(got);
    }
}

/* Sizes whose products would overflow are refused, not computed. */
static void check_too_large(void) {
    ptts_config c;
    rm_plan p;
    ptts_err e = {0};
    CHECK(config_load_file(&c, fixture("models/tiny/config.yaml"), &e) == 0, "%s", e.msg);
    c.flow_lm.transformer.d_model = c.flow_lm.lookup_table.dim = 1 << 26;
    CHECK(rm_plan_build(&p, &c, &e) == PTTS_ERR_CONFIG && strstr(e.msg, "too large"), "%s", e.msg);
    rm_plan_free(&p);
    config_free(&c);
}

static void check_values(void) {
    rm_tensor t = {.name = "flow_lm.flow_net.time_embed.0.freqs",
                   .ndim = 1,
                   .shape = {128},
                   .numel = 128,
                   .fill = RM_FREQS};
    float f[128];
    rm_values(&t, 1, f);
    CHECK(f[0] == 1.0f && f[64] == (float)0.01 && f[127] == (float)exp(-log(10000.0) * 127 / 128),
          "freqs %.9g %.9g %.9g", f[0], f[64], f[127]);

    rm_tensor n = {.name = "a",
                   .ndim = 1,
                   .shape = {20000},
                   .numel = 20000,
                   .fill = RM_NORMAL,
                   .mean = 1,
                   .std = 0.5f};
    float *a = malloc(20000 * sizeof *a), *b = malloc(20000 * sizeof *b);
    rm_values(&n, 7, a);
    double s = 0, s2 = 0;
    for (int i = 0; i < 20000; i++)
        s += a[i], s2 += (double)a[i] * a[i];
    double mean = s / 20000, sd = sqrt(s2 / 20000 - mean * mean);
    CHECK(fabs(mean - 1) < 0.02 && fabs(sd - 0.5) < 0.02, "mean %g std %g", mean, sd);
    rm_values(&n, 7, b);
    CHECK(!memcmp(a, b, 20000 * sizeof *a), "same seed and name, other values");
    rm_values(&n, 8, b);
    CHECK(a[0] != b[0] && a[1] != b[1], "another seed, same values");
    snprintf(n.name, sizeof n.name, "b");
    rm_values(&n, 7, b);
    CHECK(a[0] != b[0] && a[1] != b[1], "another name, same values");
    n.std = 0;
    n.mean = 0.01f;
    rm_values(&n, 7, a);
    CHECK(a[0] == 0.01f && a[19999] == 0.01f, "a constant tensor is not constant");
    free(a);
    free(b);
}

/* Every tensor of the generated checkpoint exists in the upstream one with the same shape,
 * and the counts agree. */
static void check_same_layout(const char *generated, const char *upstream) {
    st_file *g = NULL, *u = NULL;
    ptts_err e = {0};
    CHECK(st_open(&g, generated, &e) == 0 && st_open(&u, upstream, &e) == 0, "%s", e.msg);
    if (g && u) {
        CHECK(st_count(g) == st_count(u), "%zu tensors, upstream %zu", st_count(g), st_count(u));
        int bad = 0;
        for (size_t i = 0; i < st_count(g); i++) {
            const st_tensor *t = st_at(g, i), *r = st_find(u, t->name);
            if (!r || r->ndim != t->ndim || memcmp(r->shape, t->shape, sizeof(int64_t) * t->ndim)) {
                if (!bad++) fprintf(stderr, "  not in the upstream layout: %s\n", t->name);
            }
        }
        CHECK(!bad, "%d tensors differ from %s", bad, upstream);
    }
    st_close(g);
    st_close(u);
}

static void check_distributions(const char *path) {
    st_file *f = NULL;
    ptts_err e = {0};
    if (st_open(&f, path, &e)) return;
    size_t n;
    float *w = tensor_f32(f, "flow_lm.transformer.layers.0.linear1.weight", &n); /* [256, 64] */
    double s2 = 0;
    for (size_t i = 0; w && i < n; i++)
        s2 += (double)w[i] * w[i];
    CHECK(w && fabs(sqrt(s2 / n) - 1 / 8.0) < 0.01, "linear1 std %g, want 1/sqrt(64)",
          sqrt(s2 / n));
    free(w);
    float *b = tensor_f32(f, "flow_lm.out_eos.bias", NULL),
          *ls = tensor_f32(f, "mimi.decoder_transformer.transformer.layers.1.layer_scale_2.scale",
                           &n);
    CHECK(b && b[0] == -10.0f, "out_eos.bias %g", b ? b[0] : NAN);
    CHECK(ls && ls[0] == 0.01f && ls[n - 1] == 0.01f, "layer scale %g (config 0.01)",
          ls ? ls[0] : NAN);
    float *g = tensor_f32(f, "flow_lm.out_norm.weight", &n),
          *sd = tensor_f32(f, "flow_lm.emb_std", NULL);
    double m = 0;
    for (size_t i = 0; g && i < n; i++)
        m += g[i];
    CHECK(g && fabs(m / n - 1) < 0.02, "norm weight mean %g", m / n);
    CHECK(sd && sd[0] > 0.8f && sd[0] < 1.2f, "emb_std %g", sd ? sd[0] : NAN);
    free(b);
    free(ls);
    free(g);
    free(sd);
    st_close(f);
}

/* The same tensor in f32 and a 16-bit dtype: the 16-bit one is the f32 one rounded. */
static void check_dtype(const char *f32_path, const char *h_path, double rel, double abs_tol) {
    st_file *a = NULL, *b = NULL;
    ptts_err e = {0};
    CHECK(st_open(&a, f32_path, &e) == 0 && st_open(&b, h_path, &e) == 0, "%s", e.msg);
    if (!a || !b) goto done;
    const char *name = "flow_lm.flow_net.res_blocks.0.mlp.0.weight";
    const st_tensor *t = st_find(b, name);
    CHECK(t && (t->dtype == ST_BF16 || t->dtype == ST_F16), "%s is not 16-bit", h_path);
    size_t n = 0, m = 0;
    float *x = tensor_f32(a, name, &n), *y = tensor_f32(b, name, &m);
    int bad = !x || !y || n != m;
    for (size_t i = 0; !bad && i < n; i++)
        bad = !(fabs(x[i] - y[i]) <= rel * fabs(x[i]) + abs_tol);
    CHECK(!bad, "%s: 16-bit values are not the rounded f32 ones", h_path);
    free(x);
    free(y);
done:
    st_close(a);
    st_close(b);
}

static int files_equal(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    char *x = read_file(a, &na), *y = read_file(b, &nb);
    int same = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

/* Loads the model of dir and speaks "Hello." at temperature 0 with the test voice. */
static void check_speaks(const char *dir) {
    char cfg[512], err[512];
    snprintf(cfg, sizeof cfg, "%s/config.yaml", dir);
    ptts_model_options o = ptts_model_default_options();
    o.config_path = cfg;
    o.offline = 1;
    ptts_model *m = NULL;
    ptts_voice *v = NULL;
    ptts_gen *g = NULL;
    CHECK(ptts_model_open(&m, &o, err, sizeof err) == 0, "%s", err);
    if (!m) return;
    CHECK(ptts_voice_load(m, fixture("golden/tiny/voice.wav"), 0, &v, err, sizeof err) == 0, "%s",
          err);
    CHECK(ptts_gen_new(m, &g, err, sizeof err) == 0, "%s", err);
    if (v && g) {
        ptts_gen_params p = ptts_gen_default_params();
        p.temperature = 0;
        p.two_threads = 0;
        float *pcm = NULL;
        size_t n = 0;
        int rc = ptts_gen_run_all(g, v, "Hello.", &p, &pcm, &n);
        CHECK(rc == 0, "%s", ptts_gen_errmsg(g));
        ptts_gen_stats st;
        ptts_gen_stats_get(g, &st);
        /* No EOS: "Hello." (2 tokens) runs to its limit ceil((2/3 + 2) * 12.5) = 34 frames. */
        CHECK(st.n_frames == 34, "%d frames", st.n_frames);
        CHECK(n == (size_t)st.n_frames * 1920, "%zu samples for %d frames", n, st.n_frames);
        double s2 = 0, peak = 0;
        int finite = 1;
        for (size_t i = 0; i < n; i++) {
            finite &= isfinite(pcm[i]);
            s2 += (double)pcm[i] * pcm[i];
            if (fabs(pcm[i]) > peak) peak = fabs(pcm[i]);
        }
        double rms = n ? sqrt(s2 / n) : 0;
        CHECK(finite && rms > 1e-3 && rms < 0.5 && peak < 4, "audio rms %g peak %g", rms, peak);
        ptts_free(pcm);
    }
    ptts_gen_free(g);
    ptts_voice_free(v);
    ptts_model_free(m);
}

static void remove_model(const char *dir) {
    static const char *const files[] = {"config.yaml", "model.safetensors", "tokenizer.model"};
    char path[512];
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void check_written_models(void) {
    char root[] = "/tmp/ptts_random_model_XXXXXX";
    CHECK(mkdtemp(root) != NULL, "mkdtemp");
    char a[600], b[600], c[600], h[600], path[700], path2[700], err[512];
    snprintf(a, sizeof a, "%s/a", root);
    snprintf(b, sizeof b, "%s/b/nested", root); /* created with its parent */
    snprintf(c, sizeof c, "%s/c", root);
    snprintf(h, sizeof h, "%s/h", root);
    char tiny[512];
    snprintf(tiny, sizeof tiny, "%s", fixture("models/tiny/config.yaml"));

    int rc = ptts_debug_random_model(tiny, NULL, a, NULL, 42, PTTS_DTYPE_F32, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    snprintf(path, sizeof path, "%s/model.safetensors", a);
    check_same_layout(path, fixture("models/tiny/model.safetensors"));
    check_distributions(path);
    snprintf(path, sizeof path, "%s/config.yaml", a);
    char *yaml = read_file(path, NULL);
    CHECK(yaml && strstr(yaml, "weights_path: model.safetensors\n") &&
              strstr(yaml, "tokenizer_path: tokenizer.model\n") && strstr(yaml, "n_bins: 4000\n"),
          "config.yaml:\n%s", yaml ? yaml : "(none)");
    free(yaml);
    snprintf(path, sizeof path, "%s/tokenizer.model", a);
    CHECK(files_equal(path, fixture("models/tiny/tokenizer.model")), "tokenizer not copied");
    check_speaks(a);

    /* Same seed: the same bytes (nested output folder created); another seed: other bytes. */
    rc = ptts_debug_random_model(tiny, NULL, b, NULL, 42, PTTS_DTYPE_F32, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    snprintf(path, sizeof path, "%s/model.safetensors", a);
    snprintf(path2, sizeof path2, "%s/model.safetensors", b);
    CHECK(files_equal(path, path2), "same seed, different checkpoints");
    rc = ptts_debug_random_model(tiny, NULL, c, NULL, 43, PTTS_DTYPE_F32, err, sizeof err);
    snprintf(path2, sizeof path2, "%s/model.safetensors", c);
    CHECK(rc == 0 && !files_equal(path, path2), "another seed, same checkpoint: %s", err);

    /* Regenerated in place from its own config: the copies onto themselves survive. */
    snprintf(path, sizeof path, "%s/config.yaml", c);
    rc = ptts_debug_random_model(path, NULL, c, NULL, 42, PTTS_DTYPE_F32, err, sizeof err);
    CHECK(rc == 0, "in place: %s", err);
    snprintf(path, sizeof path, "%s/model.safetensors", a);
    CHECK(files_equal(path, path2), "regenerated in place with seed 42: not the seed-42 model");
    snprintf(path, sizeof path, "%s/tokenizer.model", c);
    CHECK(files_equal(path, fixture("models/tiny/tokenizer.model")), "tokenizer lost in place");

    /* 16-bit dtypes hold the f32 values rounded (bf16: 8 bits, f16: 11 bits, subnormals). */
    snprintf(path, sizeof path, "%s/model.safetensors", a);
    snprintf(path2, sizeof path2, "%s/model.safetensors", h);
    rc = ptts_debug_random_model(tiny, NULL, h, NULL, 42, PTTS_DTYPE_BF16, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    check_dtype(path, path2, 1.0 / 256, 0);
    rc = ptts_debug_random_model(tiny, NULL, h, NULL, 42, PTTS_DTYPE_F16, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    check_dtype(path, path2, 1.0 / 2048, 0x1p-25);
    check_speaks(h);

    /* The other structure (no BOS before the voice, two residual layers per stage). */
    rc = ptts_debug_random_model(fixture("models/tiny-v1/config.yaml"), NULL, c, NULL, 1,
                                 PTTS_DTYPE_F32, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    snprintf(path, sizeof path, "%s/model.safetensors", c);
    check_same_layout(path, fixture("models/tiny-v1/model.safetensors"));

    /* Refusals, with nothing written. */
    snprintf(path, sizeof path, "%s/refused", root);
    rc = ptts_debug_random_model(tiny, NULL, path, fixture("tokenizers/bpe1000.model"), 1,
                                 PTTS_DTYPE_F32, err, sizeof err);
    CHECK(rc == PTTS_ERR_CONFIG && strstr(err, "n_bins is 4000"), "%d %s", rc, err);
    rc = ptts_debug_random_model(NULL, "english", path, NULL, 1, PTTS_DTYPE_F32, err, sizeof err);
    CHECK(rc == PTTS_ERR_UNSUPPORTED && strstr(err, "not a local file"), "%d %s", rc, err);
    rc = ptts_debug_random_model(NULL, "klingon", path, NULL, 1, PTTS_DTYPE_F32, err, sizeof err);
    CHECK(rc == PTTS_ERR_NOT_FOUND, "%d %s", rc, err);
    rc = ptts_debug_random_model(tiny, NULL, path, NULL, 1, 7, err, sizeof err);
    CHECK(rc == PTTS_ERR_INVALID_ARG, "%d %s", rc, err);
    rc = ptts_debug_random_model(tiny, NULL, NULL, NULL, 1, PTTS_DTYPE_F32, err, sizeof err);
    CHECK(rc == PTTS_ERR_INVALID_ARG, "%d %s", rc, err);
    CHECK(access(path, F_OK) != 0, "a refused request created %s", path);
    snprintf(path, sizeof path, "%s/tokenizer.model/x", a); /* a file where a folder must go */
    rc = ptts_debug_random_model(tiny, NULL, path, NULL, 1, PTTS_DTYPE_F32, err, sizeof err);
    CHECK(rc == PTTS_ERR_IO, "%d %s", rc, err);

    remove_model(a);
    remove_model(b);
    snprintf(b, sizeof b, "%s/b", root);
    rmdir(b);
    remove_model(c);
    remove_model(h);
    CHECK(rmdir(root) == 0, "leftover files in %s", root);
}

int main(void) {
    check_reference_lists();
    check_values();
    check_too_large();
    check_written_models();
    TEST_END();
}
