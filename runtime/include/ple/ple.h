/*
 * PLE edge runtime: C API.
 *
 * Stability policy (docs/c-api.md): within one major ABI version (PLE_ABI_VERSION) functions
 * and enum values are only added, never removed or changed; option structs carry their size
 * in `struct_size` and only grow at the end. Nothing in this header is a C++ type.
 *
 * Threading: a ple_model is immutable once opened and may be shared by any number of
 * sessions on any threads. A ple_session is used by one thread at a time.
 * Ownership: every handle returned through an out-pointer is owned by the caller and released
 * with the matching *_close function, which sets the caller's pointer to NULL (closing NULL is
 * a no-op, so a double close is harmless). Strings returned by the library are owned by the
 * object they describe and live as long as it.
 */
#ifndef PLE_PLE_H_
#define PLE_PLE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define PLE_API __declspec(dllexport)
#else
#define PLE_API __attribute__((visibility("default")))
#endif

/* The C ABI's semantic version, MAJOR.MINOR.0 (docs/c-api.md, "Versions"): MAJOR is the soname
 * (libple.so.1) and changes only when something is removed or changed; MINOR counts the
 * releases that added functions, fields or enum values. */
#define PLE_ABI_VERSION 1
#define PLE_ABI_VERSION_MINOR 2

typedef enum ple_status {
  PLE_OK = 0,
  PLE_ERROR_INVALID_ARGUMENT = 1, /* a NULL or out-of-range argument, a wrong size */
  PLE_ERROR_IO = 2,               /* a file could not be opened, read or mapped */
  PLE_ERROR_INVALID_MODEL = 3,    /* not a PLE model, corrupted or inconsistent */
  PLE_ERROR_UNSUPPORTED_VERSION = 4, /* the file needs a newer runtime */
  PLE_ERROR_UNSUPPORTED = 5,      /* valid, but this build cannot do it (e.g. kernel path) */
  PLE_ERROR_OUT_OF_MEMORY = 6,
  PLE_ERROR_BATCH_TOO_LARGE = 7,  /* more candidates than the session was prepared for */
  PLE_ERROR_INTERNAL = 8,
  PLE_ERROR_INTEGRITY = 9         /* a checksum, pinned SHA-256 or signature the caller asked for does not match */
} ple_status;

typedef enum ple_task_type {
  PLE_TASK_BINARY = 0,     /* output is a probability (sigmoid of the head) */
  PLE_TASK_REGRESSION = 1  /* output is the head's value */
} ple_task_type;

typedef enum ple_scope {
  PLE_SCOPE_CANDIDATE = 0, /* differs per candidate */
  PLE_SCOPE_REQUEST = 1    /* the same for every candidate of a request */
} ple_scope;

typedef enum ple_feature_kind {
  PLE_FEATURE_DENSE = 0,    /* float values */
  PLE_FEATURE_SPARSE = 1,   /* one int64 id per row */
  PLE_FEATURE_SEQUENCE = 2  /* a variable number of int64 ids per row, pooled */
} ple_feature_kind;

typedef enum ple_score_transform {
  PLE_SCORE_NONE = 0,      /* f = 1 */
  PLE_SCORE_IDENTITY = 1,  /* f = x */
  PLE_SCORE_LOG1P = 2,     /* f = log(1 + max(x, 0)) */
  PLE_SCORE_SIGMOID = 3    /* f = 1 / (1 + exp(-(scale x + offset))) */
} ple_score_transform;

/* The kernels a session runs (docs/kernels.md). AUTO takes the environment variable
 * PLE_KERNELS (a name below) when set, else the fastest path built and supported by this CPU.
 * Every int8 path gives results bit-identical to REFERENCE; float paths agree within float
 * rounding. Each path is deterministic: a candidate's outputs do not depend on its batch. */
typedef enum ple_kernel_path {
  PLE_KERNELS_AUTO = 0,            /* "auto" */
  PLE_KERNELS_REFERENCE = 1,       /* "reference": plain scalar loops, the oracle of every other path */
  PLE_KERNELS_XNNPACK = 2,         /* "xnnpack": float32 layers through XNNPACK, the others as AUTO */
  PLE_KERNELS_X86_AVX2 = 3,        /* "avx2": AVX2 + FMA + F16C */
  PLE_KERNELS_X86_AVX512 = 4,      /* "avx512": AVX-512 F/BW/VL (int8 without VNNI) */
  PLE_KERNELS_X86_AVX512_VNNI = 5, /* "avx512vnni": AVX-512 with VNNI int8 dot products */
  PLE_KERNELS_X86_AVX_VNNI = 6,    /* "avxvnni": AVX2 with the 256-bit AVX-VNNI dot products */
  PLE_KERNELS_ARM_NEON = 7,        /* "neon": ARM NEON (armv7 with VFPv4, aarch64) */
  PLE_KERNELS_ARM_NEON_DOT = 8,    /* "neondot": aarch64 NEON with the SDOT dot product */
  PLE_KERNELS_ARM_NEON_I8MM = 9,   /* ABI 1.2. "neoni8mm": aarch64 NEON with the i8mm USMMLA (Armv8.6) */
  PLE_KERNELS_WASM_SIMD = 10,      /* ABI 1.2. "wasmsimd": WebAssembly SIMD128 */
  PLE_KERNELS_WASM_RELAXED = 11    /* ABI 1.2. "wasmrelaxed": wasmsimd, narrow int8 groups with relaxed SIMD */
} ple_kernel_path;

/* The path's name above ("unknown" for other values). */
PLE_API const char* ple_kernel_path_name(ple_kernel_path path);
/* PLE_OK and *out_path for a name above; PLE_ERROR_INVALID_ARGUMENT otherwise. */
PLE_API ple_status ple_kernel_path_from_name(const char* name, ple_kernel_path* out_path);
/* 1 when `path` is built into this library and this CPU runs it (AUTO: always), else 0. */
PLE_API int ple_kernel_path_available(ple_kernel_path path);

typedef struct ple_model ple_model;
typedef struct ple_session ple_session;
typedef struct ple_request ple_request;

/* ---- errors and versions ---- */

/* A static, human-readable name of a status code. */
PLE_API const char* ple_status_string(ple_status status);
/* The message of the last failed call on this thread ("" if none). Valid until the next
 * failing call on the same thread. */
PLE_API const char* ple_last_error(void);

PLE_API const char* ple_version_string(void); /* library version, "MAJOR.MINOR.PATCH" */
PLE_API uint32_t ple_abi_version(void);       /* PLE_ABI_VERSION the library was built with */
PLE_API uint32_t ple_schema_version(void);    /* newest model file schema this library reads */
/* "PLE_ABI_VERSION.PLE_ABI_VERSION_MINOR.0" of the library (a caller compiled against an
 * older header sees a MINOR at least as large as its own). */
PLE_API const char* ple_abi_version_string(void);
/* The model file format's semantic version this library reads, "R.S.0": R = its reader version
 * (files needing a newer reader are refused), S = schema revisions since R that added only
 * optional fields (docs/file-format.md). */
PLE_API const char* ple_schema_version_string(void);

/* ---- models ---- */

/* Maps the file read-only; weights are used in place. */
PLE_API ple_status ple_model_open_file(const char* path, ple_model** out_model);

/* Uses caller-owned bytes. When `data` is 64-byte aligned the model reads it in place and the
 * caller must keep it alive and unchanged until the model and all its sessions are closed.
 * Otherwise the model makes one aligned copy (ple_model_is_copy() reports 1) and the caller
 * may free `data` as soon as this returns. */
PLE_API ple_status ple_model_open_buffer(const void* data, size_t size_bytes, ple_model** out_model);

/* Copies `data` into the model (one 64-byte aligned copy, ple_model_is_copy() reports 1)
 * whatever its alignment: for bindings whose buffers move or die after the call. */
PLE_API ple_status ple_model_open_buffer_copy(const void* data, size_t size_bytes, ple_model** out_model);

/* Maps `length` bytes starting at `offset` of the open file `fd` read-only (an Android APK
 * asset opened as an AssetFileDescriptor: its file descriptor, start offset and length). The
 * caller may close `fd` after the call. Weights are used in place when offset is 64-byte
 * aligned; otherwise the model makes one aligned copy (ple_model_is_copy() reports 1). */
PLE_API ple_status ple_model_open_fd(int fd, uint64_t offset, uint64_t length, ple_model** out_model);

/* Integrity and authenticity checks at load (docs/file-format.md, "Integrity trailer"). They
 * run before any byte of the file is interpreted and read the whole file once (about 5 ms per
 * MiB here); a mismatch is PLE_ERROR_INTEGRITY. */
typedef struct ple_model_open_options {
  uint32_t struct_size;            /* sizeof(ple_model_open_options), set by ple_model_open_options_init */
  uint32_t verify_checksum;        /* 1: the file must end with ple-convert's trailer and match its SHA-256 */
  const uint8_t* expected_sha256;  /* NULL, or 32 bytes: the SHA-256 of the whole file (sha256sum's digest) */
  const uint8_t* public_key;       /* NULL, or a 32-byte Ed25519 public key: the trailer must carry a signature
                                    * by it (PLE_ERROR_UNSUPPORTED in builds without libsodium) */
  uint32_t always_copy;            /* buffers: 1 copies as ple_model_open_buffer_copy does */
} ple_model_open_options;

PLE_API void ple_model_open_options_init(ple_model_open_options* options);
/* As ple_model_open_file, _buffer (or _buffer_copy with always_copy) and _fd, with the checks
 * `options` asks for (NULL: none, the same as the plain functions). */
PLE_API ple_status ple_model_open_file_with_options(const char* path, const ple_model_open_options* options,
                                                    ple_model** out_model);
PLE_API ple_status ple_model_open_buffer_with_options(const void* data, size_t size_bytes,
                                                      const ple_model_open_options* options, ple_model** out_model);
PLE_API ple_status ple_model_open_fd_with_options(int fd, uint64_t offset, uint64_t length,
                                                  const ple_model_open_options* options, ple_model** out_model);

/* Releases the caller's reference; sessions keep the model alive until they are closed. */
PLE_API void ple_model_close(ple_model** model);

PLE_API int ple_model_is_copy(const ple_model* model);

/* Features, in the model's order (request-scope features first in files written by
 * ple-convert). Width: floats per row for a dense feature, 1 for a sparse one, max_length for
 * a sequence. Vocabulary: the table's rows (0 for a dense feature). */
PLE_API size_t ple_model_num_features(const ple_model* model);
PLE_API const char* ple_model_feature_name(const ple_model* model, size_t feature); /* NULL if out of range */
PLE_API ple_feature_kind ple_model_feature_kind(const ple_model* model, size_t feature);
PLE_API ple_scope ple_model_feature_scope(const ple_model* model, size_t feature);
PLE_API size_t ple_model_feature_width(const ple_model* model, size_t feature);
PLE_API size_t ple_model_feature_vocabulary(const ple_model* model, size_t feature);
/* Extras: named per-candidate floats used only by the ranking score. */
PLE_API size_t ple_model_num_extras(const ple_model* model);
PLE_API const char* ple_model_extra_name(const ple_model* model, size_t extra);
PLE_API size_t ple_model_num_tasks(const ple_model* model);
PLE_API const char* ple_model_task_name(const ple_model* model, size_t task); /* NULL if out of range */
PLE_API ple_task_type ple_model_task_type(const ple_model* model, size_t task);
/* The same features seen as float inputs (ple_session_run): width is the floats each adds to
 * the row (a sparse or sequence feature adds its embedding). */
PLE_API size_t ple_model_num_inputs(const ple_model* model);
PLE_API const char* ple_model_input_name(const ple_model* model, size_t input);
PLE_API size_t ple_model_input_width(const ple_model* model, size_t input);   /* floats */
PLE_API ple_scope ple_model_input_scope(const ple_model* model, size_t input);
/* Floats per row of ple_session_run: the inputs' widths summed, in the model's order. */
PLE_API size_t ple_model_row_width(const ple_model* model);
/* Metadata by key: "name", "description", "producer", "source_framework"; "" if unset,
 * NULL for an unknown key. */
PLE_API const char* ple_model_metadata(const ple_model* model, const char* key);

/* ---- sessions ---- */

/* Which CPUs a session may use. The classes come from Linux's sysfs (cpuN/cpu_capacity, else
 * cpuN/cpufreq/cpuinfo_max_freq): "little" is the class of the lowest capacity, "big" every CPU
 * above it (on a 1+3+4 phone the prime and the middle cores: PLE_CPUS_MASK names the prime
 * core alone). When nothing tells the CPUs apart, big and little are every CPU. Platforms
 * without thread affinity (Apple, WebAssembly) accept PLE_CPUS_ALL only: anything else is
 * PLE_ERROR_UNSUPPORTED (on Apple platforms set the calling thread's QoS class instead). */
typedef enum ple_cpu_selection {
  PLE_CPUS_ALL = 0,    /* no restriction (the default) */
  PLE_CPUS_BIG = 1,    /* the performance cores */
  PLE_CPUS_LITTLE = 2, /* the efficiency cores: least power, least speed */
  PLE_CPUS_MASK = 3,   /* exactly the CPUs of ple_session_options.cpu_mask */
} ple_cpu_selection;

/* How ple_cpu_classes_get told the CPUs apart. */
typedef enum ple_cpu_class_source {
  PLE_CPU_CLASSES_UNAVAILABLE = 0,   /* no thread affinity on this platform: only PLE_CPUS_ALL */
  PLE_CPU_CLASSES_CAPACITY = 1,      /* cpuN/cpu_capacity (Linux, Android on arm64) */
  PLE_CPU_CLASSES_MAX_FREQUENCY = 2, /* cpuN/cpufreq/cpuinfo_max_freq */
  PLE_CPU_CLASSES_UNIFORM = 3,       /* every CPU alike, or nothing readable: big = little = every CPU */
} ple_cpu_class_source;

/* ABI 1.2. The device's CPU classes as a session with PLE_CPUS_BIG or PLE_CPUS_LITTLE would
 * see them. Masks: bit i = CPU i, CPUs 0 to 63. */
typedef struct ple_cpu_classes {
  uint32_t struct_size;        /* set by the caller to sizeof(ple_cpu_classes) */
  ple_cpu_class_source source;
  uint64_t cpus;               /* the CPUs found (sysfs), or the configured ones */
  uint64_t big;                /* PLE_CPUS_BIG before the intersection with `allowed` */
  uint64_t little;             /* PLE_CPUS_LITTLE before the intersection with `allowed` */
  uint64_t allowed;            /* the CPUs the calling thread may run on */
  uint32_t num_classes;        /* distinct capacities (or frequencies) found; 1 when uniform */
} ple_cpu_classes;

PLE_API ple_status ple_cpu_classes_get(ple_cpu_classes* classes);

typedef struct ple_session_options {
  uint32_t struct_size;         /* sizeof(ple_session_options), set by ple_session_options_init */
  uint32_t max_batch;           /* largest number of candidates per run (default 256) */
  ple_kernel_path kernel_path;  /* default PLE_KERNELS_AUTO */
  /* Threads a run may use, the calling thread included (default 1, at most 64). The session
   * starts num_threads - 1 workers that spin briefly after back-to-back runs and otherwise
   * sleep; a run takes as many as its batch
   * deserves (docs/c-api.md, "Threads"), each a contiguous range of the candidates with its
   * own arena. Outputs are bit-identical for any value. The XNNPACK path keeps candidates on
   * the caller and gives XNNPACK a pool instead. */
  uint32_t num_threads;
  /* 1: the session starts with gate recording on (ple_session_set_gate_recording; its buffers are
   * counted by ple_session_memory_bytes). Default 0: no recording, no cost. */
  uint32_t record_gates;
  /* ABI 1.2. Which CPUs the session's work runs on (docs/performance.md, "Big and little
   * cores"): its workers are pinned to them at creation, and the first run on a calling thread
   * outside them moves that thread inside and leaves it there (as ncnn's powersave modes do:
   * moving it back after every run costs more than a small model's run). Intersected with the
   * CPUs the creating thread may use; an empty result or a CPU the device does not have is
   * PLE_ERROR_INVALID_ARGUMENT. Default PLE_CPUS_ALL: no thread is moved (on Linux the workers
   * only keep off the CPU the caller runs on). */
  ple_cpu_selection cpus;
  uint64_t cpu_mask;            /* with PLE_CPUS_MASK: bit i = CPU i (CPUs 0 to 63) */
} ple_session_options;

PLE_API void ple_session_options_init(ple_session_options* options);

/* Bytes a session with these options will allocate: its arenas (exact) plus the kernel
 * path's own copies of weights (XNNPACK packs every layer: an upper bound; neoni8mm: the
 * model's int8 weights once, in its layout). */
PLE_API ple_status ple_session_memory_bytes(const ple_model* model, const ple_session_options* options,
                                            size_t* out_bytes);

/* Plans the execution and allocates everything a run needs. `options` may be NULL (defaults). */
PLE_API ple_status ple_session_create(const ple_model* model, const ple_session_options* options,
                                      ple_session** out_session);
PLE_API void ple_session_close(ple_session** session);

typedef struct ple_session_info {
  uint32_t struct_size;          /* set by the caller to sizeof(ple_session_info) */
  ple_kernel_path kernel_path;   /* the path chosen (never AUTO) */
  uint32_t max_batch;
  uint32_t tile_rows;            /* candidates computed together per step */
  size_t arena_bytes;            /* activations scratch of every thread, allocated once */
  size_t packed_weight_bytes;    /* the kernel path's own weight copies: XNNPACK's (this session's), neoni8mm's
                                  * (the model's int8 weights in the i8mm layout, shared by its sessions
                                  * on that path); 0 otherwise */
  uint32_t num_threads;          /* threads a run uses (filled when struct_size covers it) */
  /* ABI 1.2: the CPUs the session's workers run with, as each worker read its own affinity
   * (their union); 0 without workers or thread affinity. */
  uint64_t worker_cpu_mask;
} ple_session_info;

PLE_API ple_status ple_session_get_info(const ple_session* session, ple_session_info* info);

/* Scores `num_candidates` rows of a model whose features are all dense (others:
 * PLE_ERROR_UNSUPPORTED, use ple_session_run_features). `inputs` holds num_candidates x
 * ple_model_row_width floats, row-major, every input in the model's order, request-scope ones
 * included (each row brings its own); `outputs` receives num_candidates x num_tasks floats,
 * row-major, in task order (`outputs_count` must be at least that). Performs no heap
 * allocation. A candidate's outputs do not depend on the other rows of the batch. */
PLE_API ple_status ple_session_run(ple_session* session, const float* inputs, size_t inputs_count,
                                   size_t num_candidates, float* outputs, size_t outputs_count);

/* ---- features, request contexts, ranking ---- */

/* One feature's (or extra's) values for `count` rows: count = 1 for a request, the number of
 * candidates otherwise. Unused pointers are NULL. Nothing is retained after the call. */
typedef struct ple_feature_values {
  const char* name;          /* a feature or an extra */
  const float* values;       /* dense feature or extra: count x width floats, row-major */
  size_t num_values;         /* must equal count x width */
  const int64_t* ids;        /* sparse: count ids; sequence: every row's ids, one row after another */
  size_t num_ids;            /* sparse: count; sequence: the sum of `lengths` (or count x max_length) */
  const uint32_t* lengths;   /* sequence: ids per row (<= max_length); NULL: max_length each, padded
                              * with the feature's padding id */
} ple_feature_values;

/* A request context: the request-scope features of one request (user, context), given once.
 * The request-level part of the computation is done once per context and reused by every run
 * against it until it is set again. A request is used by one thread at a time; it keeps its
 * model alive. */
PLE_API ple_status ple_request_create(const ple_model* model, ple_request** out_request);
PLE_API void ple_request_close(ple_request** request);
/* Gives every request-scope feature (and nothing else), for one row. Validates and copies:
 * the caller's arrays may be freed after the call. Performs no heap allocation. */
PLE_API ple_status ple_request_set(ple_request* request, const ple_feature_values* features, size_t num_features);

/* Scores `num_candidates` candidates of `request` (NULL when the model has no request-scope
 * features). `candidates` gives every candidate-scope feature, and the extra the score reads
 * when `scores` is wanted. `outputs`: num_candidates x num_tasks floats; `scores`: NULL, or
 * num_candidates floats (the model needs a score, or ple_session_set_score). Performs no heap
 * allocation. A candidate's outputs and score do not depend on the rest of the batch. */
PLE_API ple_status ple_session_run_features(ple_session* session, const ple_request* request,
                                            const ple_feature_values* candidates, size_t num_features,
                                            size_t num_candidates, float* outputs, size_t outputs_count,
                                            float* scores, size_t scores_count);

/* The ranking score, score = prod_k p_k^exponents[k] * f(x) (docs/config-format.md). */
typedef struct ple_score_params {
  uint32_t struct_size;            /* sizeof(ple_score_params) */
  const float* exponents;          /* one per task, in task order */
  size_t num_exponents;
  float regression_floor;          /* regression outputs are clamped to >= this (>= 0) */
  ple_score_transform transform;
  const char* transform_input;     /* an extra or a candidate-scope dense feature of width 1 */
  float transform_scale;           /* PLE_SCORE_SIGMOID */
  float transform_offset;
} ple_score_params;

/* The model's score (PLE_ERROR_UNSUPPORTED if it has none); pointers are owned by the model. */
PLE_API ple_status ple_model_get_score(const ple_model* model, ple_score_params* score);
/* Replaces the session's score for the next runs (copied). */
PLE_API ple_status ple_session_set_score(ple_session* session, const ple_score_params* score);

/* ---- profiling ---- */

typedef struct ple_stage_time {
  const char* name;      /* "features", "level 1" .. "level L", "towers", "outputs"; owned by the session */
  uint64_t nanoseconds;  /* wall time spent in the stage by all threads, summed, since profiling was turned on */
} ple_stage_time;

/* Turns per-stage timing of the following runs on (1) or off (0) and zeroes the totals. Off
 * (the default), a run reads no clock. "features" is the feature layer; a level is its
 * experts, gate layers and gate sums (level 1 also a request context's request part);
 * "outputs" is the task outputs and the score. */
PLE_API ple_status ple_session_set_profiling(ple_session* session, int enable);
/* Copies min(capacity, stages) totals into `stages` (may be NULL when capacity is 0) and the
 * number of stages into `*out_count`. The names stay valid while the session is open. */
PLE_API ple_status ple_session_get_profile(ple_session* session, ple_stage_time* stages, size_t capacity,
                                           size_t* out_count);

/* ---- encoders: raw values to ids (docs/encoders.md) ---- */

typedef enum ple_encoder_kind {
  PLE_ENCODER_NONE = 0,               /* the feature takes ids */
  PLE_ENCODER_STRING_VOCABULARY = 1,  /* UTF-8 strings -> ids (OOV: the encoder's OOV id, or an error) */
  PLE_ENCODER_INT_VOCABULARY = 2,     /* int64 values -> ids */
  PLE_ENCODER_HASH_STRING = 3,        /* ple_hash64(UTF-8 bytes) % buckets */
  PLE_ENCODER_HASH_INT = 4,           /* ple_hash64(the int64's 8 little-endian bytes) % buckets */
  PLE_ENCODER_BOUNDARIES = 5          /* float -> number of boundaries <= value */
} ple_encoder_kind;

/* The encoder of a feature (PLE_ENCODER_NONE for dense features and out of range) and its
 * size: vocabulary keys, hash buckets or boundaries (0 without one). */
PLE_API ple_encoder_kind ple_model_feature_encoder(const ple_model* model, size_t feature);
PLE_API uint64_t ple_model_feature_encoder_size(const ple_model* model, size_t feature);
/* The index of the feature called `name`, or -1. */
PLE_API int64_t ple_model_find_feature(const ple_model* model, const char* name);
/* Encode `count` raw values of one feature into `out_ids` with the model's encoder: strings
 * (UTF-8; `lengths` NULL: NUL-terminated), int64 or float, as the encoder takes. The ids then
 * go to ple_feature_values.ids. No allocation; the model is not changed (any thread).
 * PLE_ERROR_INVALID_ARGUMENT names the first bad value: a type the encoder does not take,
 * malformed UTF-8, a value outside a vocabulary without an OOV id, NaN. */
PLE_API ple_status ple_model_encode_strings(const ple_model* model, size_t feature, const char* const* values,
                                            const size_t* lengths, size_t count, int64_t* out_ids);
PLE_API ple_status ple_model_encode_ints(const ple_model* model, size_t feature, const int64_t* values, size_t count,
                                         int64_t* out_ids);
PLE_API ple_status ple_model_encode_floats(const ple_model* model, size_t feature, const float* values, size_t count,
                                           int64_t* out_ids);
/* The hash of the hash encoders (FNV-1a 64, then MurmurHash3's fmix64): tools/ple_hash.py
 * computes the same on the training side. */
PLE_API uint64_t ple_hash64(const void* data, size_t size);

/* ---- structure and gate diagnostics (docs/diagnostics.md) ---- */

/* A level's experts and gates read and write streams: 0 .. num_tasks - 1 are the tasks'
 * streams, num_tasks is the shared stream. Levels, experts and gates are numbered from 0 in
 * the file's order (ple-inspect prints them). Counts are 0 for an out-of-range level. */
PLE_API size_t ple_model_num_levels(const ple_model* model);
PLE_API size_t ple_model_num_experts(const ple_model* model, size_t level);
PLE_API size_t ple_model_num_gates(const ple_model* model, size_t level);

typedef struct ple_expert_info {
  uint32_t struct_size;     /* set by the caller to sizeof(ple_expert_info) */
  uint32_t input_stream;    /* a task's stream (task-specific expert) or num_tasks (shared) */
  uint32_t input_width;     /* floats in, floats out */
  uint32_t output_width;
  uint32_t num_layers;
  uint64_t parameters;      /* weights, biases and PReLU slopes */
} ple_expert_info;

typedef struct ple_gate_info {
  uint32_t struct_size;     /* set by the caller to sizeof(ple_gate_info) */
  uint32_t input_stream;
  uint32_t output_stream;   /* the stream it writes: a task's, or num_tasks (shared) */
  uint32_t num_experts;     /* weights per candidate */
  const uint32_t* experts;  /* the level's experts it weighs, in softmax order; owned by the model */
  uint32_t num_layers;      /* 0: it weighs a single expert by 1 */
  uint64_t parameters;
} ple_gate_info;

PLE_API ple_status ple_model_get_expert(const ple_model* model, size_t level, size_t expert, ple_expert_info* info);
PLE_API ple_status ple_model_get_gate(const ple_model* model, size_t level, size_t gate, ple_gate_info* info);

/* Gate recording, off by default. On (1): the following runs keep every computed gate's
 * softmax weights per candidate; turning it on allocates max_batch x num_experts floats per
 * gate, and a run then does no extra work and no allocation. Off (0) frees them; a session
 * that never records pays nothing. PLE_ERROR_OUT_OF_MEMORY when those buffers would exceed
 * half the platform's address space (32-bit targets: 1 GiB), as for a session itself. */
PLE_API ple_status ple_session_set_gate_recording(ple_session* session, int enable);
/* Copies the last run's weights of one gate: `*out_rows` = the run's candidates,
 * `*out_experts` (when not NULL) = the gate's num_experts, and min(capacity, rows x
 * num_experts) floats into `weights` (row-major, the gate's expert order; may be NULL when
 * capacity is 0). Rows is 0 before the first run since recording started.
 * A gate without layers (num_layers 0) weighs its one expert by 1: its rows are 1.
 * PLE_ERROR_UNSUPPORTED when recording is off or the gate is not computed (no task output
 * depends on it, e.g. a last level's shared gate); PLE_ERROR_INVALID_ARGUMENT when out of range. */
PLE_API ple_status ple_session_get_gate_weights(const ple_session* session, size_t level, size_t gate,
                                                float* weights, size_t capacity, size_t* out_rows,
                                                size_t* out_experts);

/* Writes the indices of the min(k, count) best scores, best first; ties keep the lower index
 * first; NaN scores rank last. No allocation. */
PLE_API ple_status ple_rank_top_k(const float* scores, size_t count, size_t k, uint32_t* out_indices);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PLE_PLE_H_ */
