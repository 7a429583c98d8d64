// The C API: argument checks, handle ownership, and translation of internal Status values
// into status codes plus this thread's last-error message. No C++ exception crosses it. This
// file: versions, opening and describing a model, kernel paths; c_api_session.cc sessions,
// requests and runs; c_api_model_info.cc encoders, structure, gate weights, the score, top-K.
#include <cstdio>
#include <cstring>
#include <new>

#include "capi/c_api_internal.h"
#include "capi/c_api_shared.h"
#include "kernels/kernel_set.h"
#include "load/integrity.h"

#ifndef PLE_VERSION
#error "PLE_VERSION must be defined by the build"
#endif

using ple::rt::FeatureSpec;
using ple::rt::FeatureKind;
using namespace ple::capi;

namespace ple::capi {

ple_status CheckStructSize(uint32_t struct_size, size_t first_bytes, const char* name, const char* hint) {
  if (struct_size >= first_bytes) return PLE_OK;
  return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "%s.struct_size is %u, at least %zu expected%s", name, struct_size,
                      first_bytes, hint);
}

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

}  // namespace ple::capi

namespace {

ple_status OpenModel(std::unique_ptr<ple::rt::ModelBytes> bytes, ple_model** out_model, bool skip_verifier = false,
                     const ple::rt::IntegrityRequest& integrity = {}) {
  ple::rt::Status checked = ple::rt::CheckIntegrity(bytes->data(), bytes->size(), integrity);
  if (!checked.ok()) return Fail(checked);
  std::shared_ptr<const ple::rt::LoadedModel> model;
  ple::rt::Status status = ple::rt::LoadedModel::Load(std::move(bytes), &model, skip_verifier);
  if (!status.ok()) return Fail(status);
  *out_model = new ple_model{std::move(model)};
  return PLE_OK;
}

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
  static_assert(ple::kSchemaVersion >= ple::kReaderVersionSchema, "the schema revision is at least its reader's");
  static const struct Text {  // built once, without allocating
    char text[32];
    Text() { std::snprintf(text, sizeof text, "%u.%u.0", ple::kReaderVersion, ple::kSchemaVersion - ple::kReaderVersionSchema); }
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
  const FeatureSpec& f = model->model->features()[feature];
  switch (f.kind) {
    case FeatureKind::kSparse: return 1;
    case FeatureKind::kSequence: return f.max_length;
    default: return f.width;
  }
}

size_t ple_model_feature_vocabulary(const ple_model* model, size_t feature) {
  if (model == nullptr || feature >= model->model->features().size()) return 0;
  const FeatureSpec& f = model->model->features()[feature];
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

