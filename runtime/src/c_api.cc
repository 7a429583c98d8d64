// The C API: argument checks, handle ownership, and translation of internal Status values
// into status codes plus this thread's last-error message. No C++ exception crosses it.
#include <cstring>
#include <new>

#include "model.h"
#include "ple/ple.h"
#include "session.h"

#ifndef PLE_VERSION
#error "PLE_VERSION must be defined by the build"
#endif

struct ple_model {
  std::shared_ptr<const ple::rt::Model> model;
};

struct ple_session {
  std::unique_ptr<ple::rt::Session> session;
};

namespace {

using ple::rt::SetLastError;

ple_status Fail(const ple::rt::Status& status) { return SetLastError(status); }

ple_status OpenModel(std::unique_ptr<ple::rt::ModelBytes> bytes, ple_model** out_model) {
  std::shared_ptr<const ple::rt::Model> model;
  ple::rt::Status status = ple::rt::Model::Load(std::move(bytes), &model);
  if (!status.ok()) return Fail(status);
  *out_model = new ple_model{std::move(model)};
  return PLE_OK;
}

// Reads the fields of a caller's options struct that its struct_size covers.
ple_status ReadOptions(const ple_session_options* options, ple::rt::SessionConfig* config) {
  if (options == nullptr) return PLE_OK;
  if (options->struct_size < offsetof(ple_session_options, kernel_path) + sizeof(options->kernel_path)) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT,
                        "ple_session_options.struct_size is %u: call ple_session_options_init first",
                        options->struct_size);
  }
  config->max_batch = options->max_batch;
  // A C caller may store any int in the enum field: read it as an integer before trusting it.
  int kernel_path = 0;
  static_assert(sizeof(kernel_path) == sizeof(options->kernel_path), "ple_kernel_path is int-sized");
  std::memcpy(&kernel_path, &options->kernel_path, sizeof(kernel_path));
  if (kernel_path != PLE_KERNELS_AUTO && kernel_path != PLE_KERNELS_REFERENCE && kernel_path != PLE_KERNELS_XNNPACK) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "unknown kernel path %d", kernel_path);
  }
  config->kernel_path = static_cast<ple_kernel_path>(kernel_path);
  return PLE_OK;
}

template <typename Function>
ple_status Guard(Function&& function) {
  try {
    return function();
  } catch (const std::bad_alloc&) {
    return SetLastError(PLE_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return SetLastError(PLE_ERROR_INTERNAL, "internal error: %s", e.what());
  }
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
  }
  return "unknown status";
}

const char* ple_last_error(void) { return ple::rt::LastError(); }
const char* ple_version_string(void) { return PLE_VERSION; }
uint32_t ple_abi_version(void) { return PLE_ABI_VERSION; }
uint32_t ple_schema_version(void) { return ple::kSchemaVersion; }

ple_status ple_model_open_file(const char* path, ple_model** out_model) {
  if (out_model == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "out_model is NULL");
  *out_model = nullptr;
  if (path == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "path is NULL");
  return Guard([&] {
    std::unique_ptr<ple::rt::ModelBytes> bytes;
    ple::rt::Status status = ple::rt::ModelBytes::MapFile(path, &bytes);
    if (!status.ok()) return Fail(status);
    return OpenModel(std::move(bytes), out_model);
  });
}

ple_status ple_model_open_buffer(const void* data, size_t size_bytes, ple_model** out_model) {
  if (out_model == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "out_model is NULL");
  *out_model = nullptr;
  return Guard([&] {
    std::unique_ptr<ple::rt::ModelBytes> bytes;
    ple::rt::Status status = ple::rt::ModelBytes::FromBuffer(data, size_bytes, &bytes);
    if (!status.ok()) return Fail(status);
    return OpenModel(std::move(bytes), out_model);
  });
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

size_t ple_model_num_inputs(const ple_model* model) { return model ? model->model->inputs().size() : 0; }

const char* ple_model_input_name(const ple_model* model, size_t input) {
  if (model == nullptr || input >= model->model->inputs().size()) return nullptr;
  return model->model->inputs()[input].name.c_str();
}

size_t ple_model_input_width(const ple_model* model, size_t input) {
  if (model == nullptr || input >= model->model->inputs().size()) return 0;
  return model->model->inputs()[input].width;
}

ple_scope ple_model_input_scope(const ple_model* model, size_t input) {
  if (model == nullptr || input >= model->model->inputs().size()) return PLE_SCOPE_CANDIDATE;
  return model->model->inputs()[input].scope;
}

size_t ple_model_row_width(const ple_model* model) { return model ? model->model->row_width() : 0; }

const char* ple_model_metadata(const ple_model* model, const char* key) {
  if (model == nullptr || key == nullptr) return nullptr;
  const std::string* value = model->model->metadata(key);
  return value ? value->c_str() : nullptr;
}

void ple_session_options_init(ple_session_options* options) {
  if (options == nullptr) return;
  std::memset(options, 0, sizeof(*options));
  options->struct_size = sizeof(*options);
  options->max_batch = ple::rt::kDefaultMaxBatch;
  options->kernel_path = PLE_KERNELS_AUTO;
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
    *out_session = new ple_session{std::move(session)};
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
  if (info->struct_size < sizeof(ple_session_info)) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "ple_session_info.struct_size is %u, expected %zu",
                        info->struct_size, sizeof(ple_session_info));
  }
  const ple::rt::Session& s = *session->session;
  info->kernel_path = s.kernel_path();
  info->max_batch = s.max_batch();
  info->tile_rows = s.tile_rows();
  info->arena_bytes = s.arena_bytes();
  info->packed_weight_bytes = s.packed_weight_bytes();
  return PLE_OK;
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
  return s.Run(inputs, num_candidates, outputs);
}

}  // extern "C"
