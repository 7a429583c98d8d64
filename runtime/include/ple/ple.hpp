// PLE edge runtime: a thin, header-only C++ RAII wrapper over the C API (ple.h).
// Errors become ple::Error exceptions carrying the status and the library's message.
// Ownership is the C API's: a Model is shared by its Sessions (they keep it alive); a Session
// is used by one thread at a time.
#ifndef PLE_PLE_HPP_
#define PLE_PLE_HPP_

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ple/ple.h"

namespace ple {

class Error : public std::runtime_error {
 public:
  Error(ple_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  ple_status status() const { return status_; }

 private:
  ple_status status_;
};

inline void Check(ple_status status) {
  if (status != PLE_OK) {
    throw Error(status, std::string(ple_status_string(status)) + ": " + ple_last_error());
  }
}

struct TaskInfo {
  std::string name;
  ple_task_type type;
};

struct InputInfo {
  std::string name;
  size_t width;
  ple_scope scope;
};

class Model {
 public:
  static Model OpenFile(const std::string& path) {
    ple_model* model = nullptr;
    Check(ple_model_open_file(path.c_str(), &model));
    return Model(model);
  }
  // See ple_model_open_buffer: an aligned buffer must outlive the model and its sessions.
  static Model OpenBuffer(const void* data, size_t size_bytes) {
    ple_model* model = nullptr;
    Check(ple_model_open_buffer(data, size_bytes, &model));
    return Model(model);
  }

  Model(Model&& other) noexcept : model_(std::exchange(other.model_, nullptr)) {}
  Model& operator=(Model&& other) noexcept {
    if (this != &other) {
      ple_model_close(&model_);
      model_ = std::exchange(other.model_, nullptr);
    }
    return *this;
  }
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  ~Model() { ple_model_close(&model_); }

  ple_model* get() const { return model_; }
  size_t row_width() const { return ple_model_row_width(model_); }
  bool is_copy() const { return ple_model_is_copy(model_) != 0; }
  std::string metadata(const std::string& key) const {
    const char* value = ple_model_metadata(model_, key.c_str());
    return value ? value : "";
  }
  std::vector<TaskInfo> tasks() const {
    std::vector<TaskInfo> tasks;
    for (size_t t = 0; t < ple_model_num_tasks(model_); ++t) {
      tasks.push_back({ple_model_task_name(model_, t), ple_model_task_type(model_, t)});
    }
    return tasks;
  }
  std::vector<InputInfo> inputs() const {
    std::vector<InputInfo> inputs;
    for (size_t i = 0; i < ple_model_num_inputs(model_); ++i) {
      inputs.push_back({ple_model_input_name(model_, i), ple_model_input_width(model_, i),
                        ple_model_input_scope(model_, i)});
    }
    return inputs;
  }

 private:
  explicit Model(ple_model* model) : model_(model) {}
  ple_model* model_;
};

struct SessionOptions {
  uint32_t max_batch = 256;
  ple_kernel_path kernel_path = PLE_KERNELS_AUTO;

  ple_session_options to_c() const {
    ple_session_options options;
    ple_session_options_init(&options);
    options.max_batch = max_batch;
    options.kernel_path = kernel_path;
    return options;
  }
};

class Session {
 public:
  Session(const Model& model, const SessionOptions& options = {})
      : task_count_(ple_model_num_tasks(model.get())), row_width_(model.row_width()) {
    const ple_session_options c_options = options.to_c();
    Check(ple_session_create(model.get(), &c_options, &session_));
  }
  static size_t MemoryBytes(const Model& model, const SessionOptions& options = {}) {
    const ple_session_options c_options = options.to_c();
    size_t bytes = 0;
    Check(ple_session_memory_bytes(model.get(), &c_options, &bytes));
    return bytes;
  }

  Session(Session&& other) noexcept
      : session_(std::exchange(other.session_, nullptr)), task_count_(other.task_count_), row_width_(other.row_width_) {}
  Session& operator=(Session&& other) noexcept {
    if (this != &other) {
      ple_session_close(&session_);
      session_ = std::exchange(other.session_, nullptr);
      task_count_ = other.task_count_;
      row_width_ = other.row_width_;
    }
    return *this;
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() { ple_session_close(&session_); }

  // Scores num_candidates rows of row_width floats into num_candidates x num_tasks outputs.
  void Run(const float* inputs, size_t num_candidates, float* outputs) {
    Check(ple_session_run(session_, inputs, num_candidates * row_width_, num_candidates, outputs,
                          num_candidates * task_count_));
  }
  // inputs.size() must be a multiple of the row width; returns candidates x tasks, row-major.
  std::vector<float> Run(const std::vector<float>& inputs) {
    if (row_width_ == 0 || inputs.size() % row_width_ != 0) {
      throw Error(PLE_ERROR_INVALID_ARGUMENT, "inputs size " + std::to_string(inputs.size()) +
                                                  " is not a multiple of the row width " + std::to_string(row_width_));
    }
    const size_t n = inputs.size() / row_width_;
    std::vector<float> outputs(n * task_count_);
    Run(inputs.data(), n, outputs.data());
    return outputs;
  }

  ple_session_info info() const {
    ple_session_info info{};
    info.struct_size = sizeof(info);
    Check(ple_session_get_info(session_, &info));
    return info;
  }
  ple_session* get() const { return session_; }

 private:
  ple_session* session_ = nullptr;
  size_t task_count_;
  size_t row_width_;
};

inline std::string VersionString() { return ple_version_string(); }

}  // namespace ple

#endif  // PLE_PLE_HPP_
