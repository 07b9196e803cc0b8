/* Internal error reporting: every fallible function returns a ptts_status and, on
 * failure, leaves a one-line message in the caller's ptts_err. No globals, no printing. */
#ifndef PTTS_ERROR_H
#define PTTS_ERROR_H

#include "pocket_tts.h"

typedef struct ptts_err {
    int code;      /* last ptts_status set, PTTS_OK when none */
    char msg[512]; /* one line, no trailing newline */
} ptts_err;

/* Formats the message into e (when e is non-NULL) and returns code, so that
 * callers can write `return err_set(e, PTTS_ERR_FORMAT, "...", ...);`. */
int err_set(ptts_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with a context ("loading x: <old>") and returns e->code. */
int err_prefix(ptts_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
