// The C API: argument checks, handle ownership, and translation of internal Status values
// into status codes plus this thread's last-error message. No C++ exception crosses it.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <new>
#include <type_traits>
#include <vector>

#include "load/model.h"
#include "ple/ple.h"
#include "capi/c_api_internal.h"
#include "run/encoder.h"
#include "run/hash64.h"
#include "load/integrity.h"
#include "kernels/kernel_set.h"
#include "run/session.h"

#ifndef PLE_VERSION
#error "PLE_VERSION must be defined by the build"
#endif

struct ple_model {
  std::shared_ptr<const ple::rt::Model> model;
};

struct ple_session {
  std::unique_ptr<ple::rt::Session> session;
  std::vector<ple::rt::FeatureSource> sources;  // scratch: one per feature and extra
  std::vector<uint8_t> given;                   // scratch: which were given
};

struct ple_request {
  std::shared_ptr<const ple::rt::Model> model;
  std::vector<float> values;                    // the request-scope columns (Model::request_width)
  uint64_t generation = 0;                      // 0: not set yet
  std::vector<ple::rt::FeatureSource> sources;  // scratch
  std::vector<uint8_t> given;                   // scratch
};

namespace {

using ple::rt::SetLastError;

ple_status Fail(const ple::rt::Status& status) { return SetLastError(status); }

ple_status OpenModel(std::unique_ptr<ple::rt::ModelBytes> bytes, ple_model** out_model, bool skip_verifier = false,
                     const ple::rt::IntegrityRequest& integrity = {}) {
  ple::rt::Status checked = ple::rt::CheckIntegrity(bytes->data(), bytes->size(), integrity);
  if (!checked.ok()) return Fail(checked);
  std::shared_ptr<const ple::rt::Model> model;
  ple::rt::Status status = ple::rt::Model::Load(std::move(bytes), &model, skip_verifier);
  if (!status.ok()) return Fail(status);
  *out_model = new ple_model{std::move(model)};
  return PLE_OK;
}

// The struct rule of docs/c-api.md: a caller's struct may come from an older header (a smaller
// struct_size) or a newer one (larger). It must hold the fields the struct had when it was
// introduced, which end at `first_bytes`; a field added since is read or written only when
// PLE_COVERS says struct_size reaches past it (otherwise its default applies).
#define PLE_COVERS(s, type, field) ((s)->struct_size >= offsetof(type, field) + sizeof((s)->field))

ple_status CheckStructSize(uint32_t struct_size, size_t first_bytes, const char* name, const char* hint) {
  if (struct_size >= first_bytes) return PLE_OK;
  return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "%s.struct_size is %u, at least %zu expected%s", name, struct_size,
                      first_bytes, hint);
}

// Where the first version of each struct ended.
constexpr size_t kOpenOptionsFirstBytes = offsetof(ple_model_open_options, public_key) + sizeof(const uint8_t*);
constexpr size_t kSessionOptionsFirstBytes = offsetof(ple_session_options, kernel_path) + sizeof(ple_kernel_path);
constexpr size_t kSessionInfoFirstBytes = offsetof(ple_session_info, packed_weight_bytes) + sizeof(size_t);
constexpr size_t kScoreParamsFirstBytes = offsetof(ple_score_params, transform_offset) + sizeof(float);
constexpr size_t kExpertInfoFirstBytes = offsetof(ple_expert_info, parameters) + sizeof(uint64_t);
constexpr size_t kGateInfoFirstBytes = offsetof(ple_gate_info, parameters) + sizeof(uint64_t);

// The checks a caller's open options ask for (fields its struct_size covers).
ple_status ReadOpenOptions(const ple_model_open_options* options, ple::rt::IntegrityRequest* integrity,
                           bool* always_copy) {
  if (options == nullptr) return PLE_OK;
  if (ple_status status = CheckStructSize(options->struct_size, kOpenOptionsFirstBytes, "ple_model_open_options",
                                          ": call ple_model_open_options_init first");
      status != PLE_OK) {
    return status;
  }
  if (options->verify_checksum > 1) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "ple_model_open_options.verify_checksum is %u, not 0 or 1",
                        options->verify_checksum);
  }
  integrity->verify_checksum = options->verify_checksum == 1;
  integrity->expected_sha256 = options->expected_sha256;
  integrity->public_key = options->public_key;
  if (PLE_COVERS(options, ple_model_open_options, always_copy)) {
    *always_copy = options->always_copy != 0;
  }
  return PLE_OK;
}

// Reads the fields of a caller's options struct that its struct_size covers.
ple_status ReadOptions(const ple_session_options* options, ple::rt::SessionConfig* config) {
  if (options == nullptr) return PLE_OK;
  if (ple_status status = CheckStructSize(options->struct_size, kSessionOptionsFirstBytes, "ple_session_options",
                                          ": call ple_session_options_init first");
      status != PLE_OK) {
    return status;
  }
  config->max_batch = options->max_batch;
  // A C caller may store any int in the enum field: read it as an integer before trusting it.
  int kernel_path = 0;
  static_assert(sizeof(kernel_path) == sizeof(options->kernel_path), "ple_kernel_path is int-sized");
  std::memcpy(&kernel_path, &options->kernel_path, sizeof(kernel_path));
  if (kernel_path < PLE_KERNELS_AUTO || kernel_path > PLE_KERNELS_ARM_NEON_DOT) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "unknown kernel path %d", kernel_path);
  }
  config->kernel_path = static_cast<ple_kernel_path>(kernel_path);
  // num_threads was added later: structs from an older header end before it (1 thread).
  if (PLE_COVERS(options, ple_session_options, num_threads)) {
    config->num_threads = options->num_threads;
  }
  if (PLE_COVERS(options, ple_session_options, record_gates)) {
    config->record_gates = options->record_gates != 0;
  }
  return PLE_OK;
}

// Every ple_request_set gets a new generation, so a session never mistakes one request's
// cached results for another's (even one allocated at the same address).
std::atomic<uint64_t> g_request_generation{0};

using ple::rt::FeatureInfo;
using ple::rt::FeatureKind;
using ple::rt::FeatureSource;
using ple::rt::Model;

// Checks `values` against the model and fills `sources` (one per feature, then per extra) for
// `rows` rows. `scope`: the features that must all be given (request or candidate); extras
// may be given with candidates. No allocation.
ple_status BindFeatures(const Model& model, const ple_feature_values* values, size_t count, size_t rows,
                        ple_scope scope, FeatureSource* sources, uint8_t* given) {
  const size_t feature_count = model.features().size();
  const size_t total = feature_count + model.extras().size();
  std::memset(given, 0, total);
  for (size_t i = 0; i < total; ++i) sources[i] = FeatureSource{};
  if (count > 0 && values == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "feature values are NULL");
  const char* where = scope == PLE_SCOPE_REQUEST ? "request" : "candidates";
  for (size_t v = 0; v < count; ++v) {
    const ple_feature_values& value = values[v];
    if (value.name == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "%s: value %zu has no name", where, v);
    const int index = model.FindInput(value.name);
    if (index < 0) {
      return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "%s: '%s' is not a feature or an extra of this model", where,
                          value.name);
    }
    if (given[index]) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "%s: '%s' is given twice", where, value.name);
    given[index] = 1;
    FeatureSource& source = sources[index];
    if (static_cast<size_t>(index) >= feature_count) {  // an extra
      if (scope == PLE_SCOPE_REQUEST) {
        return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "request: '%s' is an extra: give it with the candidates",
                            value.name);
      }
      if (value.values == nullptr || value.num_values != rows) {
        return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "candidates: extra '%s' needs %zu values, found %zu%s",
                            value.name, rows, value.values ? value.num_values : 0, value.values ? "" : " (NULL)");
      }
      source.dense = value.values;
      source.dense_stride = 1;
      continue;
    }
    const FeatureInfo& feature = model.features()[index];
    if (feature.scope != scope) {
      return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "%s: '%s' is a %s-scope feature: give it %s", where, value.name,
                          feature.scope == PLE_SCOPE_REQUEST ? "request" : "candidate",
                          feature.scope == PLE_SCOPE_REQUEST ? "on the request (ple_request_set)" : "with the candidates");
    }
    switch (feature.kind) {
      case FeatureKind::kDense:
        if (value.values == nullptr || value.num_values != rows * feature.width) {
          return SetLastError(PLE_ERROR_INVALID_ARGUMENT,
                              "%s: dense feature '%s' needs %zu values (%zu rows x width %u), found %zu", where,
                              value.name, rows * feature.width, rows, feature.width,
                              value.values ? value.num_values : 0);
        }
        source.dense = value.values;
        source.dense_stride = feature.width;
        break;
      case FeatureKind::kSparse:
        if (value.ids == nullptr || value.num_ids != rows) {
          return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "%s: sparse feature '%s' needs %zu ids, found %zu", where,
                              value.name, rows, value.ids ? value.num_ids : 0);
        }
        source.ids = value.ids;
        break;
      case FeatureKind::kSequence: {
        size_t expected = rows * size_t{feature.max_length};
        if (value.lengths != nullptr) {
          expected = 0;
          for (size_t r = 0; r < rows; ++r) {
            if (value.lengths[r] > feature.max_length) {
              return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "%s: feature '%s': row %zu has %u ids, max_length is %u",
                                  where, value.name, r, value.lengths[r], feature.max_length);
            }
            expected += value.lengths[r];
          }
        }
        if ((value.ids == nullptr && expected > 0) || value.num_ids != expected) {
          return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "%s: sequence feature '%s' needs %zu ids (%s), found %zu",
                              where, value.name, expected, value.lengths ? "the sum of its lengths" : "rows x max_length",
                              value.num_ids);
        }
        source.ids = value.ids;
        source.lengths = value.lengths;
        break;
      }
    }
  }
  for (size_t i = 0; i < feature_count; ++i) {
    if (model.features()[i].scope == scope && !given[i]) {
      return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "%s: feature '%s' is missing", where,
                          model.features()[i].name.c_str());
    }
  }
  return PLE_OK;
}

// Runs `call(context)` and turns any exception into a status. One out-of-line copy of the
// handlers serves every entry point (Guard below only adds a trampoline): a template holding
// the handlers cost about 300 bytes per entry point.
__attribute__((noinline)) ple_status GuardCall(ple_status (*call)(void*), void* context) {
  try {
    return call(context);
  } catch (const std::bad_alloc&) {
    return SetLastError(PLE_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return SetLastError(PLE_ERROR_INTERNAL, "internal error: %s", e.what());
  } catch (...) {
    return SetLastError(PLE_ERROR_INTERNAL, "internal error: an unknown exception");
  }
}

template <typename Function>
ple_status Guard(Function&& function) {
  using F = std::remove_reference_t<Function>;
  return GuardCall([](void* f) { return (*static_cast<F*>(f))(); }, &function);
}

// Every ple_model_open_*: the options read, the bytes made (`make_bytes(always_copy, &bytes)`),
// the integrity checks, then the load.
template <typename MakeBytes>
ple_status OpenWithOptions(const ple_model_open_options* options, ple_model** out_model, MakeBytes&& make_bytes) {
  if (out_model == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "out_model is NULL");
  *out_model = nullptr;
  ple::rt::IntegrityRequest integrity;
  bool always_copy = false;
  if (ple_status status = ReadOpenOptions(options, &integrity, &always_copy); status != PLE_OK) return status;
  return Guard([&] {
    std::unique_ptr<ple::rt::ModelBytes> bytes;
    ple::rt::Status status = make_bytes(always_copy, &bytes);
    if (!status.ok()) return Fail(status);
    return OpenModel(std::move(bytes), out_model, /*skip_verifier=*/false, integrity);
  });
}

}  // namespace

extern "C" {

const char* ple_status_string(ple_status status) {
  switch (status) {
    case PLE_OK: return "ok";
    case PLE_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case PLE_ERROR_IO: return "i/o error";
    case PLE_ERROR_INVALID_MODEL: return "invalid model";
    case PLE_ERROR_UNSUPPORTED_VERSION: return "unsupported model version";
    case PLE_ERROR_UNSUPPORTED: return "unsupported";
    case PLE_ERROR_OUT_OF_MEMORY: return "out of memory";
    case PLE_ERROR_BATCH_TOO_LARGE: return "batch too large";
    case PLE_ERROR_INTERNAL: return "internal error";
    case PLE_ERROR_INTEGRITY: return "integrity check failed";
  }
  return "unknown status";
}

const char* ple_last_error(void) { return ple::rt::LastError(); }
const char* ple_version_string(void) { return PLE_VERSION; }
uint32_t ple_abi_version(void) { return PLE_ABI_VERSION; }
uint32_t ple_schema_version(void) { return ple::kSchemaVersion; }

#define PLE_STRINGIFY_(x) #x
#define PLE_STRINGIFY(x) PLE_STRINGIFY_(x)
const char* ple_abi_version_string(void) {
  return PLE_STRINGIFY(PLE_ABI_VERSION) "." PLE_STRINGIFY(PLE_ABI_VERSION_MINOR) ".0";
}

const char* ple_schema_version_string(void) {
  static_assert(ple::kSchemaVersion >= ple::kReaderVersion, "the schema revision is at least the reader version");
  static const struct Text {  // built once, without allocating
    char text[32];
    Text() { std::snprintf(text, sizeof text, "%u.%u.0", ple::kReaderVersion, ple::kSchemaVersion - ple::kReaderVersion); }
  } version;
  return version.text;
}

ple_status ple_model_open_file(const char* path, ple_model** out_model) {
  return ple_model_open_file_with_options(path, nullptr, out_model);
}

ple_status ple_model_open_buffer(const void* data, size_t size_bytes, ple_model** out_model) {
  return ple_model_open_buffer_with_options(data, size_bytes, nullptr, out_model);
}

ple_status ple_model_open_buffer_copy(const void* data, size_t size_bytes, ple_model** out_model) {
  ple_model_open_options options;
  ple_model_open_options_init(&options);
  options.always_copy = 1;
  return ple_model_open_buffer_with_options(data, size_bytes, &options, out_model);
}

void ple_model_open_options_init(ple_model_open_options* options) {
  if (options == nullptr) return;
  *options = ple_model_open_options{};
  options->struct_size = sizeof(ple_model_open_options);
}

ple_status ple_model_open_file_with_options(const char* path, const ple_model_open_options* options,
                                            ple_model** out_model) {
  if (path == nullptr) {
    if (out_model != nullptr) *out_model = nullptr;
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "path is NULL");
  }
  return OpenWithOptions(options, out_model, [&](bool, std::unique_ptr<ple::rt::ModelBytes>* bytes) {
    return ple::rt::ModelBytes::MapFile(path, bytes);
  });
}

ple_status ple_model_open_buffer_with_options(const void* data, size_t size_bytes,
                                              const ple_model_open_options* options, ple_model** out_model) {
  return OpenWithOptions(options, out_model, [&](bool always_copy, std::unique_ptr<ple::rt::ModelBytes>* bytes) {
    return ple::rt::ModelBytes::FromBuffer(data, size_bytes, bytes, always_copy);
  });
}

ple_status ple_model_open_fd_with_options(int fd, uint64_t offset, uint64_t length,
                                          const ple_model_open_options* options, ple_model** out_model) {
  return OpenWithOptions(options, out_model, [&](bool, std::unique_ptr<ple::rt::ModelBytes>* bytes) {
    return ple::rt::ModelBytes::MapFd(fd, offset, length, bytes);
  });
}

ple_status ple_model_open_fd(int fd, uint64_t offset, uint64_t length, ple_model** out_model) {
  return ple_model_open_fd_with_options(fd, offset, length, nullptr, out_model);
}

void ple_model_close(ple_model** model) {
  if (model == nullptr) return;
  delete *model;
  *model = nullptr;
}

int ple_model_is_copy(const ple_model* model) { return model != nullptr && model->model->is_copy() ? 1 : 0; }

size_t ple_model_num_tasks(const ple_model* model) { return model ? model->model->tasks().size() : 0; }

const char* ple_model_task_name(const ple_model* model, size_t task) {
  if (model == nullptr || task >= model->model->tasks().size()) return nullptr;
  return model->model->tasks()[task].name.c_str();
}

ple_task_type ple_model_task_type(const ple_model* model, size_t task) {
  if (model == nullptr || task >= model->model->tasks().size()) return PLE_TASK_BINARY;
  return model->model->tasks()[task].type;
}

size_t ple_model_num_features(const ple_model* model) { return model ? model->model->features().size() : 0; }

const char* ple_model_feature_name(const ple_model* model, size_t feature) {
  if (model == nullptr || feature >= model->model->features().size()) return nullptr;
  return model->model->features()[feature].name.c_str();
}

ple_feature_kind ple_model_feature_kind(const ple_model* model, size_t feature) {
  if (model == nullptr || feature >= model->model->features().size()) return PLE_FEATURE_DENSE;
  switch (model->model->features()[feature].kind) {
    case FeatureKind::kSparse: return PLE_FEATURE_SPARSE;
    case FeatureKind::kSequence: return PLE_FEATURE_SEQUENCE;
    default: return PLE_FEATURE_DENSE;
  }
}

ple_scope ple_model_feature_scope(const ple_model* model, size_t feature) {
  if (model == nullptr || feature >= model->model->features().size()) return PLE_SCOPE_CANDIDATE;
  return model->model->features()[feature].scope;
}

size_t ple_model_feature_width(const ple_model* model, size_t feature) {
  if (model == nullptr || feature >= model->model->features().size()) return 0;
  const FeatureInfo& f = model->model->features()[feature];
  switch (f.kind) {
    case FeatureKind::kSparse: return 1;
    case FeatureKind::kSequence: return f.max_length;
    default: return f.width;
  }
}

size_t ple_model_feature_vocabulary(const ple_model* model, size_t feature) {
  if (model == nullptr || feature >= model->model->features().size()) return 0;
  const FeatureInfo& f = model->model->features()[feature];
  return f.kind == FeatureKind::kDense ? 0 : model->model->tables()[f.table].rows;
}

size_t ple_model_num_extras(const ple_model* model) { return model ? model->model->extras().size() : 0; }

const char* ple_model_extra_name(const ple_model* model, size_t extra) {
  if (model == nullptr || extra >= model->model->extras().size()) return nullptr;
  return model->model->extras()[extra].c_str();
}

size_t ple_model_num_inputs(const ple_model* model) { return ple_model_num_features(model); }
const char* ple_model_input_name(const ple_model* model, size_t input) { return ple_model_feature_name(model, input); }

size_t ple_model_input_width(const ple_model* model, size_t input) {
  if (model == nullptr || input >= model->model->features().size()) return 0;
  return model->model->features()[input].width;
}

ple_scope ple_model_input_scope(const ple_model* model, size_t input) { return ple_model_feature_scope(model, input); }

size_t ple_model_row_width(const ple_model* model) { return model ? model->model->row_width() : 0; }

const char* ple_model_metadata(const ple_model* model, const char* key) {
  if (model == nullptr || key == nullptr) return nullptr;
  const std::string* value = model->model->metadata(key);
  return value ? value->c_str() : nullptr;
}

const char* ple_kernel_path_name(ple_kernel_path path) { return ple::rt::KernelPathName(path); }

ple_status ple_kernel_path_from_name(const char* name, ple_kernel_path* out_path) {
  if (name == nullptr || out_path == nullptr) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "ple_kernel_path_from_name: null argument");
  }
  if (!ple::rt::KernelPathFromName(name, out_path)) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "'%s' is not a kernel path name", name);
  }
  return PLE_OK;
}

int ple_kernel_path_available(ple_kernel_path path) {
  if (path == PLE_KERNELS_AUTO) return 1;
  int available = 0;  // XNNPACK's first probe initialises it, which may allocate
  Guard([&] {
    available = ple::rt::FindKernelSet(path) != nullptr ? 1 : 0;
    return PLE_OK;
  });
  return available;
}

void ple_session_options_init(ple_session_options* options) {
  if (options == nullptr) return;
  std::memset(options, 0, sizeof(*options));
  options->struct_size = sizeof(*options);
  options->max_batch = ple::rt::kDefaultMaxBatch;
  options->kernel_path = PLE_KERNELS_AUTO;
  options->num_threads = 1;
}

ple_status ple_session_memory_bytes(const ple_model* model, const ple_session_options* options, size_t* out_bytes) {
  if (model == nullptr || out_bytes == nullptr) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "model or out_bytes is NULL");
  }
  return Guard([&] {
    ple::rt::SessionConfig config;
    ple_status code = ReadOptions(options, &config);
    if (code != PLE_OK) return code;
    ple::rt::Status status = ple::rt::SessionMemoryBytes(*model->model, config, out_bytes);
    return status.ok() ? PLE_OK : Fail(status);
  });
}

ple_status ple_session_create(const ple_model* model, const ple_session_options* options, ple_session** out_session) {
  if (out_session == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "out_session is NULL");
  *out_session = nullptr;
  if (model == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "model is NULL");
  return Guard([&] {
    ple::rt::SessionConfig config;
    ple_status code = ReadOptions(options, &config);
    if (code != PLE_OK) return code;
    std::unique_ptr<ple::rt::Session> session;
    ple::rt::Status status = ple::rt::Session::Create(model->model, config, &session);
    if (!status.ok()) return Fail(status);
    const size_t inputs = model->model->features().size() + model->model->extras().size();
    *out_session = new ple_session{std::move(session), std::vector<FeatureSource>(inputs), std::vector<uint8_t>(inputs)};
    return PLE_OK;
  });
}

void ple_session_close(ple_session** session) {
  if (session == nullptr) return;
  delete *session;
  *session = nullptr;
}

ple_status ple_session_get_info(const ple_session* session, ple_session_info* info) {
  if (session == nullptr || info == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "session or info is NULL");
  if (ple_status status = CheckStructSize(info->struct_size, kSessionInfoFirstBytes, "ple_session_info", "");
      status != PLE_OK) {
    return status;
  }
  const ple::rt::Session& s = *session->session;
  info->kernel_path = s.kernel_path();
  info->max_batch = s.max_batch();
  info->tile_rows = s.tile_rows();
  info->arena_bytes = s.arena_bytes();
  info->packed_weight_bytes = s.packed_weight_bytes();
  if (PLE_COVERS(info, ple_session_info, num_threads)) {
    info->num_threads = s.num_threads();
  }
  return PLE_OK;
}

ple_status ple_session_set_profiling(ple_session* session, int enable) {
  if (session == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "session is NULL");
  session->session->EnableProfiling(enable != 0);
  return PLE_OK;
}

ple_status ple_session_get_profile(ple_session* session, ple_stage_time* stages, size_t capacity, size_t* out_count) {
  if (session == nullptr || out_count == nullptr || (stages == nullptr && capacity > 0)) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "session or out_count is NULL, or stages is NULL with capacity %zu",
                        capacity);
  }
  return Guard([&] {
    const auto& profile = session->session->Profile();
    for (size_t i = 0; i < profile.size() && i < capacity; ++i) {
      stages[i] = ple_stage_time{profile[i].name.c_str(), profile[i].nanoseconds};
    }
    *out_count = profile.size();
    return PLE_OK;
  });
}

ple_status ple_session_run(ple_session* session, const float* inputs, size_t inputs_count, size_t num_candidates,
                           float* outputs, size_t outputs_count) {
  if (session == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "session is NULL");
  if (num_candidates == 0) return PLE_OK;
  if (inputs == nullptr || outputs == nullptr) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "inputs or outputs is NULL");
  }
  ple::rt::Session& s = *session->session;
  if (num_candidates > s.max_batch()) {
    return SetLastError(PLE_ERROR_BATCH_TOO_LARGE, "%zu candidates, the session was prepared for at most %u",
                        num_candidates, s.max_batch());
  }
  const size_t row_width = s.model().row_width();
  const size_t task_count = s.model().tasks().size();
  if (inputs_count != num_candidates * row_width) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT,
                        "inputs_count is %zu, expected %zu (%zu candidates x %zu floats per row)", inputs_count,
                        num_candidates * row_width, num_candidates, row_width);
  }
  if (outputs_count < num_candidates * task_count) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT,
                        "outputs_count is %zu, at least %zu needed (%zu candidates x %zu tasks)", outputs_count,
                        num_candidates * task_count, num_candidates, task_count);
  }
  if (!s.model().dense_only()) {
    return SetLastError(PLE_ERROR_UNSUPPORTED,
                        "the model has sparse or sequence features: use ple_session_run_features");
  }
  // Every feature is dense: each row's values are the sources, request-scope ones included.
  for (size_t i = 0; i < s.model().features().size(); ++i) {
    const FeatureInfo& f = s.model().features()[i];
    session->sources[i] = FeatureSource{};
    session->sources[i].dense = inputs + f.row_offset;
    session->sources[i].dense_stride = row_width;
  }
  ple::rt::RunInputs run;
  run.sources = session->sources.data();
  return Guard([&] { return s.Run(&run, num_candidates, outputs, nullptr); });
}

ple_status ple_request_create(const ple_model* model, ple_request** out_request) {
  if (out_request == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "out_request is NULL");
  *out_request = nullptr;
  if (model == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "model is NULL");
  return Guard([&] {
    const size_t inputs = model->model->features().size() + model->model->extras().size();
    auto* request = new ple_request;
    request->model = model->model;
    request->values.assign(model->model->request_width(), 0.0f);
    request->sources.resize(inputs);
    request->given.resize(inputs);
    *out_request = request;
    return PLE_OK;
  });
}

void ple_request_close(ple_request** request) {
  if (request == nullptr) return;
  delete *request;
  *request = nullptr;
}

ple_status ple_request_set(ple_request* request, const ple_feature_values* features, size_t num_features) {
  if (request == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "request is NULL");
  const Model& model = *request->model;
  request->generation = 0;  // not usable until it is set completely
  ple_status status = BindFeatures(model, features, num_features, 1, PLE_SCOPE_REQUEST, request->sources.data(),
                                   request->given.data());
  if (status != PLE_OK) return status;
  status = Guard([&] {
    for (size_t i = 0; i < model.features().size(); ++i) {
      const FeatureInfo& feature = model.features()[i];
      if (feature.scope != PLE_SCOPE_REQUEST) continue;
      const ple_status assembled = ple::rt::AssembleFeature(model, feature, &request->sources[i], 0, 1, 0,
                                                            request->values.data(), request->values.size(),
                                                            feature.segment_offset);
      if (assembled != PLE_OK) return assembled;
    }
    return PLE_OK;
  });
  if (status != PLE_OK) return status;
  request->generation = ++g_request_generation;
  return PLE_OK;
}

ple_status ple_session_run_features(ple_session* session, const ple_request* request,
                                    const ple_feature_values* candidates, size_t num_features, size_t num_candidates,
                                    float* outputs, size_t outputs_count, float* scores, size_t scores_count) {
  if (session == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "session is NULL");
  ple::rt::Session& s = *session->session;
  const Model& model = s.model();
  if (num_candidates == 0) return PLE_OK;
  if (num_candidates > s.max_batch()) {
    return SetLastError(PLE_ERROR_BATCH_TOO_LARGE, "%zu candidates, the session was prepared for at most %u",
                        num_candidates, s.max_batch());
  }
  const size_t task_count = model.tasks().size();
  if (outputs == nullptr || outputs_count < num_candidates * task_count) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "outputs: at least %zu floats needed (%zu candidates x %zu tasks)",
                        num_candidates * task_count, num_candidates, task_count);
  }
  if (scores != nullptr && scores_count < num_candidates) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "scores: at least %zu floats needed, scores_count is %zu",
                        num_candidates, scores_count);
  }
  if (request != nullptr && request->model.get() != &model) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "the request was created for another model");
  }
  if (model.request_width() > 0 && (request == nullptr || request->generation == 0)) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT,
                        request == nullptr ? "the model has request-scope features: a request is needed"
                                           : "the request has not been set (ple_request_set)");
  }
  ple_status status = BindFeatures(model, candidates, num_features, num_candidates, PLE_SCOPE_CANDIDATE,
                                   session->sources.data(), session->given.data());
  if (status != PLE_OK) return status;
  if (scores != nullptr) {
    const ple::rt::ScoreParams& score = s.score();
    if (!score.present) {
      return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "the model has no ranking score: set one with ple_session_set_score");
    }
    if (score.transform_input >= 0 && !session->given[score.transform_input]) {
      const int features = static_cast<int>(model.features().size());
      return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "the score reads '%s': give it with the candidates",
                          score.transform_input < features ? model.features()[score.transform_input].name.c_str()
                                                           : model.extras()[score.transform_input - features].c_str());
    }
  }
  ple::rt::RunInputs run;
  run.sources = session->sources.data();
  if (request != nullptr && model.request_width() > 0) {
    run.request_values = request->values.data();
    run.request_generation = request->generation;
  }
  return Guard([&] { return s.Run(&run, num_candidates, outputs, scores); });
}

// ---- encoders ----

static_assert(static_cast<int>(ple::rt::EncoderKind::kStringVocabulary) == PLE_ENCODER_STRING_VOCABULARY &&
                  static_cast<int>(ple::rt::EncoderKind::kIntVocabulary) == PLE_ENCODER_INT_VOCABULARY &&
                  static_cast<int>(ple::rt::EncoderKind::kHashString) == PLE_ENCODER_HASH_STRING &&
                  static_cast<int>(ple::rt::EncoderKind::kHashInt) == PLE_ENCODER_HASH_INT &&
                  static_cast<int>(ple::rt::EncoderKind::kBoundaries) == PLE_ENCODER_BOUNDARIES,
              "ple_encoder_kind mirrors rt::EncoderKind");

ple_encoder_kind ple_model_feature_encoder(const ple_model* model, size_t feature) {
  if (model == nullptr || feature >= model->model->features().size()) return PLE_ENCODER_NONE;
  return static_cast<ple_encoder_kind>(model->model->features()[feature].encoder.kind);
}

uint64_t ple_model_feature_encoder_size(const ple_model* model, size_t feature) {
  if (model == nullptr || feature >= model->model->features().size()) return 0;
  const ple::rt::EncoderInfo& e = model->model->features()[feature].encoder;
  return e.kind == ple::rt::EncoderKind::kHashString || e.kind == ple::rt::EncoderKind::kHashInt ? e.buckets : e.size;
}

int64_t ple_model_find_feature(const ple_model* model, const char* name) {
  if (model == nullptr || name == nullptr) return -1;
  const int input = model->model->FindInput(name);  // features first, then extras
  return input >= 0 && static_cast<size_t>(input) < model->model->features().size() ? input : -1;
}

namespace {

// The feature, or null with the error set.
const FeatureInfo* EncodedFeature(const ple_model* model, size_t feature, const void* values, size_t count,
                                  const int64_t* out_ids) {
  if (model == nullptr || ((values == nullptr || out_ids == nullptr) && count > 0)) {
    SetLastError(PLE_ERROR_INVALID_ARGUMENT, "model, values or out_ids is NULL");
    return nullptr;
  }
  if (feature >= model->model->features().size()) {
    SetLastError(PLE_ERROR_INVALID_ARGUMENT, "feature %zu: the model has %zu features", feature,
                 model->model->features().size());
    return nullptr;
  }
  return &model->model->features()[feature];
}

}  // namespace

ple_status ple_model_encode_strings(const ple_model* model, size_t feature, const char* const* values,
                                    const size_t* lengths, size_t count, int64_t* out_ids) {
  const FeatureInfo* f = EncodedFeature(model, feature, values, count, out_ids);
  if (f == nullptr) return PLE_ERROR_INVALID_ARGUMENT;
  return Guard([&] { return ple::rt::EncodeStrings(*f, values, lengths, count, out_ids); });
}

ple_status ple_model_encode_ints(const ple_model* model, size_t feature, const int64_t* values, size_t count,
                                 int64_t* out_ids) {
  const FeatureInfo* f = EncodedFeature(model, feature, values, count, out_ids);
  if (f == nullptr) return PLE_ERROR_INVALID_ARGUMENT;
  return Guard([&] { return ple::rt::EncodeInts(*f, values, count, out_ids); });
}

ple_status ple_model_encode_floats(const ple_model* model, size_t feature, const float* values, size_t count,
                                   int64_t* out_ids) {
  const FeatureInfo* f = EncodedFeature(model, feature, values, count, out_ids);
  if (f == nullptr) return PLE_ERROR_INVALID_ARGUMENT;
  return Guard([&] { return ple::rt::EncodeFloats(*f, values, count, out_ids); });
}

uint64_t ple_hash64(const void* data, size_t size) { return ple::rt::Hash64(data, size); }

// ---- structure and gate diagnostics ----

namespace {

// Checks the info struct's size and the level's range; the level, or null with the error set.
const ple::rt::Level* LevelFor(const ple_model* model, size_t level, const void* info, uint32_t struct_size,
                               size_t first_bytes, const char* struct_name) {
  if (model == nullptr || info == nullptr) {
    SetLastError(PLE_ERROR_INVALID_ARGUMENT, "model or info is NULL");
    return nullptr;
  }
  if (CheckStructSize(struct_size, first_bytes, struct_name, "") != PLE_OK) return nullptr;
  if (level >= model->model->levels().size()) {
    SetLastError(PLE_ERROR_INVALID_ARGUMENT, "level %zu: the model has %zu levels", level,
                 model->model->levels().size());
    return nullptr;
  }
  return &model->model->levels()[level];
}

}  // namespace

size_t ple_model_num_levels(const ple_model* model) { return model ? model->model->levels().size() : 0; }

size_t ple_model_num_experts(const ple_model* model, size_t level) {
  if (model == nullptr || level >= model->model->levels().size()) return 0;
  return model->model->levels()[level].experts.size();
}

size_t ple_model_num_gates(const ple_model* model, size_t level) {
  if (model == nullptr || level >= model->model->levels().size()) return 0;
  return model->model->levels()[level].gates.size();
}

ple_status ple_model_get_expert(const ple_model* model, size_t level, size_t expert, ple_expert_info* info) {
  const ple::rt::Level* l = LevelFor(model, level, info, info ? info->struct_size : 0, kExpertInfoFirstBytes,
                                     "ple_expert_info");
  if (l == nullptr) return PLE_ERROR_INVALID_ARGUMENT;
  if (expert >= l->experts.size()) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "expert %zu: level %zu has %zu experts", expert, level,
                        l->experts.size());
  }
  const ple::rt::Expert& e = l->experts[expert];
  info->input_stream = e.input_stream;
  info->input_width = e.mlp.in();
  info->output_width = e.mlp.out();
  info->num_layers = static_cast<uint32_t>(e.mlp.layers.size());
  info->parameters = e.mlp.parameters();
  return PLE_OK;
}

ple_status ple_model_get_gate(const ple_model* model, size_t level, size_t gate, ple_gate_info* info) {
  const ple::rt::Level* l =
      LevelFor(model, level, info, info ? info->struct_size : 0, kGateInfoFirstBytes, "ple_gate_info");
  if (l == nullptr) return PLE_ERROR_INVALID_ARGUMENT;
  if (gate >= l->gates.size()) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "gate %zu: level %zu has %zu gates", gate, level, l->gates.size());
  }
  const ple::rt::Gate& g = l->gates[gate];
  info->input_stream = g.input_stream;
  info->output_stream = g.output_stream;
  info->num_experts = static_cast<uint32_t>(g.experts.size());
  info->experts = g.experts.data();
  info->num_layers = static_cast<uint32_t>(g.mlp.layers.size());
  info->parameters = g.mlp.parameters();
  return PLE_OK;
}

ple_status ple_session_set_gate_recording(ple_session* session, int enable) {
  if (session == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "session is NULL");
  return Guard([&] {
    ple::rt::Status status = session->session->EnableGateRecording(enable != 0);
    return status.ok() ? PLE_OK : Fail(status);
  });
}

ple_status ple_session_get_gate_weights(const ple_session* session, size_t level, size_t gate, float* weights,
                                        size_t capacity, size_t* out_rows, size_t* out_experts) {
  if (session == nullptr || out_rows == nullptr || (weights == nullptr && capacity > 0)) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "session or out_rows is NULL, or weights is NULL with capacity %zu",
                        capacity);
  }
  const ple::rt::Session& s = *session->session;
  const Model& model = s.model();
  if (level >= model.levels().size() || gate >= model.levels()[level].gates.size()) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "level %zu gate %zu: out of range", level, gate);
  }
  if (!s.gate_recording()) {
    return SetLastError(PLE_ERROR_UNSUPPORTED, "gate recording is off: ple_session_set_gate_recording(session, 1)");
  }
  const ple::rt::Session::GateRecord* record =
      s.FindGateRecord(static_cast<uint32_t>(level), static_cast<uint32_t>(gate));
  const size_t rows = s.recorded_rows();
  if (record == nullptr && model.levels()[level].gates[gate].mlp.layers.empty()) {
    // No gate layers: its one expert's weight is 1 by definition (the plan reads the expert).
    std::fill(weights, weights + std::min(capacity, rows), 1.0f);
    *out_rows = rows;
    if (out_experts != nullptr) *out_experts = 1;
    return PLE_OK;
  }
  if (record == nullptr) {
    return SetLastError(PLE_ERROR_UNSUPPORTED, "level %zu gate %zu is not computed: no task output depends on it",
                        level, gate);
  }
  std::copy(record->weights.data(), record->weights.data() + std::min(capacity, rows * record->width), weights);
  *out_rows = rows;
  if (out_experts != nullptr) *out_experts = record->width;
  return PLE_OK;
}

ple_status ple_model_get_score(const ple_model* model, ple_score_params* score) {
  if (model == nullptr || score == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "model or score is NULL");
  if (ple_status status = CheckStructSize(score->struct_size, kScoreParamsFirstBytes, "ple_score_params", "");
      status != PLE_OK) {
    return status;
  }
  const ple::rt::ScoreInfo& info = model->model->score();
  if (!info.present) return SetLastError(PLE_ERROR_UNSUPPORTED, "the model has no ranking score");
  const ple::rt::ScoreFormula& formula = info.formula;
  score->exponents = formula.exponents.data();
  score->num_exponents = formula.exponents.size();
  score->regression_floor = formula.regression_floor;
  score->transform = static_cast<ple_score_transform>(formula.transform);
  score->transform_input = info.transform_input.c_str();
  score->transform_scale = formula.transform_scale;
  score->transform_offset = formula.transform_offset;
  return PLE_OK;
}

ple_status ple_session_set_score(ple_session* session, const ple_score_params* score) {
  if (session == nullptr || score == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "session or score is NULL");
  if (ple_status status = CheckStructSize(score->struct_size, kScoreParamsFirstBytes, "ple_score_params", "");
      status != PLE_OK) {
    return status;
  }
  const Model& model = session->session->model();
  if (score->exponents == nullptr && score->num_exponents > 0) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "score: exponents is NULL");
  }
  int transform = 0;
  static_assert(sizeof(transform) == sizeof(score->transform), "ple_score_transform is int-sized");
  std::memcpy(&transform, &score->transform, sizeof(transform));
  if (transform < PLE_SCORE_NONE || transform > PLE_SCORE_SIGMOID) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "score: unknown transform %d", transform);
  }
  return Guard([&] {
    ple::rt::ScoreParams params;
    params.present = true;
    ple::rt::ScoreFormula& formula = params.formula;
    formula.exponents.assign(score->exponents, score->exponents + score->num_exponents);
    formula.regression_floor = score->regression_floor;
    formula.transform = static_cast<ple::rt::ScoreTransform>(transform);
    formula.transform_scale = score->transform_scale;
    formula.transform_offset = score->transform_offset;
    const std::string problem = ple::rt::ScoreFormulaProblem(formula, model.tasks());
    if (!problem.empty()) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "score: %s", problem.c_str());
    if (transform != PLE_SCORE_NONE) {
      params.transform_input = score->transform_input ? model.FindInput(score->transform_input) : -1;
      if (!model.IsScoreTransformInput(params.transform_input)) {
        return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "score: transform input '%s' is not %s",
                            score->transform_input ? score->transform_input : "(NULL)",
                            ple::rt::kScoreTransformInputRule);
      }
    }
    session->session->SetScore(params);
    return PLE_OK;
  });
}

ple_status ple_rank_top_k(const float* scores, size_t count, size_t k, uint32_t* out_indices) {
  if (count == 0 || k == 0) return PLE_OK;
  if (scores == nullptr || out_indices == nullptr) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "scores or out_indices is NULL");
  }
  if (count > UINT32_MAX) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "more than 2^32 - 1 scores");
  // `a` ranks before `b`: higher score, NaN last, then lower index.
  auto before = [scores](uint32_t a, uint32_t b) {
    const float sa = scores[a], sb = scores[b];
    const bool na = std::isnan(sa), nb = std::isnan(sb);
    if (na != nb) return nb;
    if (!na && sa != sb) return sa > sb;
    return a < b;
  };
  // A heap of the best k so far, worst on top; then sort it. O(count log k), no allocation.
  const size_t keep = std::min(k, count);
  for (uint32_t i = 0; i < count; ++i) {
    if (i < keep) {
      out_indices[i] = i;
      std::push_heap(out_indices, out_indices + i + 1, before);
    } else if (before(i, out_indices[0])) {
      std::pop_heap(out_indices, out_indices + keep, before);
      out_indices[keep - 1] = i;
      std::push_heap(out_indices, out_indices + keep, before);
    }
  }
  std::sort_heap(out_indices, out_indices + keep, before);
  return PLE_OK;
}

}  // extern "C"

namespace ple::rt {

Session* InternalSession(ple_session* session) { return session ? session->session.get() : nullptr; }

ple_status OpenModelSkippingVerifier(const void* data, size_t size_bytes, ple_model** out_model) {
  if (out_model == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "out_model is NULL");
  *out_model = nullptr;
  return Guard([&] {
    std::unique_ptr<ModelBytes> bytes;
    Status status = ModelBytes::FromBuffer(data, size_bytes, &bytes, /*always_copy=*/true);
    if (!status.ok()) return Fail(status);
    return OpenModel(std::move(bytes), out_model, /*skip_verifier=*/true);
  });
}

}  // namespace ple::rt
