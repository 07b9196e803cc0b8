/* FlowLM against the golden fixtures of both tiny models: embedding table, flow head and
 * LSD decode, backbone steps, speaker projection and the voice-state KV cache; plus the
 * transformer's ring cache, state growth and checkpoint shape errors. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/flowlm.h"
#include "test.h"

static const double TOL = 1e-4; /* a correct port lands near 1e-5 */

typedef struct model_case {
    const char *name;
    flowlm_dims dims; /* numbers of models/<name>/config.yaml */
} model_case;

static const model_case CASES[] = {
    {"tiny",
     {.d_model = 64,
      .num_heads = 4,
      .num_layers = 2,
      .hidden_scale = 4,
      .max_period = 10000,
      .ldim = 32,
      .flow_dim = 32,
      .flow_depth = 2,
      .n_bins = 4000,
      .inner_dim = 32,
      .insert_bos_before_voice = 1}},
    {"tiny-v1",
     {.d_model = 64,
      .num_heads = 4,
      .num_layers = 2,
      .hidden_scale = 4,
      .max_period = 10000,
      .ldim = 32,
      .flow_dim = 32,
      .flow_depth = 2,
      .n_bins = 4000,
      .inner_dim = 64,
      .insert_bos_before_voice = 0}},
};

static st_file *open_fixture(const char *model, const char *file) {
    char rel[256];
    snprintf(rel, sizeof rel, "golden/%s/%s", model, file);
    st_file *f = NULL;
    ptts_err e = {0};
    CHECK(st_open(&f, fixture(rel), &e) == PTTS_OK, "%s: %s", rel, e.msg);
    return f;
}

static void test_lut(const flowlm *m, const char *model) {
    st_file *f = open_fixture(model, "lut.safetensors");
    const st_tensor *ids = f ? st_find(f, "ids") : NULL;
    size_t n = 0;
    float *want = tensor_f32(f, "embeddings", &n);
    if (ids && want) {
        int64_t *ids64 = malloc((size_t)ids->numel * sizeof *ids64);
        int *idv = malloc((size_t)ids->numel * sizeof *idv);
        float *got = malloc(n * sizeof *got);
        ptts_err e = {0};
        CHECK(st_to_i64(ids, ids64, &e) == PTTS_OK, "%s", e.msg);
        for (int64_t i = 0; i < ids->numel; i++)
            idv[i] = (int)ids64[i];
        CHECK(idv[ids->numel - 1] == m->dims.n_bins, "the padding row is covered");
        CHECK(flowlm_embed(m, idv, (int)ids->numel, got, &e) == PTTS_OK, "%s", e.msg);
        double err = max_abs_diff(got, want, n);
        printf("%s lut: max err %.3g\n", model, err);
        CHECK(err == 0, "%s embeddings differ by %g", model, err);
        int bad = m->dims.n_bins + 1;
        CHECK(flowlm_embed(m, &bad, 1, got, &e) == PTTS_ERR_INVALID_ARG && strstr(e.msg, "4001"),
              "out-of-range id refused: %s", e.msg);
        free(ids64);
        free(idv);
        free(got);
    }
    free(want);
    st_close(f);
}

static void test_flow_net(const flowlm *m, flowlm_state *s, const char *model) {
    st_file *f = open_fixture(model, "flow_net.safetensors");
    float *c = tensor_f32(f, "c", NULL), *sv = tensor_f32(f, "s", NULL),
          *tv = tensor_f32(f, "t", NULL);
    float *x = tensor_f32(f, "x", NULL), *want = tensor_f32(f, "flow_out", NULL);
    const char *lsd_names[3] = {"lsd1", "lsd2", "lsd4"};
    const int lsd_steps[3] = {1, 2, 4};
    float *lsd[3];
    for (int k = 0; k < 3; k++)
        lsd[k] = tensor_f32(f, lsd_names[k], NULL);
    const int d = m->dims.d_model, L = m->dims.ldim;
    if (c && sv && tv && x && want && lsd[0] && lsd[1] && lsd[2]) {
        double err = 0, lerr[3] = {0};
        float out[64], xx[64];
        for (int r = 0; r < 5; r++) {
            flow_net(&m->flow, &s->flow, c + r * d, sv[r], tv[r], x + r * L, out, NULL);
            double e1 = max_abs_diff(out, want + r * L, (size_t)L);
            err = isnan(e1) || e1 > err ? e1 : err;
            for (int k = 0; k < 3; k++) {
                memcpy(xx, x + r * L, (size_t)L * sizeof(float));
                flowlm_lsd(m, s, c + r * d, lsd_steps[k], xx);
                double e2 = max_abs_diff(xx, lsd[k] + r * L, (size_t)L);
                lerr[k] = isnan(e2) || e2 > lerr[k] ? e2 : lerr[k];
            }
        }
        printf("%s flow_net: max err %.3g; lsd1 %.3g lsd2 %.3g lsd4 %.3g\n", model, err, lerr[0],
               lerr[1], lerr[2]);
        CHECK(err <= TOL, "%s flow_out max err %g", model, err);
        for (int k = 0; k < 3; k++)
            CHECK(lerr[k] <= TOL, "%s %s max err %g", model, lsd_names[k], lerr[k]);
    }
    free(c);
    free(sv);
    free(tv);
    free(x);
    free(want);
    for (int k = 0; k < 3; k++)
        free(lsd[k]);
    st_close(f);
}

/* One prompt call, then one call per latent; max errors of hidden and eos_logit. */
static void run_steps(const flowlm *m, int max_t, const float *prompt, const float *latents,
                      const float *hidden, const float *eos, double *herr, double *eerr) {
    const int d = m->dims.d_model;
    flowlm_state s;
    ptts_err e = {0};
    *herr = *eerr = NAN;
    if (flowlm_state_init(&s, m, 32, max_t, &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    float h[64], logit;
    *herr = *eerr = 0;
    for (int i = 0; i < 25; i++) {
        int rc = i == 0 ? flowlm_forward(m, &s, prompt, 7, NULL, h, &logit, &e)
                        : flowlm_forward(m, &s, NULL, 0, latents + (i - 1) * m->dims.ldim, h,
                                         &logit, &e);
        CHECK(rc == PTTS_OK, "step %d: %s", i, e.msg);
        double a = max_abs_diff(h, hidden + i * d, (size_t)d), b = fabs(logit - eos[i]);
        *herr = isnan(a) || a > *herr ? a : *herr;
        *eerr = isnan(b) || b > *eerr ? b : *eerr;
    }
    CHECK(s.cache.len == 31, "cache holds %lld positions", (long long)s.cache.len);
    /* A call past the capacity fails and leaves the cache as it was. */
    CHECK(flowlm_forward(m, &s, prompt, 2, NULL, h, NULL, &e) == PTTS_ERR_INVALID_ARG &&
              s.cache.len == 31,
          "overflow refused: %s", e.msg);
    flowlm_state_free(&s);
}

static void test_steps(const flowlm *m, const char *model) {
    st_file *f = open_fixture(model, "flow_lm_steps.safetensors");
    float *prompt = tensor_f32(f, "prompt", NULL), *latents = tensor_f32(f, "latents", NULL);
    float *hidden = tensor_f32(f, "hidden", NULL), *eos = tensor_f32(f, "eos_logit", NULL);
    if (prompt && latents && hidden && eos) {
        CHECK(isnan(latents[0]), "row 0 is BOS");
        const int max_ts[2] = {8, 3}; /* whole prompt in one piece / in pieces of 3 */
        for (int k = 0; k < 2; k++) {
            double herr, eerr;
            run_steps(m, max_ts[k], prompt, latents, hidden, eos, &herr, &eerr);
            printf("%s flow_lm_steps (max_t %d): hidden max err %.3g, eos_logit max err %.3g\n",
                   model, max_ts[k], herr, eerr);
            CHECK(herr <= TOL, "%s hidden max err %g", model, herr);
            CHECK(eerr <= TOL, "%s eos_logit max err %g", model, eerr);
        }
    }
    free(prompt);
    free(latents);
    free(hidden);
    free(eos);
    st_close(f);
}

/* Speaker projection of the codec frames, then the voice state (SPEC 4.1): its KV cache
 * must equal voice_state.safetensors ([2,1,T,H,Dh] = keys then values, post-RoPE). Then
 * a state started from a copy of that cache continues exactly as the original. */
static void test_voice(const flowlm *m, const char *model) {
    const int d = m->dims.d_model;
    st_file *fe = open_fixture(model, "mimi_encode.safetensors");
    st_file *fv = open_fixture(model, "voice_state.safetensors");
    size_t nl = 0, nc = 0;
    float *lat = tensor_f32(fe, "latents", &nl), *cond = tensor_f32(fe, "conditioning", &nc);
    if (!lat || !cond || !fv) goto done;
    const int frames = (int)(nc / d);
    CHECK(nl == (size_t)frames * m->dims.inner_dim);
    int bos = m->bos_before_voice != NULL, n = frames + bos;
    float *in = malloc((size_t)n * d * sizeof(float));
    if (bos) memcpy(in, m->bos_before_voice, (size_t)d * sizeof(float));
    flowlm_speaker_proj(m, lat, frames, in + (size_t)bos * d, NULL);
    double perr = max_abs_diff(in + (size_t)bos * d, cond, nc);

    flowlm_state s, s2;
    ptts_err e = {0};
    CHECK(flowlm_state_init(&s, m, n + 2, 16, &e) == PTTS_OK, "%s", e.msg);
    CHECK(flowlm_forward(m, &s, in, n, NULL, NULL, NULL, &e) == PTTS_OK, "%s", e.msg);
    double kerr = 0;
    for (int l = 0; l < m->dims.num_layers; l++) {
        char name[128];
        snprintf(name, sizeof name, "transformer.layers.%d.self_attn/cache", l);
        size_t ncache = 0;
        float *want = tensor_f32(fv, name, &ncache);
        snprintf(name, sizeof name, "transformer.layers.%d.self_attn/offset", l);
        const st_tensor *off = st_find(fv, name);
        int64_t offset = -1;
        CHECK(off && st_to_i64(off, &offset, &e) == PTTS_OK && offset == n,
              "offset %lld, expected %d", (long long)offset, n);
        if (!want) continue;
        CHECK(ncache == 2 * (size_t)n * d, "cache of %zu values", ncache);
        const float *k = s.cache.k + (size_t)l * s.cache.cap * d;
        const float *v = s.cache.v + (size_t)l * s.cache.cap * d;
        double a = max_abs_diff(k, want, (size_t)n * d);
        double b = max_abs_diff(v, want + (size_t)n * d, (size_t)n * d);
        kerr = isnan(a) || a > kerr ? a : kerr;
        kerr = isnan(b) || b > kerr ? b : kerr;
        free(want);
    }
    printf("%s voice: speaker_proj max err %.3g, voice-state cache max err %.3g\n", model, perr,
           kerr);
    CHECK(perr <= TOL, "%s conditioning max err %g", model, perr);
    CHECK(kerr <= TOL, "%s voice cache max err %g", model, kerr);

    /* Copy into a smaller state (grows), then both run the same two calls. */
    CHECK(flowlm_state_init(&s2, m, 4, 2, &e) == PTTS_OK, "%s", e.msg);
    CHECK(flowlm_set_cache(&s2, m, &s.cache, &e) == PTTS_OK && s2.cache.len == n, "%s", e.msg);
    CHECK(flowlm_state_reserve(&s2, m, n + 2, &e) == PTTS_OK && s2.cache.len == n, "%s", e.msg);
    float h1[64], h2[64], l1, l2, nan_latent[32];
    for (int i = 0; i < 32; i++)
        nan_latent[i] = NAN;
    CHECK(flowlm_forward(m, &s, in, 1, nan_latent, h1, &l1, &e) == PTTS_OK, "%s", e.msg);
    CHECK(flowlm_forward(m, &s2, in, 1, nan_latent, h2, &l2, &e) == PTTS_OK, "%s", e.msg);
    CHECK(max_abs_diff(h1, h2, (size_t)d) == 0 && l1 == l2, "copied state diverges");
    flowlm_state_free(&s);
    flowlm_state_free(&s2);
    free(in);
done:
    free(lat);
    free(cond);
    st_close(fe);
    st_close(fv);
}

/* A ring cache of context - 1 + T slots gives the same outputs as a linear one, over
 * enough positions to wrap several times (the codec's decoder transformer). */
static void test_ring(const st_file *f) {
    tf m;
    tf_cache lin_c, ring_c;
    tf_scratch sc;
    ptts_err e = {0};
    const int T = 16, steps = 9, ctx = 40, d = 64;
    int rc =
        tf_load(&m, f, "mimi.decoder_transformer.transformer.", d, 4, 128, 2, 10000, ctx, 1, &e);
    CHECK(rc == PTTS_OK, "%s", e.msg);
    if (rc) return;
    CHECK(tf_cache_init(&lin_c, &m, T * steps, 0, &e) == PTTS_OK, "%s", e.msg);
    CHECK(tf_cache_init(&ring_c, &m, ctx - 1 + T, 1, &e) == PTTS_OK, "%s", e.msg);
    CHECK(tf_scratch_init(&sc, &m, T, T * steps, &e) == PTTS_OK, "%s", e.msg);
    float a[16 * 64], b[16 * 64];
    double err = 0;
    unsigned seed = 12345;
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < T * d; i++) {
            seed = seed * 1103515245u + 12345u;
            a[i] = b[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
        }
        CHECK(tf_forward(&m, &lin_c, &sc, a, T, NULL, &e) == PTTS_OK, "%s", e.msg);
        CHECK(tf_forward(&m, &ring_c, &sc, b, T, NULL, &e) == PTTS_OK, "%s", e.msg);
        double de = max_abs_diff(a, b, (size_t)T * d);
        err = isnan(de) || de > err ? de : err;
    }
    printf("ring vs linear cache: max err %.3g\n", err);
    CHECK(err == 0, "ring cache differs by %g", err);
    CHECK(tf_forward(&m, &ring_c, &sc, b, T + 1, NULL, &e) == PTTS_ERR_INVALID_ARG,
          "a call larger than the scratch is refused");
    tf_scratch_free(&sc);
    tf_cache_free(&lin_c);
    tf_cache_free(&ring_c);
    tf_free(&m);
}

enum edit { EDIT_SWAP_SHAPE, EDIT_DROP, EDIT_TO_BF16 };

/* A copy of the safetensors file at path with one edit: reverse the shape of `target`,
 * drop `target`, or store every F32 tensor as BF16 (round to nearest even). */
static st_file *edited_checkpoint(const char *path, enum edit ed, const char *target) {
    size_t len = 0;
    char *src = read_file(path, &len);
    uint64_t hlen = 0;
    unsigned char *od = malloc(len + 1); /* the new data section */
    if (src && len >= 8) memcpy(&hlen, src, 8);
    if (!src || !od || len < 8 || hlen > len - 8) {
        CHECK(0, "reading %s", path);
        free(src);
        free(od);
        return NULL;
    }
    cJSON *h = cJSON_ParseWithLength(src + 8, hlen);
    const unsigned char *data = (const unsigned char *)src + 8 + hlen;
    size_t used = 0;
    cJSON *drop = NULL;
    for (cJSON *t = h ? h->child : NULL; t; t = t->next) {
        if (!strcmp(t->string, "__metadata__")) continue;
        cJSON *off = cJSON_GetObjectItem(t, "data_offsets");
        size_t b = (size_t)cJSON_GetArrayItem(off, 0)->valuedouble;
        size_t n = (size_t)cJSON_GetArrayItem(off, 1)->valuedouble - b;
        int hit = !strcmp(t->string, target ? target : "");
        if (ed == EDIT_DROP && hit) drop = t;
        if (ed == EDIT_SWAP_SHAPE && hit) {
            cJSON *shape = cJSON_GetObjectItem(t, "shape"), *rev = cJSON_CreateArray();
            for (int i = cJSON_GetArraySize(shape) - 1; i >= 0; i--)
                cJSON_AddItemToArray(rev,
                                     cJSON_CreateNumber(cJSON_GetArrayItem(shape, i)->valuedouble));
            cJSON_ReplaceItemInObject(t, "shape", rev);
        }
        size_t start = used;
        if (ed == EDIT_TO_BF16 && !strcmp(cJSON_GetObjectItem(t, "dtype")->valuestring, "F32")) {
            for (size_t i = 0; i < n / 4; i++) {
                uint32_t u;
                memcpy(&u, data + b + 4 * i, 4);
                uint16_t v = (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
                memcpy(od + used, &v, 2);
                used += 2;
            }
            cJSON_ReplaceItemInObject(t, "dtype", cJSON_CreateString("BF16"));
        } else {
            memcpy(od + used, data + b, n);
            used += n;
        }
        cJSON_ReplaceItemInArray(off, 0, cJSON_CreateNumber((double)start));
        cJSON_ReplaceItemInArray(off, 1, cJSON_CreateNumber((double)used));
    }
    if (drop) cJSON_DeleteItemFromObject(h, drop->string);
    char *js = h ? cJSON_PrintUnformatted(h) : NULL;
    st_file *f = NULL;
    size_t jl = js ? strlen(js) : 0;
    unsigned char *img = js ? malloc(8 + jl + used) : NULL;
    if (img) {
        uint64_t l64 = jl;
        memcpy(img, &l64, 8);
        memcpy(img + 8, js, jl);
        memcpy(img + 8 + jl, od, used);
        ptts_err e = {0};
        CHECK(st_open_memory(&f, img, 8 + jl + used, &e) == PTTS_OK, "%s", e.msg);
    }
    CHECK(f != NULL, "building an edited copy of %s", path);
    free(js);
    cJSON_Delete(h);
    free(img);
    free(od);
    free(src);
    return f;
}

/* The load fails with an error naming `tensor`. */
static void expect_load_error(const st_file *f, const flowlm_dims *dims, const char *tensor,
                              const char *why) {
    flowlm m;
    ptts_err e = {0};
    int rc = f ? flowlm_load(&m, f, dims, &e) : PTTS_ERR_IO;
    CHECK(rc == PTTS_ERR_CONFIG && strstr(e.msg, tensor), "%s: rc %d, '%s'", why, rc, e.msg);
    if (rc == PTTS_OK) flowlm_free(&m);
}

static void test_errors(const char *path, const st_file *f, const flowlm_dims *dims) {
    const char *l2 = "flow_lm.transformer.layers.1.linear2.weight";
    st_file *g = edited_checkpoint(path, EDIT_SWAP_SHAPE, l2);
    expect_load_error(g, dims, l2, "transposed linear2");
    st_close(g);
    g = edited_checkpoint(path, EDIT_DROP, "flow_lm.flow_net.res_blocks.1.mlp.2.bias");
    expect_load_error(g, dims, "flow_lm.flow_net.res_blocks.1.mlp.2.bias", "missing bias");
    st_close(g);

    flowlm_dims bad = *dims;
    bad.n_bins = 3999;
    expect_load_error(f, &bad, "flow_lm.conditioner.embed.weight", "n_bins off by one");
    bad = *dims;
    bad.inner_dim = 48;
    expect_load_error(f, &bad, "flow_lm.speaker_proj_weight", "wrong inner_dim");
    bad = *dims;
    bad.hidden_scale = 2;
    expect_load_error(f, &bad, "flow_lm.transformer.layers.0.linear1.weight", "wrong FF width");
    bad = *dims;
    bad.flow_depth = 3;
    expect_load_error(f, &bad, "flow_lm.flow_net.res_blocks.2.", "too deep a flow head");
    if (!dims->insert_bos_before_voice) {
        bad = *dims;
        bad.insert_bos_before_voice = 1;
        expect_load_error(f, &bad, "flow_lm.bos_before_voice", "BOS before voice not stored");
    }
    bad = *dims;
    bad.num_heads = 5;
    expect_load_error(f, &bad, "heads=5", "heads not dividing d");
}

/* A BF16 copy loads and stays close to the F32 results (bf16 keeps 8 bits). */
static void test_bf16(const char *path, const flowlm_dims *dims, const char *model) {
    st_file *g = edited_checkpoint(path, EDIT_TO_BF16, NULL);
    st_file *f = open_fixture(model, "flow_lm_steps.safetensors");
    float *prompt = tensor_f32(f, "prompt", NULL), *hidden = tensor_f32(f, "hidden", NULL);
    flowlm m;
    flowlm_state s;
    ptts_err e = {0};
    if (g && prompt && hidden && flowlm_load(&m, g, dims, &e) == PTTS_OK) {
        float h[64];
        CHECK(flowlm_state_init(&s, &m, 8, 8, &e) == PTTS_OK, "%s", e.msg);
        CHECK(flowlm_forward(&m, &s, prompt, 7, NULL, h, NULL, &e) == PTTS_OK, "%s", e.msg);
        double r = rel_rms(h, hidden, 64);
        printf("%s bf16 weights: hidden[0] rel rms %.3g\n", model, r);
        CHECK(r < 0.05 && r > 0, "%s bf16 rel rms %g", model, r);
        flowlm_state_free(&s);
        flowlm_free(&m);
    } else {
        CHECK(0, "bf16 copy of %s: %s", model, e.msg);
    }
    free(prompt);
    free(hidden);
    st_close(f);
    st_close(g);
}

int main(void) {
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const model_case *mc = &CASES[i];
        char rel[256], path[4096];
        snprintf(rel, sizeof rel, "models/%s/model.safetensors", mc->name);
        snprintf(path, sizeof path, "%s", fixture(rel));
        st_file *f = NULL;
        flowlm m;
        flowlm_state s;
        ptts_err e = {0};
        CHECK(st_open(&f, path, &e) == PTTS_OK, "%s", e.msg);
        if (!f) continue;
        int rc = flowlm_load(&m, f, &mc->dims, &e);
        CHECK(rc == PTTS_OK, "%s: %s", mc->name, e.msg);
        if (rc == PTTS_OK) {
            CHECK((m.bos_before_voice != NULL) == mc->dims.insert_bos_before_voice);
            CHECK(flowlm_state_init(&s, &m, 8, 8, &e) == PTTS_OK, "%s", e.msg);
            test_lut(&m, mc->name);
            test_flow_net(&m, &s, mc->name);
            test_steps(&m, mc->name);
            test_voice(&m, mc->name);
            flowlm_state_free(&s);
            flowlm_free(&m);
        }
        test_errors(path, f, &mc->dims);
        test_bf16(path, &mc->dims, mc->name);
        if (i == 0) test_ring(f);
        st_close(f);
    }
    TEST_END();
}
