/* pocket_tts.h - Pocket TTS text-to-speech in C (public API, draft: grows below). */
#ifndef POCKET_TTS_H
#define POCKET_TTS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PTTS_VERSION "0.1.0"

/* Every fallible call returns one of these; details are on the object that failed. */
typedef enum ptts_status {
    PTTS_OK = 0,
    PTTS_ERR_INVALID_ARG = -1, /* a parameter is out of range or NULL */
    PTTS_ERR_NOMEM = -2,       /* an allocation failed */
    PTTS_ERR_IO = -3,          /* a file could not be opened, read or written */
    PTTS_ERR_FORMAT = -4,      /* a file or request is malformed */
    PTTS_ERR_CONFIG = -5,      /* a config is invalid or does not match its checkpoint */
    PTTS_ERR_UNSUPPORTED = -6, /* valid but not supported (dtype, codec, ...) */
    PTTS_ERR_NETWORK = -7,     /* a download failed */
    PTTS_ERR_NOT_FOUND = -8,   /* unknown language, voice, tensor or remote file */
    PTTS_ERR_DENIED = -9,      /* refused: gated weights, voice cloning unavailable */
    PTTS_ERR_TEXT = -10,       /* the text cannot be spoken (empty) */
    PTTS_ERR_CANCELLED = -11,  /* a callback asked to stop */
    PTTS_ERR_INTERNAL = -12,   /* a bug: please report */
} ptts_status;

/* Fixed text for a status code; never NULL, static storage. */
const char *ptts_strerror(int status);

enum { PTTS_LOG_ERROR = 0, PTTS_LOG_WARN = 1, PTTS_LOG_INFO = 2, PTTS_LOG_DEBUG = 3 };
/* Log sink: msg is one line without newline, valid only during the call. */
typedef void (*ptts_log_fn)(void *user_data, int level, const char *msg);

#ifdef __cplusplus
}
#endif
#endif
