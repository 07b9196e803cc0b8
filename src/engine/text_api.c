/* Public text API (pocket_tts.h, "Text"): a tokenizer with the config's front-end settings. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "text/frontend.h"

struct ptts_tokenizer {
    spm_model *spm;
    int pad;               /* pad_with_spaces_for_short_inputs */
    int remove_semicolons; /* remove_semicolons */
};

static int open_file(ptts_tokenizer **out, const char *path, ptts_err *e) {
    ptts_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return err_set(e, PTTS_ERR_NOMEM, "out of memory");
    int rc = spm_load(&t->spm, path, e);
    if (rc) {
        free(t);
        return rc;
    }
    *out = t;
    return PTTS_OK;
}

int ptts_tokenizer_open(ptts_tokenizer **out, const char *path, char *err, size_t errlen) {
    ptts_err e = {0};
    if (!out || !path) {
        err_set(&e, PTTS_ERR_INVALID_ARG, "NULL argument");
        return eng_export_err(&e, err, errlen);
    }
    *out = NULL;
    return open_file(out, path, &e) ? eng_export_err(&e, err, errlen) : PTTS_OK;
}

static int open_config(ptts_tokenizer **out, const char *config_path, const char *language,
                       ptts_err *e) {
    ptts_config c;
    int rc = config_path ? config_load_file(&c, config_path, e)
                         : config_load_builtin(&c, language ? language : "english", e);
    const cfg_path *p = &c.flow_lm.lookup_table.tokenizer_path;
    char *local = NULL;
    if (!rc) {
        dl_options o = dl_options_default();
        if (!(rc = dl_global_init(e))) {
            rc = dl_resolve(&o, p->path, &local, e);
            dl_global_cleanup();
        }
    }
    if (!rc) rc = open_file(out, local, e);
    free(local);
    if (!rc && spm_vocab_size((*out)->spm) != c.flow_lm.lookup_table.n_bins)
        rc = err_set(e, PTTS_ERR_CONFIG,
                     "the tokenizer has %d pieces but flow_lm.lookup_table.n_bins is %d",
                     spm_vocab_size((*out)->spm), c.flow_lm.lookup_table.n_bins);
    if (!rc) {
        (*out)->pad = c.pad_with_spaces_for_short_inputs;
        (*out)->remove_semicolons = c.remove_semicolons;
    } else if (*out) {
        ptts_tokenizer_free(*out);
        *out = NULL;
    }
    config_free(&c);
    return rc;
}

int ptts_tokenizer_open_config(ptts_tokenizer **out, const char *config_path, const char *language,
                               char *err, size_t errlen) {
    ptts_err e = {0};
    if (!out) {
        err_set(&e, PTTS_ERR_INVALID_ARG, "NULL argument");
        return eng_export_err(&e, err, errlen);
    }
    *out = NULL;
    return open_config(out, config_path, language, &e) ? eng_export_err(&e, err, errlen) : PTTS_OK;
}

void ptts_tokenizer_free(ptts_tokenizer *t) {
    if (!t) return;
    spm_free(t->spm);
    free(t);
}

int ptts_tokenize(const ptts_tokenizer *t, const char *text, int32_t **ids, size_t *n, char *err,
                  size_t errlen) {
    ptts_err e = {0};
    if (!t || !text || !ids || !n) {
        err_set(&e, PTTS_ERR_INVALID_ARG, "NULL argument");
        return eng_export_err(&e, err, errlen);
    }
    *ids = NULL;
    *n = 0;
    return spm_encode(t->spm, text, strlen(text), ids, n, &e) ? eng_export_err(&e, err, errlen)
                                                              : PTTS_OK;
}

int ptts_text_split(const ptts_tokenizer *t, const char *text, int max_tokens,
                    ptts_text_chunk **chunks, size_t *n, char *err, size_t errlen) {
    ptts_err e = {0};
    if (!t || !text || !chunks || !n) {
        err_set(&e, PTTS_ERR_INVALID_ARG, "NULL argument");
        return eng_export_err(&e, err, errlen);
    }
    text_chunks c;
    if (text_split(t->spm, text, max_tokens, t->pad, t->remove_semicolons, &c, &e)) {
        text_chunks_free(&c);
        *chunks = NULL;
        *n = 0;
        return eng_export_err(&e, err, errlen);
    }
    *chunks = c.v;
    *n = c.n;
    return PTTS_OK;
}

void ptts_text_chunks_free(ptts_text_chunk *chunks, size_t n) {
    text_chunks c = {chunks, n};
    text_chunks_free(&c);
}
