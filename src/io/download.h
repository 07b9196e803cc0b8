/* download: turns a file reference from a config into a local path, downloading and
 * caching it when needed.
 *
 *   hf://owner/repo/path/in/repo[@revision]   revision defaults to "main"; fetched from
 *       <endpoint>/owner/repo/resolve/<revision>/<path> into the Hugging Face hub cache
 *       (layout in hf_cache.h), so files the Python package downloaded are reused.
 *   http://... or https://...                 cached under <cache>/pocket-tts-urls/
 *       <sha256 of the URL>/<last path segment>; a cached URL is never fetched again.
 *   anything else                             a local path, returned as is if it exists.
 *
 * A pinned 40-hex revision whose snapshot file exists needs no network. A branch or tag is
 * asked to the hub (one HEAD) to learn its current commit; when the hub cannot be reached,
 * or refuses, the commit last recorded in refs/ is used if its file is cached.
 *
 *     dl_options o = dl_options_default();      // environment: HF_HUB_CACHE, HF_TOKEN, ...
 *     char *path = NULL;
 *     ptts_err e = {0};
 *     if (dl_resolve(&o, "hf://kyutai/pocket-tts/tokenizer.model@main", &path, &e))
 *         fprintf(stderr, "%s\n", e.msg);
 *     free(path);
 *
 * Thread safety: dl_resolve keeps no global state and may run in several threads at once
 * (also in several processes sharing a cache: every write is atomic), once
 * dl_global_init has run. */
#ifndef PTTS_DOWNLOAD_H
#define PTTS_DOWNLOAD_H

#include <stdint.h>

#include "../common/error.h"

#define DL_PATH_MAX 4096

/* Download progress: done bytes out of total (0 when unknown). Called often, also about
 * once a second while nothing arrives. A non-zero return cancels (PTTS_ERR_CANCELLED). */
typedef int (*dl_progress_fn)(void *user_data, uint64_t done, uint64_t total);

typedef struct dl_options {
    char cache_dir[DL_PATH_MAX]; /* hub cache root; "" when unknown (then only local paths) */
    char endpoint[512];          /* hub base URL, no trailing '/' */
    char token[512];             /* bearer token for the endpoint's host; "" for none */
    int offline;                 /* non-zero: never use the network, only the cache */
    long connect_timeout_s;      /* giving up on connecting */
    long stall_timeout_s;        /* giving up when no byte arrives for this long */
    uint64_t max_bytes;          /* refuse files larger than this; 0 = no limit */
    dl_progress_fn progress;     /* may be NULL */
    void *user_data;             /* passed to progress */
} dl_options;

/* Defaults from the environment, as huggingface_hub reads it:
 *  cache_dir: $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else <home>/hub with
 *             <home> = $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface
 *  endpoint:  $HF_ENDPOINT, else https://huggingface.co
 *  token:     $HF_TOKEN, else $HUGGING_FACE_HUB_TOKEN, else the file $HF_TOKEN_PATH or
 *             <home>/token written by `huggingface-cli login`
 *  offline:   $HF_HUB_OFFLINE (or $TRANSFORMERS_OFFLINE) is 1, on, yes or true
 *  timeouts:  connect 10 s, stall 30 s; no progress callback.
 * Override any field afterwards. Reads the environment: do not call while another thread
 * runs setenv. */
dl_options dl_options_default(void);

/* Resolves ref (see above) to a local file path, malloc'd into *local_path (free() it);
 * *local_path is NULL on error. Errors say what to do: PTTS_ERR_NOT_FOUND (no such local
 * file, remote file or revision, or not cached while offline), PTTS_ERR_DENIED (gated or
 * private repository: accept its conditions and set HF_TOKEN), PTTS_ERR_NETWORK (host
 * unreachable, transfer cut, size or SHA-256 mismatch: nothing is left in the cache),
 * PTTS_ERR_IO (cache not writable), PTTS_ERR_INVALID_ARG (malformed ref),
 * PTTS_ERR_CANCELLED (progress returned non-zero). */
int dl_resolve(const dl_options *o, const char *ref, char **local_path, ptts_err *e);

/* libcurl's process-wide setup (reference counted): call once from the main thread before
 * any other thread starts (the library's init path or the CLI's main), and pair with
 * dl_global_cleanup at exit. */
int dl_global_init(ptts_err *e);
void dl_global_cleanup(void);

#endif
