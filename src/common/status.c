#include "pocket_tts.h"

const char *ptts_strerror(int status) {
    switch (status) {
    case PTTS_OK: return "ok";
    case PTTS_ERR_INVALID_ARG: return "invalid argument";
    case PTTS_ERR_NOMEM: return "out of memory";
    case PTTS_ERR_IO: return "input/output error";
    case PTTS_ERR_FORMAT: return "malformed data";
    case PTTS_ERR_CONFIG: return "invalid configuration";
    case PTTS_ERR_UNSUPPORTED: return "unsupported";
    case PTTS_ERR_NETWORK: return "network error";
    case PTTS_ERR_NOT_FOUND: return "not found";
    case PTTS_ERR_DENIED: return "access denied";
    case PTTS_ERR_TEXT: return "invalid text";
    case PTTS_ERR_CANCELLED: return "cancelled";
    case PTTS_ERR_INTERNAL: return "internal error";
    default: return "unknown error";
    }
}
