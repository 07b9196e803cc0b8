/* Voice states (SPEC 4.1, 1.4): from audio through the encoder, from the current, exported
 * and legacy voice-file layouts, written back in the upstream layout; and bad voice files. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "pocket_tts.h"
#include "test.h"

/* Largest difference between the valid positions of two voice files' caches; -1 when the
 * layouts differ. */
static double compare_voice_files(const char *a_path, const char *b_path, int n_layers) {
    st_file *a = NULL, *b = NULL;
    ptts_err e = {0};
    double worst = -1;
    if (st_open(&a, a_path, &e) || st_open(&b, b_path, &e)) goto done;
    worst = 0;
    for (int l = 0; l < n_layers && worst >= 0; l++) {
        char name[128];
        snprintf(name, sizeof name, "transformer.layers.%d.self_attn/offset", l);
        const st_tensor *oa = st_find(a, name), *ob = st_find(b, name);
        int64_t la = 0, lb = 0;
        if (!oa || !ob || st_to_i64(oa, &la, &e) || st_to_i64(ob, &lb, &e) || la != lb) {
            worst = -1;
            break;
        }
        snprintf(name, sizeof name, "transformer.layers.%d.self_attn/cache", l);
        const st_tensor *ca = st_find(a, name), *cb = st_find(b, name);
        if (!ca || !cb || ca->ndim != 5 || cb->ndim != 5) {
            worst = -1;
            break;
        }
        float *fa = malloc(ca->numel * sizeof(float)), *fb = malloc(cb->numel * sizeof(float));
        st_to_f32(ca, fa, &e);
        st_to_f32(cb, fb, &e);
        size_t row = (size_t)(ca->shape[3] * ca->shape[4]);
        for (int kv = 0; kv < 2; kv++) {
            double d = max_abs_diff(fa + kv * ca->shape[2] * row, fb + kv * cb->shape[2] * row,
                                    (size_t)la * row);
            if (!(d <= worst)) worst = isnan(d) ? 1e30 : d;
        }
        free(fa);
        free(fb);
    }
done:
    st_close(a);
    st_close(b);
    return worst;
}

static void check_model(const char *dir) {
    char path[512], out[512], err[512];
    ptts_model *m;
    open_fixture_model(dir, 0, &m, NULL);
    if (!m) return;
    CHECK(ptts_model_can_clone(m) == 1);
    char ref[512];
    snprintf(ref, sizeof ref, "%sgolden/%s/voice_state.safetensors", fixture(""), dir);
    int n_layers = 2;

    /* From audio: voice.wav through the codec encoder and the backbone. */
    ptts_voice *v = NULL;
    snprintf(path, sizeof path, "%sgolden/%s/voice.wav", fixture(""), dir);
    CHECK(ptts_voice_load(m, path, 0, &v, err, sizeof err) == 0, "%s", err);
    snprintf(out, sizeof out, "/tmp/ptts_test_voice_%d.safetensors", (int)getpid());
    if (v) {
        CHECK(ptts_voice_save(v, out, err, sizeof err) == 0, "%s", err);
        double d = compare_voice_files(out, ref, n_layers);
        CHECK(d >= 0 && d < 1e-3, "%s: voice from audio differs by %g", dir, d);
        printf("  %s: voice from voice.wav, max cache error %.2e\n", dir, d);
    }
    ptts_voice_free(v);

    /* From voice files in every layout, re-exported: the valid positions survive exactly. */
    const char *files[] = {"voice_state", "voice_exported", "voice_legacy"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%sgolden/%s/%s.safetensors", fixture(""), dir, files[i]);
        v = NULL;
        CHECK(ptts_voice_load(m, path, 0, &v, err, sizeof err) == 0, "%s: %s", files[i], err);
        if (!v) continue;
        CHECK(ptts_voice_save(v, out, err, sizeof err) == 0, "%s", err);
        double d = compare_voice_files(out, ref, n_layers);
        CHECK(d == 0, "%s/%s re-exported differs by %g", dir, files[i], d);
        ptts_voice_free(v);
    }
    /* What we write has the upstream export's names, dtypes and shapes. */
    snprintf(path, sizeof path, "%sgolden/%s/voice_exported.safetensors", fixture(""), dir);
    st_file *a = NULL, *b = NULL;
    ptts_err e = {0};
    if (!st_open(&a, out, &e) && !st_open(&b, path, &e)) {
        CHECK(st_count(a) == st_count(b));
        for (size_t i = 0; i < st_count(b); i++) {
            const st_tensor *tb = st_at(b, i), *ta = st_find(a, tb->name);
            CHECK(ta && ta->dtype == tb->dtype && ta->ndim == tb->ndim &&
                      !memcmp(ta->shape, tb->shape, sizeof(int64_t) * tb->ndim),
                  "tensor %s", tb->name);
        }
    }
    st_close(a);
    st_close(b);

    /* Bad voice files: one clear error each, nothing else breaks. */
    const char *bad[] = {"models/tiny/tokenizer.model", "golden/tiny/lut.safetensors"};
    for (int i = 0; i < 2; i++) {
        v = NULL;
        snprintf(path, sizeof path, "%s%s", fixture(""), bad[i]);
        int rc = ptts_voice_load(m, path, 0, &v, err, sizeof err);
        CHECK(rc != 0 && v == NULL && strlen(err) > 0 && !strchr(err, '\n'), "%s -> %s", bad[i],
              err);
    }
    CHECK(ptts_voice_load(m, "/nonexistent/voice.wav", 0, &v, err, sizeof err) ==
              PTTS_ERR_NOT_FOUND,
          "%s", err);
    CHECK(ptts_voice_load(m, "nosuchvoice", 0, &v, err, sizeof err) != 0 &&
              strstr(err, "nosuchvoice"),
          "%s", err);
    float silence[100] = {0};
    CHECK(ptts_voice_from_samples(m, silence, 0, 24000, &v, err, sizeof err) != 0);
    CHECK(ptts_voice_from_samples(m, silence, 100, 0, &v, err, sizeof err) == PTTS_ERR_INVALID_ARG);
    unlink(out);
    ptts_model_free(m);
}

int main(void) {
    check_model("tiny");
    check_model("tiny-v1");
    TEST_END();
}
