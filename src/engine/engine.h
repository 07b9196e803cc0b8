/* Engine internals: what the public handles hold. Only src/engine sees these. */
#ifndef PTTS_ENGINE_H
#define PTTS_ENGINE_H

#include "common/error.h"
#include "common/rng.h"
#include "io/config.h"
#include "io/download.h"
#include "model/flowlm.h"
#include "model/mimi.h"
#include "pocket_tts.h"
#include "text/sentencepiece.h"

struct ptts_model {
    ptts_config cfg;
    int can_clone;
    int n_threads;
    int quantize;
    uint64_t max_voice_bytes; /* downloads of voices are refused past this; 0 = no limit */
    flowlm lm;
    mimi codec;
    spm_model *tok;
    dl_options dl;  /* how voices and other files are fetched */
    int curl_ready; /* dl_global_init succeeded: pair with dl_global_cleanup */
    ptts_progress_fn progress;
    void *progress_user_data;
    ptts_log_fn log;
    void *log_user_data;
};

/* A voice state: the FlowLM KV cache after the voice prompt (linear, cap == len). */
struct ptts_voice {
    const ptts_model *model;
    tf_cache cache;
};

/* Logs one formatted line through the model's callback (if any). */
void eng_log(const ptts_model *m, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fills the model dims from a config. */
void eng_dims_from_config(const ptts_config *c, flowlm_dims *fd, mimi_config *mc);

/* Resolves a config path (local, hf://, http(s)://) to a malloc'd local path; `what` names
 * the file in errors and progress. */
int eng_fetch(const ptts_model *m, const cfg_path *p, const char *what, uint64_t max_bytes,
              char **local, ptts_err *e);

/* Copies e's message into a caller's (err, errlen) pair and returns e->code. */
int eng_export_err(const ptts_err *e, char *err, size_t errlen);

/* The voice state from codec conditioning frames ([n][d]) of audio (SPEC 4.1). */
int eng_voice_from_conditioning(const ptts_model *m, const float *cond, int n, tpool *pool,
                                ptts_voice **out, ptts_err *e);

/* 1 when s is one of the predefined voice names of any language. */
int eng_is_voice_name(const char *s);

#endif
