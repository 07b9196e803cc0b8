/* End-to-end generation against every gen_* case of the golden manifests (SPEC 4.2-4.3):
 * temperature-0 cases free-running, noisy ones with the reference's x0 draws. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "pocket_tts.h"
#include "test.h"

typedef struct latents {
    float *v;
    int n, ldim, cap;
} latents;

static void on_latent(void *ud, const float *x, int ldim) {
    latents *l = ud;
    if (l->n < l->cap) memcpy(l->v + (size_t)l->n * ldim, x, (size_t)ldim * sizeof(float));
    l->ldim = ldim;
    l->n++;
}

static void run_case(const char *model_dir, ptts_model *m, const ptts_voice *v, const cJSON *c,
                     int two_threads) {
    const char *id = cJSON_GetObjectItem(c, "id")->valuestring;
    char path[512];
    snprintf(path, sizeof path, "golden/%s/gen_%s.safetensors", model_dir, id);
    st_file *f = NULL;
    ptts_err e = {0};
    CHECK(st_open(&f, fixture(path), &e) == 0, "%s", e.msg);
    if (!f) return;
    size_t n_audio = 0, n_pcm = 0, n_lat = 0, n_noise = 0;
    float *audio = tensor_f32(f, "audio", &n_audio), *pcm = tensor_f32(f, "pcm16", &n_pcm);
    float *ref_lat = tensor_f32(f, "latents", &n_lat);
    float *noise = tensor_f32(f, "noise_drawn", &n_noise);

    ptts_gen_params p = ptts_gen_default_params();
    double temp = cJSON_GetObjectItem(c, "temp")->valuedouble;
    p.temperature = (float)temp;
    p.lsd_decode_steps = cJSON_GetObjectItem(c, "steps")->valueint;
    const cJSON *clamp = cJSON_GetObjectItem(c, "clamp"),
                *fae = cJSON_GetObjectItem(c, "frames_after_eos");
    p.noise_clamp = cJSON_IsNumber(clamp) ? (float)clamp->valuedouble : 0;
    p.eos_threshold = (float)cJSON_GetObjectItem(c, "eos")->valuedouble;
    p.frames_after_eos = cJSON_IsNumber(fae) ? fae->valueint : -1;
    p.max_tokens = cJSON_GetObjectItem(c, "max_tokens")->valueint;
    p.two_threads = two_threads;
    if (temp > 0) { /* noisy: replay the reference's draws */
        p.noise = noise;
        p.noise_len = n_noise;
    }
    latents lat = {malloc((n_lat + 64) * sizeof(float)), 0, 0, 0};
    lat.cap = (int)(n_lat / 32) + 2;
    p.on_latent = on_latent;
    p.latent_user_data = &lat;

    ptts_gen *g = NULL;
    char err[256];
    CHECK(ptts_gen_new(m, &g, err, sizeof err) == 0, "%s", err);
    float *out = NULL;
    size_t n = 0;
    int rc = ptts_gen_run_all(g, v, cJSON_GetObjectItem(c, "text")->valuestring, &p, &out, &n);
    CHECK(rc == 0, "%s/%s: %s", model_dir, id, ptts_gen_errmsg(g));
    int want_lat = cJSON_GetObjectItem(c, "n_latents")->valueint;
    CHECK(lat.n == want_lat, "%s/%s: %d latents, want %d", model_dir, id, lat.n, want_lat);
    CHECK(n == n_audio, "%s/%s: %zu samples, want %zu", model_dir, id, n, n_audio);
    if (lat.n == want_lat && n == n_audio && lat.ldim) {
        double le = max_abs_diff(lat.v, ref_lat, n_lat);
        double ae = rel_rms(out, audio, n);
        int worst = 0;
        for (size_t i = 0; i < n; i++) {
            float s = out[i] > 1 ? 1 : out[i] < -1 ? -1 : out[i];
            int d = abs((int)truncf(s * 32767) - (int)pcm[i]);
            if (d > worst) worst = d;
        }
        CHECK(le < 1e-3, "%s/%s: latents max error %g", model_dir, id, le);
        CHECK(ae < 1e-3, "%s/%s: audio relative RMS %g", model_dir, id, ae);
        if (temp == 0) CHECK(worst <= 1, "%s/%s: pcm16 off by %d", model_dir, id, worst);
        printf("  %s/%s (%s): latents %.2e, audio rel RMS %.2e, pcm16 max step %d\n", model_dir, id,
               two_threads ? "2 threads" : "1 thread", le, ae, worst);
    }
    ptts_gen_stats st;
    ptts_gen_stats_get(g, &st);
    CHECK(st.n_frames == want_lat && st.first_audio_ms >= 0);
    ptts_free(out);
    ptts_gen_free(g);
    free(lat.v);
    free(audio);
    free(pcm);
    free(ref_lat);
    free(noise);
    st_close(f);
}

static void run_model(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "golden/%s/manifest.json", dir);
    char *json = read_file(fixture(path), NULL);
    CHECK(json != NULL, "%s", path);
    if (!json) return;
    cJSON *man = cJSON_Parse(json);
    snprintf(path, sizeof path, "models/%s/config.yaml", dir);
    CHECK(!strcmp(cJSON_GetObjectItem(man, "model")->valuestring, path), "manifest of %s", dir);
    ptts_model *m;
    ptts_voice *v;
    open_fixture_model(dir, 0, &m, &v);
    const cJSON *c;
    int first = 1;
    if (m && v) cJSON_ArrayForEach(c, cJSON_GetObjectItem(man, "cases")) {
            run_case(dir, m, v, c, 1);
            if (first) run_case(dir, m, v, c, 0); /* the single-thread path gives the same */
            first = 0;
        }
    ptts_voice_free(v);
    ptts_model_free(m);
    cJSON_Delete(man);
    free(json);
}

int main(void) {
    run_model("tiny");
    run_model("tiny-v1");
    TEST_END();
}
