/* The Hugging Face hub cache on disk, laid out as the Python huggingface_hub package does
 * so that files it downloaded are used as they are:
 *   <root>/models--<owner>--<name>/blobs/<etag>               the file's bytes
 *   <root>/models--<owner>--<name>/snapshots/<commit>/<path>  relative symlink to the blob
 *   <root>/models--<owner>--<name>/refs/<revision>            commit of a branch or tag
 * Every write goes to a unique temporary name first and is renamed into place, so a reader
 * (or a concurrent downloader) never sees half a file. */
#ifndef PTTS_HF_CACHE_H
#define PTTS_HF_CACHE_H

#include "../common/error.h"

#define HFC_PATH_MAX 4096

/* snprintf into out (HFC_PATH_MAX bytes); PTTS_ERR_INVALID_ARG when it does not fit. */
int hfc_path(char *out, ptts_err *e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* out = <root>/models--<owner>--<name> for repo "owner/name". */
int hfc_repo_dir(char *out, const char *root, const char *repo, ptts_err *e);

/* 1 when s is a full commit hash (40 lowercase hex digits, as huggingface_hub expects). */
int hfc_is_commit(const char *s);

/* The cached file for revision (a 40-hex commit, or a branch/tag read through refs/).
 * Returns 1 and fills out (HFC_PATH_MAX) when the snapshot file exists, else 0. */
int hfc_lookup(char *out, const char *repo_dir, const char *revision, const char *file);

/* refs/<revision> = commit (atomic); nothing to do when revision is the commit itself. */
int hfc_write_ref(const char *repo_dir, const char *revision, const char *commit, ptts_err *e);

/* snapshots/<commit>/<file> -> "../../blobs/<etag>" (one more "../" per folder in file),
 * replacing any previous link; the link's path goes to out (HFC_PATH_MAX). */
int hfc_link_snapshot(char *out, const char *repo_dir, const char *commit, const char *file,
                      const char *etag, ptts_err *e);

/* mkdir -p. */
int hfc_mkdirs(const char *path, ptts_err *e);

/* Creates "<final>.<8 hex>.incomplete" exclusively (the folder must exist); its name goes
 * to tmp (HFC_PATH_MAX) and its descriptor to *fd. */
int hfc_temp_open(const char *final, char *tmp, int *fd, ptts_err *e);
/* Makes a finished temp file durable and visible: fsync, close, rename to final, fsync the
 * folder. The temp file is gone afterwards, whatever happens. */
int hfc_temp_commit(int fd, const char *tmp, const char *final, ptts_err *e);
/* Drops an unfinished temp file (closes fd when >= 0). */
void hfc_temp_discard(int fd, const char *tmp);

/* 1 when path names an existing regular file (symlinks followed). */
int hfc_is_file(const char *path);

#endif
