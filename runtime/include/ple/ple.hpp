// PLE edge runtime: a thin, header-only C++ RAII wrapper over the C API (ple.h).
// Errors become ple::Error exceptions carrying the status and the library's message.
// Ownership is the C API's: a Model is shared by its Sessions (they keep it alive); a Session
// is used by one thread at a time.
#ifndef PLE_PLE_HPP_
#define PLE_PLE_HPP_

#include <algorithm>
#include <cstddef>
#include <cstdint>
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
  size_t width;      // floats this input adds to a ple_session_run row
  ple_scope scope;
};

struct FeatureInfo {
  std::string name;
  ple_feature_kind kind;
  ple_scope scope;
  size_t width;       // dense: floats per row; sparse: 1; sequence: max_length
  size_t vocabulary;  // sparse, sequence: table rows
};

// The model's structure as the gate weights refer to it (ple_model_get_expert, _gate). Stream
// num_tasks is the shared stream.
struct ExpertInfo {
  uint32_t input_stream;
  uint32_t input_width, output_width, num_layers;
  uint64_t parameters;
};

struct GateInfo {
  uint32_t input_stream, output_stream;
  std::vector<uint32_t> experts;  // the level's experts it weighs, in softmax order
  uint32_t num_layers;
  uint64_t parameters;
};

struct LevelInfo {
  std::vector<ExpertInfo> experts;
  std::vector<GateInfo> gates;
};

// One gate's softmax weights for the last run: rows x experts, row-major.
struct GateWeights {
  size_t rows = 0;
  size_t experts = 0;
  std::vector<float> weights;
};

// One feature's values for a batch, owning nothing: the pointers must stay valid for the call.
struct FeatureValues {
  std::string name;
  const float* values = nullptr;
  size_t num_values = 0;
  const int64_t* ids = nullptr;
  size_t num_ids = 0;
  const uint32_t* lengths = nullptr;

  static FeatureValues Dense(std::string name, const std::vector<float>& values) {
    FeatureValues v;
    v.name = std::move(name);
    v.values = values.data();
    v.num_values = values.size();
    return v;
  }
  static FeatureValues Ids(std::string name, const std::vector<int64_t>& ids) {
    FeatureValues v;
    v.name = std::move(name);
    v.ids = ids.data();
    v.num_ids = ids.size();
    return v;
  }
  // Every row's ids one after another, and each row's count.
  static FeatureValues Sequences(std::string name, const std::vector<int64_t>& ids,
                                 const std::vector<uint32_t>& lengths) {
    FeatureValues v = Ids(std::move(name), ids);
    v.lengths = lengths.data();
    return v;
  }
};

namespace detail {
inline std::vector<ple_feature_values> ToC(const std::vector<FeatureValues>& values) {
  std::vector<ple_feature_values> c(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    c[i] = ple_feature_values{values[i].name.c_str(), values[i].values, values[i].num_values,
                              values[i].ids,          values[i].num_ids, values[i].lengths};
  }
  return c;
}
}  // namespace detail

class Model {
 public:
  static Model OpenFile(const std::string& path) {
    ple_model* model = nullptr;
    Check(ple_model_open_file(path.c_str(), &model));
    return Model(model);
  }
  // With integrity checks (ple_model_open_options: checksum, pinned SHA-256, signature).
  static Model OpenFile(const std::string& path, const ple_model_open_options& options) {
    ple_model* model = nullptr;
    Check(ple_model_open_file_with_options(path.c_str(), &options, &model));
    return Model(model);
  }
  static Model OpenBuffer(const void* data, size_t size_bytes, const ple_model_open_options& options) {
    ple_model* model = nullptr;
    Check(ple_model_open_buffer_with_options(data, size_bytes, &options, &model));
    return Model(model);
  }
  // See ple_model_open_buffer: an aligned buffer must outlive the model and its sessions.
  static Model OpenBuffer(const void* data, size_t size_bytes) {
    ple_model* model = nullptr;
    Check(ple_model_open_buffer(data, size_bytes, &model));
    return Model(model);
  }

  static Model OpenBufferCopy(const void* data, size_t size_bytes) {
    ple_model* model = nullptr;
    Check(ple_model_open_buffer_copy(data, size_bytes, &model));
    return Model(model);
  }
  // A part of an open file (an APK asset's descriptor, offset and length); fd may be closed after.
  static Model OpenFd(int fd, uint64_t offset, uint64_t length) {
    ple_model* model = nullptr;
    Check(ple_model_open_fd(fd, offset, length, &model));
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
  std::vector<FeatureInfo> features() const {
    std::vector<FeatureInfo> features;
    for (size_t i = 0; i < ple_model_num_features(model_); ++i) {
      features.push_back({ple_model_feature_name(model_, i), ple_model_feature_kind(model_, i),
                          ple_model_feature_scope(model_, i), ple_model_feature_width(model_, i),
                          ple_model_feature_vocabulary(model_, i)});
    }
    return features;
  }
  std::vector<std::string> extras() const {
    std::vector<std::string> extras;
    for (size_t i = 0; i < ple_model_num_extras(model_); ++i) extras.push_back(ple_model_extra_name(model_, i));
    return extras;
  }
  bool has_score() const {
    ple_score_params score{};
    score.struct_size = sizeof(score);
    return ple_model_get_score(model_, &score) == PLE_OK;
  }
  std::vector<LevelInfo> levels() const {
    std::vector<LevelInfo> levels(ple_model_num_levels(model_));
    for (size_t l = 0; l < levels.size(); ++l) {
      for (size_t e = 0; e < ple_model_num_experts(model_, l); ++e) {
        ple_expert_info info{};
        info.struct_size = sizeof(info);
        Check(ple_model_get_expert(model_, l, e, &info));
        levels[l].experts.push_back(
            {info.input_stream, info.input_width, info.output_width, info.num_layers, info.parameters});
      }
      for (size_t g = 0; g < ple_model_num_gates(model_, l); ++g) {
        ple_gate_info info{};
        info.struct_size = sizeof(info);
        Check(ple_model_get_gate(model_, l, g, &info));
        levels[l].gates.push_back({info.input_stream, info.output_stream,
                                   std::vector<uint32_t>(info.experts, info.experts + info.num_experts),
                                   info.num_layers, info.parameters});
      }
    }
    return levels;
  }
  // Raw values to ids with a feature's encoder (docs/encoders.md); the ids go to
  // FeatureValues::Ids. Throws ple::Error naming the first bad value.
  std::vector<int64_t> EncodeStrings(const std::string& feature, const std::vector<std::string>& values) const {
    std::vector<const char*> pointers;
    std::vector<size_t> lengths;
    for (const std::string& v : values) {
      pointers.push_back(v.data());
      lengths.push_back(v.size());
    }
    std::vector<int64_t> ids(values.size());
    Check(ple_model_encode_strings(model_, FeatureIndex(feature), pointers.data(), lengths.data(), values.size(),
                                   ids.data()));
    return ids;
  }
  std::vector<int64_t> EncodeInts(const std::string& feature, const std::vector<int64_t>& values) const {
    std::vector<int64_t> ids(values.size());
    Check(ple_model_encode_ints(model_, FeatureIndex(feature), values.data(), values.size(), ids.data()));
    return ids;
  }
  std::vector<int64_t> EncodeFloats(const std::string& feature, const std::vector<float>& values) const {
    std::vector<int64_t> ids(values.size());
    Check(ple_model_encode_floats(model_, FeatureIndex(feature), values.data(), values.size(), ids.data()));
    return ids;
  }
  // The feature's index; throws ple::Error for an unknown name.
  size_t FeatureIndex(const std::string& name) const {
    const int64_t index = ple_model_find_feature(model_, name.c_str());
    if (index < 0) throw Error(PLE_ERROR_INVALID_ARGUMENT, "invalid argument: no feature named '" + name + "'");
    return static_cast<size_t>(index);
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

// A request context: the request-scope features of one request (see ple_request_set).
class Request {
 public:
  explicit Request(const Model& model) { Check(ple_request_create(model.get(), &request_)); }
  Request(Request&& other) noexcept : request_(std::exchange(other.request_, nullptr)) {}
  Request& operator=(Request&& other) noexcept {
    if (this != &other) {
      ple_request_close(&request_);
      request_ = std::exchange(other.request_, nullptr);
    }
    return *this;
  }
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  ~Request() { ple_request_close(&request_); }

  void Set(const std::vector<FeatureValues>& features) {
    const auto c = detail::ToC(features);
    Set(c.data(), c.size());
  }
  void Set(const ple_feature_values* values, size_t count) { Check(ple_request_set(request_, values, count)); }
  const ple_request* get() const { return request_; }

 private:
  ple_request* request_ = nullptr;
};

struct SessionOptions {
  uint32_t max_batch = 256;
  ple_kernel_path kernel_path = PLE_KERNELS_AUTO;
  uint32_t num_threads = 1;
  bool record_gates = false;  // gate recording on from the start (SetGateRecording)
  ple_cpu_selection cpus = PLE_CPUS_ALL;  // which CPUs the session runs on (ple.h)
  uint64_t cpu_mask = 0;                  // with PLE_CPUS_MASK: bit i = CPU i

  ple_session_options to_c() const {
    ple_session_options options;
    ple_session_options_init(&options);
    options.max_batch = max_batch;
    options.kernel_path = kernel_path;
    options.num_threads = num_threads;
    options.record_gates = record_gates ? 1 : 0;
    options.cpus = cpus;
    options.cpu_mask = cpu_mask;
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

  // Scores num_candidates candidates of `request` (nullptr for a model without request-scope
  // features). Returns num_candidates x num_tasks outputs; fills `scores` when given.
  std::vector<float> Run(const Request* request, const std::vector<FeatureValues>& candidates, size_t num_candidates,
                         std::vector<float>* scores = nullptr) {
    const auto c = detail::ToC(candidates);
    std::vector<float> outputs(num_candidates * task_count_);
    if (scores != nullptr) scores->assign(num_candidates, 0.0f);
    Check(ple_session_run_features(session_, request ? request->get() : nullptr, c.data(), c.size(), num_candidates,
                                   outputs.data(), outputs.size(), scores ? scores->data() : nullptr,
                                   scores ? scores->size() : 0));
    return outputs;
  }

  void SetScore(const std::vector<float>& exponents, ple_score_transform transform = PLE_SCORE_NONE,
                const std::string& transform_input = "", float regression_floor = 0.0f, float scale = 1.0f,
                float offset = 0.0f) {
    ple_score_params score{};
    score.struct_size = sizeof(score);
    score.exponents = exponents.data();
    score.num_exponents = exponents.size();
    score.regression_floor = regression_floor;
    score.transform = transform;
    score.transform_input = transform_input.c_str();
    score.transform_scale = scale;
    score.transform_offset = offset;
    Check(ple_session_set_score(session_, &score));
  }

  // Per-stage timing (ple_session_set_profiling): on zeroes the totals.
  void SetProfiling(bool enable) { Check(ple_session_set_profiling(session_, enable ? 1 : 0)); }
  std::vector<ple_stage_time> Profile() const {
    size_t count = 0;
    Check(ple_session_get_profile(session_, nullptr, 0, &count));
    std::vector<ple_stage_time> stages(count);
    Check(ple_session_get_profile(session_, stages.data(), stages.size(), &count));
    return stages;
  }

  // Gate recording (ple_session_set_gate_recording): off by default, allocates when turned on.
  void SetGateRecording(bool enable) { Check(ple_session_set_gate_recording(session_, enable ? 1 : 0)); }
  // The last run's weights of one gate; throws ple::Error (PLE_ERROR_UNSUPPORTED) for a gate
  // that is not computed or when recording is off.
  GateWeights GetGateWeights(size_t level, size_t gate) const {
    GateWeights out;
    Check(ple_session_get_gate_weights(session_, level, gate, nullptr, 0, &out.rows, &out.experts));
    out.weights.resize(out.rows * out.experts);
    Check(ple_session_get_gate_weights(session_, level, gate, out.weights.data(), out.weights.size(), &out.rows,
                                       &out.experts));
    return out;
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

// Indices of the best min(k, scores.size()) scores, best first (ties: lower index first).
inline std::vector<uint32_t> TopK(const std::vector<float>& scores, size_t k) {
  std::vector<uint32_t> indices(std::min(k, scores.size()));
  Check(ple_rank_top_k(scores.data(), scores.size(), k, indices.data()));
  return indices;
}

inline std::string VersionString() { return ple_version_string(); }

// The device's big and little CPUs, as PLE_CPUS_BIG and PLE_CPUS_LITTLE would use them.
inline ple_cpu_classes CpuClasses() {
  ple_cpu_classes classes{};
  classes.struct_size = sizeof(classes);
  Check(ple_cpu_classes_get(&classes));
  return classes;
}

}  // namespace ple

#endif  // PLE_PLE_HPP_
