/* ptts_model: config -> files (downloaded when needed) -> weights, codec, tokenizer. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "engine.h"

void eng_log(const ptts_model *m, int level, const char *fmt, ...) {
    if (!m || !m->log) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    m->log(m->log_user_data, level, line);
}

int eng_export_err(const ptts_err *e, char *err, size_t errlen) {
    if (err && errlen) snprintf(err, errlen, "%s", e->msg);
    return e->code ? e->code : PTTS_ERR_INTERNAL;
}

void eng_dims_from_config(const ptts_config *c, flowlm_dims *fd, mimi_config *mc) {
    memset(fd, 0, sizeof *fd);
    fd->d_model = c->flow_lm.transformer.d_model;
    fd->num_heads = c->flow_lm.transformer.num_heads;
    fd->num_layers = c->flow_lm.transformer.num_layers;
    fd->hidden_scale = (float)c->flow_lm.transformer.hidden_scale;
    fd->max_period = (float)c->flow_lm.transformer.max_period;
    fd->ldim = c->mimi.quantizer.dimension;
    fd->flow_dim = c->flow_lm.flow.dim;
    fd->flow_depth = c->flow_lm.flow.depth;
    fd->n_bins = c->flow_lm.lookup_table.n_bins;
    fd->inner_dim = c->mimi.inner_dim;
    fd->insert_bos_before_voice = c->flow_lm.insert_bos_before_voice;

    memset(mc, 0, sizeof *mc);
    const __typeof__(c->mimi.seanet) *s = &c->mimi.seanet;
    mc->seanet.channels = s->channels;
    mc->seanet.dimension = s->dimension;
    mc->seanet.n_filters = s->n_filters;
    mc->seanet.n_residual_layers = s->n_residual_layers;
    mc->seanet.n_ratios = s->ratios.n;
    for (int i = 0; i < s->ratios.n && i < SEANET_MAX_RATIOS; i++)
        mc->seanet.ratios[i] = s->ratios.v[i];
    mc->seanet.kernel_size = s->kernel_size;
    mc->seanet.residual_kernel_size = s->residual_kernel_size;
    mc->seanet.last_kernel_size = s->last_kernel_size;
    mc->seanet.dilation_base = s->dilation_base;
    mc->seanet.compress = s->compress;
    mc->seanet.replicate = s->pad_mode && !strcmp(s->pad_mode, "replicate");
    mc->sample_rate = c->mimi.sample_rate;
    mc->frame_rate = c->mimi.frame_rate;
    mc->inner_dim = c->mimi.inner_dim;
    mc->outer_dim = c->mimi.outer_dim;
    mc->ldim = c->mimi.quantizer.dimension;
    mc->quant_out = c->mimi.quantizer.output_dimension;
    mc->tf.d_model = c->mimi.transformer.d_model;
    mc->tf.num_heads = c->mimi.transformer.num_heads;
    mc->tf.num_layers = c->mimi.transformer.num_layers;
    mc->tf.dim_feedforward = c->mimi.transformer.dim_feedforward;
    mc->tf.context = c->mimi.transformer.context;
    mc->tf.layer_scale = c->mimi.transformer.layer_scale > 0;
    mc->tf.max_period = (float)c->mimi.transformer.max_period;
    mc->tf.input_dimension = c->mimi.transformer.input_dimension;
    mc->tf.output_dimension = c->mimi.transformer.output_dimensions.n
                                  ? c->mimi.transformer.output_dimensions.v[0]
                                  : c->mimi.transformer.d_model;
}

ptts_model_options ptts_model_default_options(void) {
    ptts_model_options o;
    memset(&o, 0, sizeof o);
    o.language = "english";
    o.offline = -1;
    return o;
}

/* Adapts the download layer's progress to the public callback, naming the file. */
typedef struct progress_ctx {
    ptts_progress_fn fn;
    void *ud;
    const char *what;
} progress_ctx;

static int on_dl_progress(void *ud, uint64_t done, uint64_t total) {
    progress_ctx *p = ud;
    return p->fn(p->ud, p->what, done, total);
}

int eng_fetch(const ptts_model *m, const cfg_path *p, const char *what, uint64_t max_bytes,
              char **local, ptts_err *e) {
    *local = NULL;
    if (p->kind == CFG_PATH_NONE || !p->path)
        return err_set(e, PTTS_ERR_CONFIG, "the config gives no %s", what);
    dl_options o = m->dl;
    o.max_bytes = max_bytes;
    progress_ctx pc = {m->progress, m->progress_user_data, what};
    if (m->progress) {
        o.progress = on_dl_progress;
        o.user_data = &pc;
    }
    return dl_resolve(&o, p->path, local, e);
}

/* Opens the checkpoint: the gated one first, else the open one (cloning then refused). */
static int open_weights(ptts_model *m, st_file **f, ptts_err *e) {
    char *path = NULL;
    int rc = eng_fetch(m, &m->cfg.weights_path, "weights", 0, &path, e);
    m->can_clone = rc == PTTS_OK;
    if (rc && rc != PTTS_ERR_CANCELLED && m->cfg.weights_path_without_voice_cloning.path) {
        eng_log(m, PTTS_LOG_WARN, "%s; using the weights without voice cloning", e->msg);
        rc = eng_fetch(m, &m->cfg.weights_path_without_voice_cloning, "weights", 0, &path, e);
    }
    if (rc) return rc;
    eng_log(m, PTTS_LOG_INFO, "loading weights %s", path);
    rc = st_open(f, path, e);
    free(path);
    return rc;
}

static int load(ptts_model *m, ptts_err *e) {
    flowlm_dims fd;
    mimi_config mc;
    eng_dims_from_config(&m->cfg, &fd, &mc);
    fd.quantize = m->quantize;
    st_file *f = NULL;
    int rc = open_weights(m, &f, e);
    if (rc) return rc;
    if (!(rc = flowlm_load(&m->lm, f, &fd, e))) rc = mimi_load(&m->codec, f, &mc, e);
    st_close(f);
    if (rc) return rc;
    char *tok = NULL;
    if ((rc = eng_fetch(m, &m->cfg.flow_lm.lookup_table.tokenizer_path, "tokenizer", 0, &tok, e)))
        return rc;
    rc = spm_load(&m->tok, tok, e);
    free(tok);
    if (rc) return rc;
    if (spm_vocab_size(m->tok) != fd.n_bins)
        return err_set(e, PTTS_ERR_CONFIG,
                       "the tokenizer has %d pieces but flow_lm.lookup_table.n_bins is %d",
                       spm_vocab_size(m->tok), fd.n_bins);
    return PTTS_OK;
}

int ptts_model_open(ptts_model **out, const ptts_model_options *opt, char *err, size_t errlen) {
    ptts_err e = {0};
    ptts_model_options def = ptts_model_default_options();
    if (!out)
        return err_set(&e, PTTS_ERR_INVALID_ARG, "out is NULL"), eng_export_err(&e, err, errlen);
    *out = NULL;
    if (!opt) opt = &def;
    ptts_model *m = calloc(1, sizeof *m);
    if (!m) return err_set(&e, PTTS_ERR_NOMEM, "out of memory"), eng_export_err(&e, err, errlen);
    m->log = opt->log;
    m->log_user_data = opt->log_user_data;
    m->quantize = opt->quantize != 0;
    m->max_voice_bytes = opt->max_voice_bytes;
    m->progress = opt->progress;
    m->progress_user_data = opt->progress_user_data;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    m->n_threads = opt->n_threads > 0 ? opt->n_threads : (cores > 0 ? (int)cores : 1);
    m->dl = dl_options_default();
    if (opt->cache_dir) snprintf(m->dl.cache_dir, sizeof m->dl.cache_dir, "%s", opt->cache_dir);
    if (opt->hf_token) snprintf(m->dl.token, sizeof m->dl.token, "%s", opt->hf_token);
    if (opt->offline >= 0) m->dl.offline = opt->offline;
    int rc = dl_global_init(&e);
    m->curl_ready = rc == PTTS_OK;
    if (!rc) {
        rc = opt->config_path
                 ? config_load_file(&m->cfg, opt->config_path, &e)
                 : config_load_builtin(&m->cfg, opt->language ? opt->language : "english", &e);
    }
    if (!rc) rc = load(m, &e);
    if (rc) {
        ptts_model_free(m);
        return eng_export_err(&e, err, errlen);
    }
#ifdef __GLIBC__
    /* Loading leaves freed conversion buffers between the weights (~25 MB on the English
     * model) that glibc keeps resident: hand their pages back. */
    malloc_trim(0);
#endif
    *out = m;
    return PTTS_OK;
}

void ptts_model_free(ptts_model *m) {
    if (!m) return;
    flowlm_free(&m->lm);
    mimi_free(&m->codec);
    spm_free(m->tok);
    config_free(&m->cfg);
    if (m->curl_ready) dl_global_cleanup();
    free(m);
}

int ptts_model_sample_rate(const ptts_model *m) {
    return m->codec.cfg.sample_rate;
}
int ptts_model_can_clone(const ptts_model *m) {
    return m->can_clone;
}
const char *ptts_model_language(const ptts_model *m) {
    return m->cfg.name;
}

void ptts_free(void *p) {
    free(p);
}
