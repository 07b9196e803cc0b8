/* Mimi codec (SPEC 3.5): latent frames (12.5 Hz) <-> 24 kHz audio.
 *
 *   decode, per frame: z (normalised, ldim) -> z*emb_std + emb_mean -> quantizer.output_proj
 *     -> upsample (x stride positions) -> decoder transformer -> SEANet decoder -> frame_size
 *     samples, with a streaming state (conv tails, KV ring) that lives for one chunk;
 *   encode: audio -> zero-pad to whole frames -> SEANet encoder -> encoder transformer
 *     -> downsample -> [frames][inner_dim], run in blocks through the same kind of state so
 *     that memory and attention work stay linear in the audio length.
 *
 * The model is immutable after mimi_load and may be shared by threads; each thread owns
 * its mimi_decoder. */
#ifndef PTTS_MIMI_H
#define PTTS_MIMI_H

#include "model/conv.h"
#include "model/seanet.h"
#include "model/transformer.h"

typedef struct mimi_config {
    seanet_config seanet; /* mimi.seanet.* (pad_mode as seanet.replicate) */
    int sample_rate;      /* mimi.sample_rate (24000) */
    double frame_rate;    /* mimi.frame_rate (12.5) */
    int inner_dim;        /* mimi.inner_dim: encoder latent width */
    int outer_dim;        /* mimi.outer_dim: decoder input width after output_proj */
    int ldim;             /* mimi.quantizer.dimension */
    int quant_out;        /* mimi.quantizer.output_dimension */
    struct {
        int d_model, num_heads, num_layers, dim_feedforward;
        int context;      /* attention window in positions, > 0 */
        int layer_scale;  /* layer_scale set (per-channel scales in the checkpoint) */
        float max_period; /* RoPE base, 10000 by default */
        int input_dimension, output_dimension; /* must equal d_model (no projections) */
    } tf;
} mimi_config;

typedef struct mimi {
    mimi_config cfg;
    int dim;                   /* SEANet dimension = transformer width */
    int stride;                /* codec positions per latent frame (16) */
    int frame_size;            /* samples per latent frame (1920) */
    float *emb_std, *emb_mean; /* [ldim], flow_lm.emb_std / flow_lm.emb_mean */
    conv1d output_proj;        /* mimi.quantizer.output_proj: 1x1, ldim -> dim */
    convtr1d upsample;         /* mimi.upsample.convtr.convtr: depthwise, k = 2*stride */
    conv1d downsample;         /* mimi.downsample.conv.conv: dim -> inner_dim, replicate */
    tf dec_tf, enc_tf;         /* mimi.{decoder,encoder}_transformer.transformer. */
    seanet dec, enc;           /* mimi.decoder / mimi.encoder */
} mimi;

/* Loads every mimi.* tensor plus flow_lm.emb_std/emb_mean from f (f may be closed
 * afterwards). Dims are checked against cfg; errors name the tensor or the setting. */
int mimi_load(mimi *m, const st_file *f, const mimi_config *cfg, ptts_err *e);
void mimi_free(mimi *m); /* accepts a zeroed mimi */

/* Streaming decoder state for one chunk; allocated once, nothing is allocated per frame.
 * The KV cache is a ring of context - 1 + stride*max_frames positions. */
typedef struct mimi_decoder {
    int max_frames;
    conv_state proj, up;
    tf_cache kv;
    tf_scratch tfs;
    seanet_state sn;
    float *u;   /* [max_frames][ldim]: de-normalised latents */
    float *lat; /* [max_frames][dim] */
    float *x;   /* [max_frames*stride][dim] */
} mimi_decoder;

/* max_frames: most frames one mimi_decode call may take (1 for frame-by-frame). */
int mimi_decoder_init(mimi_decoder *d, const mimi *m, int max_frames, ptts_err *e);
void mimi_decoder_reset(mimi_decoder *d, const mimi *m); /* fresh state for a new chunk */
void mimi_decoder_free(mimi_decoder *d, const mimi *m);  /* accepts a zeroed decoder */

/* z: [n][ldim] normalised latents (frames in order) -> pcm: [n*frame_size] samples.
 * 1 <= n <= max_frames. */
int mimi_decode(const mimi *m, mimi_decoder *d, const float *z, int n, float *pcm, tpool *pool,
                ptts_err *e);

/* Frames that mimi_encode makes of n samples: ceil(n / frame_size), at least 1. */
int mimi_encode_frames(const mimi *m, size_t n);
/* audio: n mono samples at sample_rate -> *out: malloc'd [*n_frames][inner_dim] latents
 * (the caller frees it). The encoder runs once from a fresh state, from position 0. */
int mimi_encode(const mimi *m, const float *audio, size_t n, float **out, int *n_frames,
                tpool *pool, ptts_err *e);

#endif
