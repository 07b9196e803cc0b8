/* The released configs, compiled in from configs/NAME.yaml (see tools/embed_configs.sh). */
#ifndef PTTS_CONFIGS_BUILTIN_H
#define PTTS_CONFIGS_BUILTIN_H

typedef struct ptts_builtin_config {
    const char *name; /* "english", "french_24l", ... */
    const char *yaml; /* the file's text */
} ptts_builtin_config;

extern const ptts_builtin_config ptts_builtin_configs[]; /* ends with {0, 0} */

#endif
