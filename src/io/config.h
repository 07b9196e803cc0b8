/* Model config (SPEC 1.1): the upstream YAML schema (pocket_tts/utils/config.py, 2.1.0),
 * read with libyaml and validated. Unknown keys, missing keys, wrong types and
 * inconsistent sizes are errors that name the key path ("mimi.seanet.ratios[1]: ...").
 * The released configs are compiled in (configs_builtin.h). */
#ifndef PTTS_CONFIG_H
#define PTTS_CONFIG_H

#include <stddef.h>

#include "../common/error.h"

#define CFG_MAX_LIST 8 /* longest ratios / output_dimensions list accepted */

typedef enum cfg_path_kind {
    CFG_PATH_NONE,  /* the key is absent or null */
    CFG_PATH_LOCAL, /* a file name, resolved against the config file's folder */
    CFG_PATH_HF,    /* hf://owner/repo/path[@revision], kept as written */
    CFG_PATH_HTTP,  /* http:// or https://, kept as written */
} cfg_path_kind;

typedef struct cfg_path {
    char *path; /* NULL when kind is CFG_PATH_NONE */
    cfg_path_kind kind;
} cfg_path;

typedef struct cfg_ints {
    int n;
    int v[CFG_MAX_LIST];
} cfg_ints;

typedef struct ptts_config {
    char *name; /* the released config's name ("english"), NULL for a file or a string */
    cfg_path weights_path;
    cfg_path weights_path_without_voice_cloning;
    int pad_with_spaces_for_short_inputs;   /* default 0 */
    int remove_semicolons;                  /* default 0 */
    int model_recommended_frames_after_eos; /* -1 when null or absent */
    struct {
        int insert_bos_before_voice; /* default 0 */
        char *dtype;                 /* float32, float16 or bfloat16 */
        struct {
            int depth, dim;
        } flow;
        struct {
            int d_model, hidden_scale, max_period, num_heads, num_layers;
        } transformer;
        struct {
            int dim, n_bins;
            char *tokenizer; /* sentencepiece */
            cfg_path tokenizer_path;
        } lookup_table;
        cfg_path weights_path; /* separate training checkpoint; unused by released configs */
    } flow_lm;
    struct {
        char *dtype;
        int sample_rate, channels;
        double frame_rate;
        int inner_dim, outer_dim; /* seanet.dimension when absent or null */
        cfg_path weights_path;
        struct {
            int dimension, channels, n_filters, n_residual_layers;
            cfg_ints ratios;
            int kernel_size, residual_kernel_size, last_kernel_size, dilation_base;
            char *pad_mode; /* constant or replicate */
            int compress;
        } seanet;
        struct {
            int d_model, num_heads, num_layers;
            double layer_scale;
            int context, dim_feedforward, input_dimension;
            cfg_ints output_dimensions; /* exactly one entry */
            double max_period;          /* default 10000 */
        } transformer;
        struct {
            int dimension, output_dimension;
        } quantizer;
    } mimi;
} ptts_config;

/* Each loader fills *c (zeroed first; free it with config_free even on failure). Content
 * errors are PTTS_ERR_CONFIG with the key path in the message. */
int config_load_file(ptts_config *c, const char *path, ptts_err *e);
/* A released config by name ("english", "french_24l", ...). "french" is refused with a
 * pointer to french_24l; an unknown name is PTTS_ERR_NOT_FOUND listing the valid names. */
int config_load_builtin(ptts_config *c, const char *name, ptts_err *e);
/* yaml is len bytes; relative local paths are resolved against base_dir (NULL: kept). */
int config_load_string(ptts_config *c, const char *yaml, size_t len, const char *base_dir,
                       ptts_err *e);
void config_free(ptts_config *c); /* accepts NULL; leaves *c zeroed */

/* The released configs' names, i = 0, 1, ...; NULL past the last. Static storage. */
const char *config_builtin_name(size_t i);

#endif
