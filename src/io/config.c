#include "config.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "configs_builtin.h"

/* Configs are a few KiB; a bigger file is not a config. */
#define CFG_MAX_FILE (1u << 20)
/* The schema nests 4 deep; libyaml takes quadratic time in the nesting depth, so deeper
 * input is refused before it is loaded. */
#define CFG_MAX_DEPTH 32
/* Every integer of the schema is a size or a count; larger values are typos. */
#define CFG_INT_MAX (1 << 24)

typedef enum field_kind { K_MAP, K_BOOL, K_INT, K_FLOAT, K_STR, K_PATH, K_INTS } field_kind;

enum {
    F_REQ = 1,  /* must be present */
    F_NULL = 2, /* null is accepted (ints: stored as -1, paths: CFG_PATH_NONE) */
    F_POS = 4,  /* floats: must be > 0 */
};

/* One key of the schema. Offsets are from the start of ptts_config. */
typedef struct field {
    const char *key;
    field_kind kind;
    int flags;
    size_t off;
    int min;                 /* K_INT, K_INTS: smallest valid value */
    const struct field *sub; /* K_MAP: its keys, ending with {0} */
} field;

/* clang-format off */
#define OFF(m) offsetof(ptts_config, m)
#define INT(k, m)     {k, K_INT, F_REQ, OFF(m), 1, NULL}
#define INT0(k, m)    {k, K_INT, F_REQ, OFF(m), 0, NULL}
#define INTN(k, m)    {k, K_INT, F_NULL, OFF(m), 0, NULL}
#define INTS(k, m)    {k, K_INTS, F_REQ, OFF(m), 1, NULL}
#define FLT(k, m, f)  {k, K_FLOAT, f, OFF(m), 0, NULL}
#define STR(k, m)     {k, K_STR, F_REQ, OFF(m), 0, NULL}
#define BOOL(k, m)    {k, K_BOOL, 0, OFF(m), 0, NULL}
#define PATH(k, m, f) {k, K_PATH, f, OFF(m), 0, NULL}
#define MAP(k, s)     {k, K_MAP, F_REQ, 0, 0, s}
/* clang-format on */

/* The upstream schema (pocket_tts/utils/config.py, 2.1.0) with its defaults. */
static const field flow_fields[] = {
    INT("dim", flow_lm.flow.dim),
    INT("depth", flow_lm.flow.depth),
    {0},
};
static const field flow_transformer_fields[] = {
    INT("hidden_scale", flow_lm.transformer.hidden_scale),
    INT("max_period", flow_lm.transformer.max_period),
    INT("d_model", flow_lm.transformer.d_model),
    INT("num_heads", flow_lm.transformer.num_heads),
    INT("num_layers", flow_lm.transformer.num_layers),
    {0},
};
static const field lookup_table_fields[] = {
    INT("dim", flow_lm.lookup_table.dim),
    INT("n_bins", flow_lm.lookup_table.n_bins),
    STR("tokenizer", flow_lm.lookup_table.tokenizer),
    PATH("tokenizer_path", flow_lm.lookup_table.tokenizer_path, F_REQ),
    {0},
};
static const field flow_lm_fields[] = {
    STR("dtype", flow_lm.dtype),
    MAP("flow", flow_fields),
    MAP("transformer", flow_transformer_fields),
    MAP("lookup_table", lookup_table_fields),
    PATH("weights_path", flow_lm.weights_path, F_NULL),
    BOOL("insert_bos_before_voice", flow_lm.insert_bos_before_voice),
    {0},
};
static const field seanet_fields[] = {
    INT("dimension", mimi.seanet.dimension),
    INT("channels", mimi.seanet.channels),
    INT("n_filters", mimi.seanet.n_filters),
    INT0("n_residual_layers", mimi.seanet.n_residual_layers),
    INTS("ratios", mimi.seanet.ratios),
    INT("kernel_size", mimi.seanet.kernel_size),
    INT("residual_kernel_size", mimi.seanet.residual_kernel_size),
    INT("last_kernel_size", mimi.seanet.last_kernel_size),
    INT("dilation_base", mimi.seanet.dilation_base),
    STR("pad_mode", mimi.seanet.pad_mode),
    INT("compress", mimi.seanet.compress),
    {0},
};
static const field mimi_transformer_fields[] = {
    INT("d_model", mimi.transformer.d_model),
    INT("input_dimension", mimi.transformer.input_dimension),
    INTS("output_dimensions", mimi.transformer.output_dimensions),
    INT("num_heads", mimi.transformer.num_heads),
    INT("num_layers", mimi.transformer.num_layers),
    FLT("layer_scale", mimi.transformer.layer_scale, F_REQ),
    INT("context", mimi.transformer.context),
    FLT("max_period", mimi.transformer.max_period, F_POS),
    INT("dim_feedforward", mimi.transformer.dim_feedforward),
    {0},
};
static const field quantizer_fields[] = {
    INT("dimension", mimi.quantizer.dimension),
    INT("output_dimension", mimi.quantizer.output_dimension),
    {0},
};
static const field mimi_fields[] = {
    STR("dtype", mimi.dtype),
    INT("sample_rate", mimi.sample_rate),
    INT("channels", mimi.channels),
    FLT("frame_rate", mimi.frame_rate, F_REQ | F_POS),
    MAP("seanet", seanet_fields),
    MAP("transformer", mimi_transformer_fields),
    MAP("quantizer", quantizer_fields),
    PATH("weights_path", mimi.weights_path, F_NULL),
    INTN("inner_dim", mimi.inner_dim),
    INTN("outer_dim", mimi.outer_dim),
    {0},
};
static const field root_fields[] = {
    MAP("flow_lm", flow_lm_fields),
    MAP("mimi", mimi_fields),
    PATH("weights_path", weights_path, F_NULL),
    PATH("weights_path_without_voice_cloning", weights_path_without_voice_cloning, F_NULL),
    BOOL("pad_with_spaces_for_short_inputs", pad_with_spaces_for_short_inputs),
    BOOL("remove_semicolons", remove_semicolons),
    INTN("model_recommended_frames_after_eos", model_recommended_frames_after_eos),
    {0},
};

typedef struct parse_ctx {
    yaml_document_t *doc;
    ptts_config *c;
    const char *base_dir; /* NULL: relative paths kept */
    locale_t c_locale;    /* numbers are read the same whatever the caller's locale */
    ptts_err *e;
} parse_ctx;

/* What a scalar means under the YAML 1.1 rules the upstream's PyYAML applies. */
typedef enum scalar_type { S_NULL, S_BOOL, S_INT, S_FLOAT, S_STR } scalar_type;

static int one_of(const char *s, const char *const *words) {
    for (; *words; words++)
        if (!strcmp(s, *words)) return 1;
    return 0;
}

static const char *const null_words[] = {"", "~", "null", "Null", "NULL", NULL};
static const char *const true_words[] = {"true", "True", "TRUE", "yes", "Yes",
                                         "YES",  "on",   "On",   "ON",  NULL};
static const char *const false_words[] = {"false", "False", "FALSE", "no",  "No",
                                          "NO",    "off",   "Off",   "OFF", NULL};

static int is_decimal_int(const char *s) {
    if (*s == '-' || *s == '+') s++;
    if (*s < '0' || *s > '9') return 0;
    if (*s == '0' && s[1]) return 0; /* 010 is octal in YAML 1.1: refuse rather than guess */
    while (*s >= '0' && *s <= '9')
        s++;
    return *s == 0;
}

/* [-+]digits[.digits][e[-+]digits] or [-+].digits...: decimal only (no hex, inf or nan). */
static int is_decimal_float(const char *s) {
    if (*s == '-' || *s == '+') s++;
    int digits = 0;
    while (*s >= '0' && *s <= '9')
        s++, digits++;
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++)
            digits++;
    if (!digits) return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+') s++;
        if (*s < '0' || *s > '9') return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == 0;
}

static scalar_type scalar_resolve(const yaml_node_t *n) {
    const char *s = (const char *)n->data.scalar.value;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return S_STR;
    if (one_of(s, null_words)) return S_NULL;
    if (one_of(s, true_words) || one_of(s, false_words)) return S_BOOL;
    if (is_decimal_int(s)) return S_INT;
    if (is_decimal_float(s)) return S_FLOAT;
    return S_STR;
}

/* Copies s for a one-line message: at most cap-1 bytes, cut on a character boundary,
 * control characters shown as '?'. */
static void clip(char *dst, size_t cap, const char *s) {
    size_t n = strlen(s);
    if (n > cap - 1) {
        n = cap - 1;
        while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    dst[n] = 0;
}

/* "a list", "a mapping", "null", 'plain' or the string "quoted", for "expected X, got Y". */
static const char *describe(const yaml_node_t *n, char *buf, size_t len) {
    if (n->type == YAML_SEQUENCE_NODE) return "a list";
    if (n->type == YAML_MAPPING_NODE) return "a mapping";
    if (scalar_resolve(n) == S_NULL) return "null";
    char v[64];
    clip(v, sizeof v, (const char *)n->data.scalar.value);
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
        snprintf(buf, len, "'%s'", v);
    else
        snprintf(buf, len, "the string \"%s\"", v);
    return buf;
}

static int type_error(parse_ctx *x, const char *path, const yaml_node_t *n, const char *want) {
    char buf[96];
    return err_set(x->e, PTTS_ERR_CONFIG, "%s: expected %s, got %s (line %zu)", path, want,
                   describe(n, buf, sizeof buf), n->start_mark.line + 1);
}

static int is_null(const yaml_node_t *n) {
    return n->type == YAML_SCALAR_NODE && scalar_resolve(n) == S_NULL;
}

static int read_int(parse_ctx *x, const char *path, const yaml_node_t *n, int min, int *out) {
    if (n->type != YAML_SCALAR_NODE || scalar_resolve(n) != S_INT)
        return type_error(x, path, n, "an integer");
    errno = 0;
    long v = strtol((const char *)n->data.scalar.value, NULL, 10);
    if (errno || v < min || v > CFG_INT_MAX)
        return err_set(x->e, PTTS_ERR_CONFIG, "%s: %s is out of range [%d, %d] (line %zu)", path,
                       (const char *)n->data.scalar.value, min, CFG_INT_MAX,
                       n->start_mark.line + 1);
    *out = (int)v;
    return PTTS_OK;
}

static int read_float(parse_ctx *x, const char *path, const yaml_node_t *n, int flags,
                      double *out) {
    scalar_type t = n->type == YAML_SCALAR_NODE ? scalar_resolve(n) : S_STR;
    if (t != S_INT && t != S_FLOAT) return type_error(x, path, n, "a number");
    double v = strtod_l((const char *)n->data.scalar.value, NULL, x->c_locale);
    if (!isfinite(v) || ((flags & F_POS) && v <= 0))
        return err_set(x->e, PTTS_ERR_CONFIG, "%s: %s must be %s (line %zu)", path,
                       (const char *)n->data.scalar.value, flags & F_POS ? "positive" : "finite",
                       n->start_mark.line + 1);
    *out = v;
    return PTTS_OK;
}

static int read_string(parse_ctx *x, const char *path, const yaml_node_t *n, char **out) {
    if (n->type != YAML_SCALAR_NODE || scalar_resolve(n) != S_STR)
        return type_error(x, path, n, "a string");
    const char *s = (const char *)n->data.scalar.value;
    if (strlen(s) != n->data.scalar.length)
        return err_set(x->e, PTTS_ERR_CONFIG, "%s: contains a NUL character (line %zu)", path,
                       n->start_mark.line + 1);
    if (!(*out = strdup(s))) return err_set(x->e, PTTS_ERR_NOMEM, "%s: out of memory", path);
    return PTTS_OK;
}

/* hf://owner/repo/path[@revision]: the upstream splits it exactly this way. */
static int hf_url_ok(const char *s) {
    const char *owner = s + 5, *repo = strchr(owner, '/');
    if (!repo || repo == owner) return 0;
    const char *file = strchr(repo + 1, '/');
    if (!file || file == repo + 1 || !file[1]) return 0;
    const char *at = strchr(file, '@');
    return !at || (at > file + 1 && at[1] && !strchr(at + 1, '@'));
}

static int read_path(parse_ctx *x, const char *path, const yaml_node_t *n, cfg_path *out) {
    char *s = NULL;
    int rc = read_string(x, path, n, &s);
    if (rc) return rc;
    int http = !strncmp(s, "http://", 7) ? 7 : !strncmp(s, "https://", 8) ? 8 : 0;
    if (!strncmp(s, "hf://", 5) || http) {
        out->kind = http ? CFG_PATH_HTTP : CFG_PATH_HF;
        if (http ? !s[http] : !hf_url_ok(s)) {
            char v[200];
            clip(v, sizeof v, s);
            free(s);
            return err_set(x->e, PTTS_ERR_CONFIG, "%s: malformed URL '%s'%s (line %zu)", path, v,
                           http ? "" : " (expected hf://owner/repo/file[@revision])",
                           n->start_mark.line + 1);
        }
    } else {
        out->kind = CFG_PATH_LOCAL;
        if (!*s) {
            free(s);
            return err_set(x->e, PTTS_ERR_CONFIG, "%s: empty path (line %zu)", path,
                           n->start_mark.line + 1);
        }
        if (s[0] != '/' && x->base_dir && *x->base_dir) {
            size_t nb = strlen(x->base_dir), ns = strlen(s);
            char *r = malloc(nb + ns + 2);
            if (!r) {
                free(s);
                return err_set(x->e, PTTS_ERR_NOMEM, "%s: out of memory", path);
            }
            memcpy(r, x->base_dir, nb);
            r[nb] = '/';
            memcpy(r + nb + 1, s, ns + 1);
            free(s);
            s = r;
        }
    }
    out->path = s;
    return PTTS_OK;
}

static int read_ints(parse_ctx *x, const char *path, const yaml_node_t *n, int min, cfg_ints *out) {
    if (n->type != YAML_SEQUENCE_NODE) return type_error(x, path, n, "a list of integers");
    long count = n->data.sequence.items.top - n->data.sequence.items.start;
    if (count < 1 || count > CFG_MAX_LIST)
        return err_set(x->e, PTTS_ERR_CONFIG, "%s: expected 1 to %d values, got %ld (line %zu)",
                       path, CFG_MAX_LIST, count, n->start_mark.line + 1);
    for (long i = 0; i < count; i++) {
        char item[192];
        snprintf(item, sizeof item, "%.160s[%ld]", path, i);
        const yaml_node_t *v = yaml_document_get_node(x->doc, n->data.sequence.items.start[i]);
        int rc = v ? read_int(x, item, v, min, &out->v[i])
                   : err_set(x->e, PTTS_ERR_CONFIG, "%s: bad node", item);
        if (rc) return rc;
    }
    out->n = (int)count;
    return PTTS_OK;
}

static int read_map(parse_ctx *x, const char *prefix, const yaml_node_t *n, const field *fields);

static int read_field(parse_ctx *x, const char *path, const yaml_node_t *v, const field *f) {
    static const char *const want[] = {
        [K_MAP] = "a mapping",           [K_BOOL] = "true or false", [K_INT] = "an integer",
        [K_FLOAT] = "a number",          [K_STR] = "a string",       [K_PATH] = "a path or URL",
        [K_INTS] = "a list of integers",
    };
    char *dst = (char *)x->c + f->off;
    if (f->kind != K_MAP && is_null(v)) {
        if (!(f->flags & F_NULL)) return type_error(x, path, v, want[f->kind]);
        if (f->kind == K_INT) *(int *)dst = -1;
        return PTTS_OK;
    }
    switch (f->kind) {
    case K_MAP: return read_map(x, path, v, f->sub);
    case K_BOOL:
        if (v->type != YAML_SCALAR_NODE || scalar_resolve(v) != S_BOOL)
            return type_error(x, path, v, want[f->kind]);
        *(int *)dst = one_of((const char *)v->data.scalar.value, true_words);
        return PTTS_OK;
    case K_INT: return read_int(x, path, v, f->min, (int *)dst);
    case K_FLOAT: return read_float(x, path, v, f->flags, (double *)dst);
    case K_STR: return read_string(x, path, v, (char **)dst);
    case K_PATH: return read_path(x, path, v, (cfg_path *)dst);
    case K_INTS: return read_ints(x, path, v, f->min, (cfg_ints *)dst);
    }
    return err_set(x->e, PTTS_ERR_INTERNAL, "%s: bad schema", path);
}

/* Reads a mapping against its schema: unknown or repeated keys, then missing ones. */
static int read_map(parse_ctx *x, const char *prefix, const yaml_node_t *n, const field *fields) {
    const char *where = *prefix ? prefix : "config";
    if (n->type != YAML_MAPPING_NODE) return type_error(x, where, n, "a mapping");
    uint32_t seen = 0;
    for (const yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = yaml_document_get_node(x->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
        if (!k || !v) return err_set(x->e, PTTS_ERR_CONFIG, "%s: bad node", where);
        if (k->type != YAML_SCALAR_NODE)
            return err_set(x->e, PTTS_ERR_CONFIG, "%s: a key is not a string (line %zu)", where,
                           k->start_mark.line + 1);
        const char *key = (const char *)k->data.scalar.value;
        char shown[64], path[160];
        clip(shown, sizeof shown, key);
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", shown);
        size_t i = 0;
        while (fields[i].key && strcmp(fields[i].key, key))
            i++;
        if (!fields[i].key)
            return err_set(x->e, PTTS_ERR_CONFIG, "%s: unknown key (line %zu)", path,
                           k->start_mark.line + 1);
        if (seen & (1u << i))
            return err_set(x->e, PTTS_ERR_CONFIG, "%s: repeated key (line %zu)", path,
                           k->start_mark.line + 1);
        seen |= 1u << i;
        int rc = read_field(x, path, v, &fields[i]);
        if (rc) return rc;
    }
    for (size_t i = 0; fields[i].key; i++)
        if ((fields[i].flags & F_REQ) && !(seen & (1u << i)))
            return err_set(x->e, PTTS_ERR_CONFIG, "%s%s%s: missing", prefix, *prefix ? "." : "",
                           fields[i].key);
    return PTTS_OK;
}

static int check_heads(ptts_err *e, const char *where, int d_model, int num_heads) {
    if (d_model % num_heads)
        return err_set(e, PTTS_ERR_CONFIG, "%s.d_model: %d is not a multiple of num_heads %d",
                       where, d_model, num_heads);
    if ((d_model / num_heads) % 2) /* rotary embeddings rotate pairs of a head's values */
        return err_set(e, PTTS_ERR_CONFIG, "%s: head size d_model/num_heads = %d must be even",
                       where, d_model / num_heads);
    return PTTS_OK;
}

static int check_dtype(ptts_err *e, const char *where, const char *dtype) {
    static const char *const ok[] = {"float32", "float16", "bfloat16", NULL};
    char shown[64];
    clip(shown, sizeof shown, dtype);
    if (!one_of(dtype, ok))
        return err_set(e, PTTS_ERR_CONFIG, "%s: unknown dtype '%s' (float32, float16 or bfloat16)",
                       where, shown);
    return PTTS_OK;
}

/* Sizes that must agree for the model to be built (SPEC 1.1, 3.5). */
static int check_config(ptts_config *c, ptts_err *e) {
    int rc;
    char shown[64];
    if ((rc = check_dtype(e, "flow_lm.dtype", c->flow_lm.dtype)) ||
        (rc = check_dtype(e, "mimi.dtype", c->mimi.dtype)))
        return rc;
    if ((rc = check_heads(e, "flow_lm.transformer", c->flow_lm.transformer.d_model,
                          c->flow_lm.transformer.num_heads)) ||
        (rc = check_heads(e, "mimi.transformer", c->mimi.transformer.d_model,
                          c->mimi.transformer.num_heads)))
        return rc;
    if (c->flow_lm.lookup_table.dim != c->flow_lm.transformer.d_model)
        return err_set(e, PTTS_ERR_CONFIG,
                       "flow_lm.lookup_table.dim: %d differs from flow_lm.transformer.d_model %d",
                       c->flow_lm.lookup_table.dim, c->flow_lm.transformer.d_model);
    if (strcmp(c->flow_lm.lookup_table.tokenizer, "sentencepiece")) {
        clip(shown, sizeof shown, c->flow_lm.lookup_table.tokenizer);
        return err_set(e, PTTS_ERR_UNSUPPORTED,
                       "flow_lm.lookup_table.tokenizer: '%s' is not supported (sentencepiece)",
                       shown);
    }
    if (c->mimi.channels != 1 || c->mimi.seanet.channels != 1)
        return err_set(e, PTTS_ERR_UNSUPPORTED, "%s: %d channels are not supported (mono only)",
                       c->mimi.channels != 1 ? "mimi.channels" : "mimi.seanet.channels",
                       c->mimi.channels != 1 ? c->mimi.channels : c->mimi.seanet.channels);
    static const char *const pad_modes[] = {"constant", "replicate", NULL};
    if (!one_of(c->mimi.seanet.pad_mode, pad_modes)) {
        clip(shown, sizeof shown, c->mimi.seanet.pad_mode);
        return err_set(e, PTTS_ERR_CONFIG,
                       "mimi.seanet.pad_mode: '%s' is not constant or replicate", shown);
    }
    int dim = c->mimi.seanet.dimension;
    if (c->mimi.inner_dim < 0) c->mimi.inner_dim = dim;
    if (c->mimi.outer_dim < 0) c->mimi.outer_dim = dim;
    if (c->mimi.inner_dim == 0 || c->mimi.outer_dim == 0)
        return err_set(e, PTTS_ERR_CONFIG, "mimi.%s: must be positive",
                       c->mimi.inner_dim ? "outer_dim" : "inner_dim");
    if (c->mimi.transformer.input_dimension != dim)
        return err_set(e, PTTS_ERR_CONFIG,
                       "mimi.transformer.input_dimension: %d differs from mimi.seanet.dimension %d",
                       c->mimi.transformer.input_dimension, dim);
    if (c->mimi.transformer.output_dimensions.n != 1 ||
        c->mimi.transformer.output_dimensions.v[0] != dim)
        return err_set(e, PTTS_ERR_CONFIG,
                       "mimi.transformer.output_dimensions: expected one entry, equal to "
                       "mimi.seanet.dimension %d",
                       dim);
    if (c->mimi.quantizer.output_dimension != c->mimi.outer_dim)
        return err_set(e, PTTS_ERR_CONFIG,
                       "mimi.quantizer.output_dimension: %d differs from mimi.outer_dim %d",
                       c->mimi.quantizer.output_dimension, c->mimi.outer_dim);
    /* The codec runs at sample_rate/hop; latent frames are a whole number of codec steps. */
    int64_t hop = 1;
    for (int i = 0; i < c->mimi.seanet.ratios.n && hop <= c->mimi.sample_rate; i++)
        hop *= c->mimi.seanet.ratios.v[i];
    if (hop > c->mimi.sample_rate || c->mimi.sample_rate % hop)
        return err_set(e, PTTS_ERR_CONFIG,
                       "mimi.seanet.ratios: their product (the hop) does not divide "
                       "mimi.sample_rate %d",
                       c->mimi.sample_rate);
    double stride = (double)(c->mimi.sample_rate / hop) / c->mimi.frame_rate;
    if (stride < 1 || stride != floor(stride))
        return err_set(e, PTTS_ERR_CONFIG,
                       "mimi.frame_rate: %g does not divide the codec rate %d Hz "
                       "(sample_rate / product of ratios) into whole steps",
                       c->mimi.frame_rate, (int)(c->mimi.sample_rate / hop));
    return PTTS_OK;
}

void config_free(ptts_config *c) {
    if (!c) return;
    free(c->name);
    free(c->weights_path.path);
    free(c->weights_path_without_voice_cloning.path);
    free(c->flow_lm.dtype);
    free(c->flow_lm.lookup_table.tokenizer);
    free(c->flow_lm.lookup_table.tokenizer_path.path);
    free(c->flow_lm.weights_path.path);
    free(c->mimi.dtype);
    free(c->mimi.weights_path.path);
    free(c->mimi.seanet.pad_mode);
    memset(c, 0, sizeof *c);
}

/* Refuses nesting deeper than CFG_MAX_DEPTH, reading events only as far as needed. Syntax
 * errors are left to the loader, which reports them. */
static int check_depth(const char *yaml, size_t len, ptts_err *e) {
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return err_set(e, PTTS_ERR_NOMEM, "out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
    int depth = 0, rc = PTTS_OK;
    yaml_event_t ev;
    while (!rc && yaml_parser_parse(&p, &ev)) {
        yaml_event_type_t t = ev.type;
        size_t line = ev.start_mark.line + 1;
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT) break;
        if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
            if (++depth > CFG_MAX_DEPTH)
                rc = err_set(e, PTTS_ERR_CONFIG, "nested more than %d levels deep (line %zu)",
                             CFG_MAX_DEPTH, line);
        } else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
            depth--;
        }
    }
    yaml_parser_delete(&p);
    return rc;
}

static int parse_document(parse_ctx *x, yaml_parser_t *p, const char *yaml, size_t len) {
    int rc = check_depth(yaml, len, x->e);
    if (rc) return rc;
    yaml_parser_set_input_string(p, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(p, x->doc)) {
        if (p->error == YAML_MEMORY_ERROR) return err_set(x->e, PTTS_ERR_NOMEM, "out of memory");
        return err_set(x->e, PTTS_ERR_CONFIG, "invalid YAML at line %zu, column %zu: %s%s%s",
                       p->problem_mark.line + 1, p->problem_mark.column + 1,
                       p->problem ? p->problem : "syntax error", p->context ? " " : "",
                       p->context ? p->context : "");
    }
    const yaml_node_t *root = yaml_document_get_root_node(x->doc);
    if (!root || is_null(root)) return err_set(x->e, PTTS_ERR_CONFIG, "the config is empty");
    /* A second document would be ignored silently: refuse it as PyYAML does. */
    yaml_document_t next;
    if (!yaml_parser_load(p, &next))
        return err_set(x->e, PTTS_ERR_CONFIG, "invalid YAML after the first document at line %zu",
                       p->problem_mark.line + 1);
    int more = yaml_document_get_root_node(&next) != NULL;
    yaml_document_delete(&next);
    if (more) return err_set(x->e, PTTS_ERR_CONFIG, "expected a single YAML document");
    return read_map(x, "", root, root_fields);
}

int config_load_string(ptts_config *c, const char *yaml, size_t len, const char *base_dir,
                       ptts_err *e) {
    if (!c || (!yaml && len)) return err_set(e, PTTS_ERR_INVALID_ARG, "config: NULL argument");
    memset(c, 0, sizeof *c);
    c->model_recommended_frames_after_eos = -1;
    c->mimi.inner_dim = c->mimi.outer_dim = -1;
    c->mimi.transformer.max_period = 10000;

    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p)) return err_set(e, PTTS_ERR_NOMEM, "out of memory");
    parse_ctx x = {.doc = &doc, .c = c, .base_dir = base_dir, .e = e};
    x.c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (!x.c_locale) {
        yaml_parser_delete(&p);
        return err_set(e, PTTS_ERR_NOMEM, "out of memory");
    }
    memset(&doc, 0, sizeof doc);
    int rc = parse_document(&x, &p, yaml ? yaml : "", len);
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    freelocale(x.c_locale);
    if (!rc) rc = check_config(c, e);
    return rc;
}

static char *read_whole_file(const char *path, size_t *len, ptts_err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set(e, PTTS_ERR_IO, "cannot open config '%s': %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(CFG_MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, CFG_MAX_FILE + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!buf) {
        err_set(e, PTTS_ERR_NOMEM, "out of memory");
    } else if (bad) {
        err_set(e, PTTS_ERR_IO, "cannot read config '%s'", path);
    } else if (n > CFG_MAX_FILE) {
        err_set(e, PTTS_ERR_CONFIG, "config '%s' is larger than %u bytes", path, CFG_MAX_FILE);
    } else {
        buf[n] = 0;
        *len = n;
        return buf;
    }
    free(buf);
    return NULL;
}

int config_load_file(ptts_config *c, const char *path, ptts_err *e) {
    if (!c || !path) return err_set(e, PTTS_ERR_INVALID_ARG, "config: NULL argument");
    memset(c, 0, sizeof *c);
    size_t len = 0;
    char *yaml = read_whole_file(path, &len, e);
    if (!yaml) return e ? e->code : PTTS_ERR_IO;
    /* Local paths in the file are relative to its folder. */
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : NULL;
    int rc = slash && !dir ? err_set(e, PTTS_ERR_NOMEM, "out of memory")
                           : config_load_string(c, yaml, len, dir, e);
    free(dir);
    free(yaml);
    if (rc) err_prefix(e, "config '%s'", path);
    return rc;
}

const char *config_builtin_name(size_t i) {
    for (size_t k = 0; ptts_builtin_configs[k].name; k++)
        if (k == i) return ptts_builtin_configs[k].name;
    return NULL;
}

int config_load_builtin(ptts_config *c, const char *name, ptts_err *e) {
    if (!c || !name) return err_set(e, PTTS_ERR_INVALID_ARG, "config: NULL argument");
    memset(c, 0, sizeof *c);
    if (!strcmp(name, "french"))
        return err_set(e, PTTS_ERR_NOT_FOUND,
                       "only a larger 24-layer model is available for French: use the language "
                       "'french_24l'");
    for (const ptts_builtin_config *b = ptts_builtin_configs; b->name; b++) {
        if (strcmp(b->name, name)) continue;
        int rc = config_load_string(c, b->yaml, strlen(b->yaml), NULL, e);
        if (rc) return err_prefix(e, "built-in config '%s'", name);
        if (!(c->name = strdup(name))) return err_set(e, PTTS_ERR_NOMEM, "out of memory");
        return PTTS_OK;
    }
    char list[512] = "", shown[64];
    size_t n = 0;
    for (size_t i = 0; config_builtin_name(i) && n < sizeof list; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "",
                              config_builtin_name(i));
    clip(shown, sizeof shown, name);
    return err_set(e, PTTS_ERR_NOT_FOUND, "unknown language '%s' (available: %s)", shown, list);
}
