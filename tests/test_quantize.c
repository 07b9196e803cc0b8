/* --quantize (int8 FlowLM transformer linears) against the golden f32 outputs: the bounds
 * below are what int8 with per-channel scales keeps on the fixture models at temperature 0,
 * measured, with headroom; a broken int8 path lands far outside them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "pocket_tts.h"
#include "test.h"

/* Measured: latents 1.5e-3 (tiny) and 4.5e-3 (tiny-v1), audio 1.4e-5 to 1.9e-5. */
#define LATENT_REL_RMS_MAX 2e-2
#define AUDIO_REL_RMS_MAX  2e-4

typedef struct latents {
    float *v;
    int n, cap;
} latents;

static void on_latent(void *ud, const float *x, int ldim) {
    latents *l = ud;
    if (l->n < l->cap) memcpy(l->v + (size_t)l->n * ldim, x, (size_t)ldim * sizeof(float));
    l->n++;
}

static void check(const char *dir, const char *id, const char *text, int max_tokens) {
    char gold[512], err[512];
    snprintf(gold, sizeof gold, "%sgolden/%s/gen_%s.safetensors", fixture(""), dir, id);
    ptts_model *m;
    ptts_voice *v;
    ptts_gen *g = NULL;
    st_file *f = NULL;
    ptts_err e = {0};
    open_fixture_model(dir, 1, &m, &v);
    if (v) CHECK(ptts_gen_new(m, &g, err, sizeof err) == 0, "%s", err);
    CHECK(st_open(&f, gold, &e) == 0, "%s", e.msg);
    if (g && f) {
        size_t n_lat, n_audio;
        float *ref_lat = tensor_f32(f, "latents", &n_lat),
              *ref_audio = tensor_f32(f, "audio", &n_audio);
        latents l = {malloc((n_lat + 32) * sizeof(float)), 0, (int)(n_lat / 32) + 1};
        ptts_gen_params p = ptts_gen_default_params();
        p.temperature = 0;
        p.max_tokens = max_tokens;
        p.on_latent = on_latent;
        p.latent_user_data = &l;
        float *audio = NULL;
        size_t n = 0;
        CHECK(ptts_gen_run_all(g, v, text, &p, &audio, &n) == 0, "%s", ptts_gen_errmsg(g));
        CHECK(n == n_audio && (size_t)l.n * 32 == n_lat, "%s/%s: %zu samples, %d latents", dir, id,
              n, l.n);
        if (n == n_audio && (size_t)l.n * 32 == n_lat) {
            double le = rel_rms(l.v, ref_lat, n_lat), ae = rel_rms(audio, ref_audio, n);
            CHECK(le < LATENT_REL_RMS_MAX, "%s/%s: int8 latents rel RMS %g", dir, id, le);
            CHECK(ae < AUDIO_REL_RMS_MAX, "%s/%s: int8 audio rel RMS %g", dir, id, ae);
            CHECK(le > 0, "%s/%s: int8 gave the f32 latents exactly: not quantized?", dir, id);
            printf("  %s/%s int8 vs f32 reference: latents rel RMS %.2e, audio rel RMS %.2e\n", dir,
                   id, le, ae);
        }
        ptts_free(audio);
        free(l.v);
        free(ref_lat);
        free(ref_audio);
    }
    st_close(f);
    ptts_gen_free(g);
    ptts_voice_free(v);
    ptts_model_free(m);
}

int main(void) {
    const char *multi = "Hello world. I am Kyutai's Pocket TTS. I'm fast enough to run on small "
                        "CPUs. I hope you'll like me.";
    for (int i = 0; i < 2; i++) {
        const char *dir = i ? "tiny-v1" : "tiny";
        check(dir, "temp0_short", "Hello world, this is a test.", 50);
        check(dir, "temp0_multichunk", multi, 12); /* as in the manifest */
    }
    TEST_END();
}
