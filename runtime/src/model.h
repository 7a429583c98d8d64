// Runtime internals live in namespace ple::rt; namespace ple is the public C++ wrapper's
// (ple.hpp): a class name in both would be an ODR violation (ASan caught one: ple::Model).
//
// A loaded, verified model: the file's bytes plus views into them that the planner reads.
// Immutable after Load; shared (std::shared_ptr<const Model>) by every session made from it.
// All pointers point into `bytes_` and live as long as the Model.
#ifndef PLE_RUNTIME_MODEL_H_
#define PLE_RUNTIME_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model_bytes.h"
#include "ple/ple.h"
#include "ple_schema_version.h"
#include "status.h"

namespace ple::rt {

enum class Activation : uint8_t { kIdentity, kRelu, kLeakyRelu, kPRelu, kSigmoid, kTanh, kSilu };

// y[out] = activation(W[out, in] x[in] + bias[out]); float32, W row-major [out, in].
struct DenseLayer {
  const float* weight = nullptr;       // out * in floats, 64-byte aligned
  const float* bias = nullptr;         // out floats or nullptr (zeros)
  uint32_t in = 0;
  uint32_t out = 0;
  Activation activation = Activation::kIdentity;
  float negative_slope = 0.0f;         // kLeakyRelu
  const float* prelu_slope = nullptr;  // kPRelu: prelu_count floats
  uint32_t prelu_count = 0;            // 1 (one slope) or out (per channel)
};

struct Mlp {
  std::vector<DenseLayer> layers;      // empty only for a gate with a single expert
  uint32_t in() const { return layers.front().in; }
  uint32_t out() const { return layers.back().out; }
};

struct Expert {
  uint32_t input_stream = 0;
  Mlp mlp;
};

struct Gate {
  uint32_t input_stream = 0;
  Mlp mlp;                             // empty: one expert with weight 1
  std::vector<uint32_t> experts;       // indices into Level::experts, softmax order
  uint32_t output_stream = 0;
};

struct Level {
  std::vector<Expert> experts;
  std::vector<Gate> gates;
};

struct Tower {
  uint32_t input_stream = 0;
  Mlp mlp;                             // last layer: the head, one output
};

struct TaskInfo {
  std::string name;
  ple_task_type type = PLE_TASK_BINARY;
};

struct InputInfo {
  std::string name;
  uint32_t width = 0;                  // floats
  uint32_t offset = 0;                 // first column in the candidate row
  ple_scope scope = PLE_SCOPE_CANDIDATE;
};

class Model {
 public:
  // Verifies `bytes` (FlatBuffers verifier, then semantic checks) and builds the views.
  static Status Load(std::unique_ptr<ModelBytes> bytes, std::shared_ptr<const Model>* out);

  const std::vector<InputInfo>& inputs() const { return inputs_; }
  const std::vector<TaskInfo>& tasks() const { return tasks_; }
  const std::vector<Level>& levels() const { return levels_; }
  const std::vector<Tower>& towers() const { return towers_; }
  uint32_t row_width() const { return row_width_; }
  // Streams 0..T-1 are the tasks' outputs, stream T the shared output.
  uint32_t stream_count() const { return static_cast<uint32_t>(tasks_.size()) + 1; }
  bool is_copy() const { return bytes_->is_copy(); }
  // Metadata value by key ("name", "description", "producer", "source_framework"), or nullptr.
  const std::string* metadata(const std::string& key) const;

 private:
  friend class ModelReader;
  Model() = default;

  std::unique_ptr<ModelBytes> bytes_;
  std::vector<InputInfo> inputs_;
  std::vector<TaskInfo> tasks_;
  std::vector<Level> levels_;
  std::vector<Tower> towers_;
  uint32_t row_width_ = 0;
  std::string name_, description_, producer_, source_framework_;
};

}  // namespace ple::rt

#endif  // PLE_RUNTIME_MODEL_H_
