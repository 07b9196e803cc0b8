/* pocket_tts.h - Pocket TTS text-to-speech in C.
 *
 * Kyutai's Pocket TTS: SentencePiece tokenizer -> FlowLM transformer with a flow-matching
 * head -> Mimi codec, 24 kHz mono audio, voices cloned from a few seconds of audio.
 *
 *     char err[256];
 *     ptts_model *m;
 *     ptts_model_options mo = ptts_model_default_options();    // English, downloads if needed
 *     if (ptts_model_open(&m, &mo, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
 *     ptts_voice *v;
 *     if (ptts_voice_load(m, "alba", 0, &v, err, sizeof err)) { ... }
 *     ptts_gen *g;
 *     ptts_gen_new(m, &g, err, sizeof err);
 *     ptts_gen_params p = ptts_gen_default_params();
 *     if (ptts_gen_run(g, v, "Hello world.", &p, on_audio, user_data))
 *         fprintf(stderr, "%s\n", ptts_gen_errmsg(g));
 *     ptts_gen_free(g); ptts_voice_free(v); ptts_model_free(m);
 *
 * Conventions. Every fallible call returns PTTS_OK (0) or a negative ptts_status. Calls that
 * create an object take (char *err, size_t errlen) and write one line there on failure;
 * calls on a ptts_gen leave the message on it (ptts_gen_errmsg). The library never prints
 * or exits: logging goes through ptts_log_fn. Destructors accept NULL.
 *
 * Threads. A ptts_model and ptts_voice objects are immutable once made and may be used from
 * any number of threads at once (voices are made from a model without changing it). A
 * ptts_gen belongs to one thread at a time; run one per concurrent generation. Voices must
 * not outlive their model. */
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

/* ------------------------------------------------------------------------------------------
 * Model: weights, tokenizer and codec, loaded once and immutable afterwards. One model may
 * be shared by any number of threads, each running its own ptts_gen.
 * ---------------------------------------------------------------------------------------- */
typedef struct ptts_model ptts_model;

/* Download progress: total is 0 when unknown. Return non-zero to abort. */
typedef int (*ptts_progress_fn)(void *user_data, const char *what, uint64_t done, uint64_t total);

typedef struct ptts_model_options {
    const char *config_path; /* a YAML config file (local paths in it are relative to it) */
    const char *language;    /* a released config when config_path is NULL ("english") */
    int quantize;            /* 1: int8 weights for the FlowLM transformer's linear layers */
    int n_threads;           /* kernel threads per generation; 0 = one per core */
    const char *cache_dir;   /* download cache; NULL = the Hugging Face hub cache */
    const char *hf_token;    /* NULL = $HF_TOKEN */
    int offline;             /* -1 = $HF_HUB_OFFLINE, 0 = may download, 1 = never */
    ptts_log_fn log;         /* NULL = silent */
    void *log_user_data;
    ptts_progress_fn progress; /* NULL = none */
    void *progress_user_data;
    /* Voices fetched from URLs or hf:// larger than this are refused (a server taking voice
     * references from requests wants a bound); 0 = no limit. */
    uint64_t max_voice_bytes;
} ptts_model_options;

ptts_model_options ptts_model_default_options(void);

/* Loads (downloading when needed) the model. On failure *out is NULL and err holds one line. */
int ptts_model_open(ptts_model **out, const ptts_model_options *opt, char *err, size_t errlen);
void ptts_model_free(ptts_model *m); /* accepts NULL */

int ptts_model_sample_rate(const ptts_model *m); /* 24000 */
/* 0 when only the weights without voice cloning could be had: voices from audio are refused. */
int ptts_model_can_clone(const ptts_model *m);
/* The released config's name ("english", ...) or NULL for a config file. Borrowed. */
const char *ptts_model_language(const ptts_model *m);

/* Predefined voices of a language (NULL = the model's; "english" for a config file).
 * *names is a static NULL-terminated list; the return value is the default voice's index, or
 * a negative status for an unknown language. */
int ptts_voice_names(const char *language, const char *const **names);

/* ------------------------------------------------------------------------------------------
 * Voices: the FlowLM state after the voice prompt. Immutable; share freely across threads.
 * ---------------------------------------------------------------------------------------- */
typedef struct ptts_voice ptts_voice;

/* spec: a predefined voice name, a voice file (.safetensors), an audio file (WAV, FLAC, MP3,
 * OGG at any rate), or an hf:// or http(s):// URL of either. Audio is cut to max_seconds
 * (0 = whole). Cloning from audio needs ptts_model_can_clone(). */
int ptts_voice_load(ptts_model *m, const char *spec, double max_seconds, ptts_voice **out,
                    char *err, size_t errlen);
/* Audio already decoded: mono samples at sample_rate (resampled to the model's rate). */
int ptts_voice_from_samples(ptts_model *m, const float *samples, size_t n, int sample_rate,
                            ptts_voice **out, char *err, size_t errlen);
/* An audio file held in memory (an upload), cut to max_seconds (0 = whole). */
int ptts_voice_from_audio_memory(ptts_model *m, const void *data, size_t len, double max_seconds,
                                 ptts_voice **out, char *err, size_t errlen);
/* Writes the voice in the upstream voice-file layout (loadable by the Python package). */
int ptts_voice_save(const ptts_voice *v, const char *path, char *err, size_t errlen);
void ptts_voice_free(ptts_voice *v); /* accepts NULL */

/* ------------------------------------------------------------------------------------------
 * Generation: per-thread state (caches, scratch, random generator) for one model.
 * ---------------------------------------------------------------------------------------- */
typedef struct ptts_gen ptts_gen;

typedef struct ptts_gen_params {
    float temperature;    /* 0.7; 0 = deterministic */
    int lsd_decode_steps; /* 1 */
    float noise_clamp;    /* <= 0: none */
    float eos_threshold;  /* -4 */
    int frames_after_eos; /* -1: the config's recommendation, else from the text length */
    int max_tokens;       /* 50: text chunk size in tokens */
    uint64_t seed;        /* noise generator seed (0 = a fixed default) */
    int two_threads;      /* 1: FlowLM and the codec decoder run on two threads */
    /* Debugging and tests: x0 values taken in draw order instead of the generator (one
     * ldim-sized draw per text prompt, per step, see tests/fixtures/README.md). */
    const float *noise;
    size_t noise_len;
    /* Debugging: every latent sent to the decoder, in order (on the FlowLM thread). */
    void (*on_latent)(void *user_data, const float *latent, int ldim);
    void *latent_user_data;
} ptts_gen_params;

ptts_gen_params ptts_gen_default_params(void);

/* Audio out: n samples at the model's rate, valid during the call. Return non-zero to stop
 * the generation (ptts_gen_run then returns PTTS_ERR_CANCELLED). */
typedef int (*ptts_audio_fn)(void *user_data, const float *samples, size_t n);

int ptts_gen_new(ptts_model *m, ptts_gen **out, char *err, size_t errlen);
void ptts_gen_free(ptts_gen *g); /* accepts NULL */
/* The last error's message on this generation ("" when none). Borrowed until the next call. */
const char *ptts_gen_errmsg(const ptts_gen *g);

/* Speaks text with voice, streaming audio frame by frame (1920 samples, 80 ms) to on_audio
 * (called on the calling thread, with user_data). */
int ptts_gen_run(ptts_gen *g, const ptts_voice *v, const char *text, const ptts_gen_params *p,
                 ptts_audio_fn on_audio, void *user_data);
/* Blocking variant: *samples (free with ptts_free) holds the whole audio. */
int ptts_gen_run_all(ptts_gen *g, const ptts_voice *v, const char *text,
                     const ptts_gen_params *p, float **samples, size_t *n);

typedef struct ptts_gen_stats {
    int n_chunks, n_frames;   /* text chunks and latent frames of the last run */
    double audio_seconds;     /* audio produced */
    double wall_ms;           /* whole run */
    double first_audio_ms;    /* from the call to the first on_audio */
    double lm_ms, decode_ms;  /* summed FlowLM and codec decoder time */
} ptts_gen_stats;
/* Figures of the last ptts_gen_run on g. */
void ptts_gen_stats_get(const ptts_gen *g, ptts_gen_stats *out);

/* Frees memory the library returned (samples, ...). Accepts NULL. */
void ptts_free(void *p);

/* ------------------------------------------------------------------------------------------
 * Audio files: WAV output as `pocket-tts generate` writes it (mono 16-bit PCM; sample s
 * becomes trunc(clamp(s, -1, 1) * 32767)), streamed as the audio arrives to a file, to
 * stdout, or through a write callback (an HTTP response). The header carries the exact sizes
 * when the output can seek; otherwise it is a streaming header (sizes 0xFFFFFFFF, which
 * players read as "until the end"). A writer is used by one thread at a time.
 *
 *     ptts_wav *w;
 *     if (ptts_wav_open(&w, "out.wav", err, sizeof err)) ...;  // fails now if unwritable
 *     ...load the model and the voice...
 *     if (ptts_wav_start(w, ptts_model_sample_rate(m))) ...;    // writes the header
 *     ptts_gen_run(g, v, text, &p, on_audio, w);  // on_audio: return ptts_wav_write(w, s, n);
 *     ptts_wav_write_silence(w, ptts_model_sample_rate(m) / 5); // the final 0.2 s
 *     if (ptts_wav_close(w, err, sizeof err)) ...;
 * ---------------------------------------------------------------------------------------- */
typedef struct ptts_wav ptts_wav;

/* Receives the next len bytes of the file; return non-zero to fail the write. */
typedef int (*ptts_write_fn)(void *user_data, const void *data, size_t len);

/* Opens path for writing ("-" = stdout) and writes nothing yet, so that an unwritable output
 * fails before any work. An existing file is left as it is until ptts_wav_start. On failure
 * *out is NULL and err holds one line naming the path. */
int ptts_wav_open(ptts_wav **out, const char *path, char *err, size_t errlen);
/* A writer that hands its bytes to write(user_data, ...); its header is a streaming one. */
int ptts_wav_open_writer(ptts_wav **out, ptts_write_fn write, void *user_data, char *err,
                         size_t errlen);
/* Writes the header for sample_rate Hz (truncating an existing file). Once, before samples. */
int ptts_wav_start(ptts_wav *w, int sample_rate);
/* Appends n samples / n zero samples and flushes them to the output. */
int ptts_wav_write(ptts_wav *w, const float *samples, size_t n);
int ptts_wav_write_silence(ptts_wav *w, size_t n);
/* The last error's message on w ("" when none). Borrowed until the next call on w. */
const char *ptts_wav_errmsg(const ptts_wav *w);
/* Finishes the file (exact sizes when it can seek), closes it (never stdout) and frees w,
 * also on error. A file that ptts_wav_open created and that was never started is removed.
 * Accepts NULL. */
int ptts_wav_close(ptts_wav *w, char *err, size_t errlen);

/* ------------------------------------------------------------------------------------------
 * Text: the tokenizer and the text front-end on their own, without a model (what
 * `pocket-tts tokenize` shows). A tokenizer is immutable once opened: share it across
 * threads. Failing calls return a status and write one line into err (errlen bytes; err may
 * be NULL).
 *
 *     ptts_tokenizer *t;
 *     char err[256];
 *     if (ptts_tokenizer_open(&t, "tokenizer.model", err, sizeof err)) ...;
 *     ptts_text_chunk *c;
 *     size_t n;
 *     if (ptts_text_split(t, "Hello world. How are you?", 50, &c, &n, err, sizeof err)) ...;
 *     for (size_t i = 0; i < n; i++) printf("%zu tokens: %s\n", c[i].n_ids, c[i].text);
 *     ptts_text_chunks_free(c, n);
 *     ptts_tokenizer_free(t);
 * ---------------------------------------------------------------------------------------- */
typedef struct ptts_tokenizer ptts_tokenizer;

/* A SentencePiece model file (tokenizer.model). The front-end's short-input padding and
 * semicolon removal are off. On failure *out is NULL. */
int ptts_tokenizer_open(ptts_tokenizer **out, const char *path, char *err, size_t errlen);
/* The tokenizer of a config: the YAML file config_path or, when it is NULL, the released
 * config `language` (NULL = "english"), with that config's padding and semicolon settings.
 * For now the tokenizer file must be local: an hf:// or http(s):// tokenizer_path gives
 * PTTS_ERR_UNSUPPORTED (as do the released configs). */
int ptts_tokenizer_open_config(ptts_tokenizer **out, const char *config_path, const char *language,
                               char *err, size_t errlen);
void ptts_tokenizer_free(ptts_tokenizer *t); /* accepts NULL */

/* The text's token ids as the tokenizer gives them (no front-end, no BOS/EOS). *ids (free
 * with ptts_free) holds *n ids. */
int ptts_tokenize(const ptts_tokenizer *t, const char *text, int32_t **ids, size_t *n, char *err,
                  size_t errlen);

/* One chunk of a text, generated on its own. */
typedef struct ptts_text_chunk {
    char *text;   /* the chunk as the generator speaks it */
    int32_t *ids; /* its token ids, fed to the model */
    size_t n_ids; /* exceeds max_tokens only when a sentence has no comma to cut at */
} ptts_text_chunk;

/* The front-end as a generation runs it: the text is prepared (whitespace, capital, final
 * period) and cut into chunks of at most max_tokens (>= 1; generation uses 50) tokens at
 * sentence ends, then commas. Empty text: PTTS_ERR_TEXT. *chunks holds *n entries; free
 * them with ptts_text_chunks_free. */
int ptts_text_split(const ptts_tokenizer *t, const char *text, int max_tokens,
                    ptts_text_chunk **chunks, size_t *n, char *err, size_t errlen);
void ptts_text_chunks_free(ptts_text_chunk *chunks, size_t n); /* accepts NULL */

/* ------------------------------------------------------------------------------------------
 * Debugging: a model of a released size with random weights, for benchmarks and tests
 * without the (gated) checkpoints.
 * ---------------------------------------------------------------------------------------- */
enum { PTTS_DTYPE_F32 = 0, PTTS_DTYPE_BF16 = 1, PTTS_DTYPE_F16 = 2 };

/* Writes out_dir/config.yaml (the config of config_path or, when it is NULL, of the released
 * `language`, with weights_path model.safetensors and tokenizer_path tokenizer.model),
 * out_dir/model.safetensors (every tensor the model needs, in the released checkpoint's
 * names and shapes, random values that keep activations in range; the same for the same
 * seed) and out_dir/tokenizer.model (a copy of tokenizer_path or, when NULL, of the config's
 * tokenizer if it is a local file; its vocabulary must have n_bins pieces). out_dir is
 * created if needed. dtype is a PTTS_DTYPE_*. The weights are held in memory while the file
 * is written (1.35 GB for a 24-layer model in f32). */
int ptts_debug_random_model(const char *config_path, const char *language, const char *out_dir,
                            const char *tokenizer_path, uint64_t seed, int dtype, char *err,
                            size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
