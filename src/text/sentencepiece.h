/* sentencepiece.h - a SentencePiece tokenizer: reads a `tokenizer.model` (protobuf
 * ModelProto) and encodes/decodes as the SentencePiece library does (Unigram, BPE, WORD and
 * CHAR models; precompiled character map, user-defined, control and byte pieces).
 *
 *     spm_model *m;
 *     if (spm_load(&m, "tokenizer.model", &e)) ...;          // e.msg says why
 *     int32_t *ids; size_t n;
 *     if (spm_encode(m, text, strlen(text), &ids, &n, &e)) ...;
 *     char *back;
 *     spm_decode(m, ids, n, &back, &e);
 *     free(ids); free(back); spm_free(m);
 */
#ifndef PTTS_SENTENCEPIECE_H
#define PTTS_SENTENCEPIECE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct spm_model spm_model; /* immutable after load; encode/decode reentrant */

/* Reads and validates a model. On error *out is NULL and e says what is wrong. */
int spm_load(spm_model **out, const char *path, ptts_err *e);
/* Same from a serialized ModelProto in memory (copied; buf may be freed afterwards). */
int spm_load_memory(spm_model **out, const void *buf, size_t len, ptts_err *e);
void spm_free(spm_model *m); /* accepts NULL */

int spm_vocab_size(const spm_model *m);
/* The piece of an id (lives as long as m), NULL if out of range. */
const char *spm_id_to_piece(const spm_model *m, int id);
/* The id of a piece (NUL-terminated), the unknown id if there is no such piece. */
int spm_piece_to_id(const spm_model *m, const char *piece);
/* Special ids as SentencePiece reports them: -1 if the model has none. */
int spm_unk_id(const spm_model *m);
int spm_bos_id(const spm_model *m);
int spm_eos_id(const spm_model *m);
int spm_pad_id(const spm_model *m);

/* Encodes UTF-8 text of length len (invalid bytes are encoded as U+FFFD, as SentencePiece
 * does). *ids is malloc'd (caller frees; non-NULL on success even when *n is 0). Never adds
 * BOS/EOS. */
int spm_encode(const spm_model *m, const char *text, size_t len, int32_t **ids, size_t *n,
               ptts_err *e);
/* Same, as piece strings (SentencePiece's EncodeAsPieces: a run of unknown characters is
 * one piece holding their text). *pieces is one malloc'd block holding the pointers and the
 * strings: free(*pieces) frees everything. */
int spm_encode_pieces(const spm_model *m, const char *text, size_t len, char ***pieces, size_t *n,
                      ptts_err *e);
/* Decodes ids into malloc'd, NUL-terminated UTF-8 text (caller frees). An id out of range
 * is an error (PTTS_ERR_INVALID_ARG). A <0x00> byte piece yields an embedded NUL. */
int spm_decode(const spm_model *m, const int32_t *ids, size_t n, char **text, ptts_err *e);

#endif
