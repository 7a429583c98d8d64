// Runtime internals live in namespace ple::rt; namespace ple is the public C++ wrapper's
// (ple.hpp): a class name in both would be an ODR violation (ASan caught one: ple::Model).
//
// A loaded, verified model: the file's bytes plus views into them that the planner reads.
// Immutable after Load; shared (std::shared_ptr<const LoadedModel>) by every session made from it.
// All pointers point into `bytes_` and live as long as the LoadedModel.
#ifndef PLE_RUNTIME_LOAD_MODEL_H_
#define PLE_RUNTIME_LOAD_MODEL_H_

#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "load/model_bytes.h"
#include "ple/ple.h"
#include "ple_schema_version.h"
#include "load/score.h"
#include "status.h"

namespace ple::rt {

enum class Activation : uint8_t { kIdentity, kRelu, kLeakyRelu, kPRelu, kSigmoid, kTanh, kSilu, kDice };

enum class WeightType : uint8_t { kF32, kF16, kI8 };

// The weights of one or more layers that read the same input, as one matrix of `columns`
// output channels in the tiled layout every kernel path reads in place (schema: PackedGroup;
// docs/architecture.md). Every layer of a loaded model is the member of one group: files of
// schema 3 carry them; older files' row-major float32 layers are packed at load, each its own
// group, into memory the LoadedModel owns.
// An int8 group's inputs [k_begin, k_begin + k), quantized per row with their own scale and
// zero point: blocks [first_block, first_block + blocks) of the group's weights (k padded to
// 4). sums: per output channel, its int8 weights summed over these inputs (points into the file).
struct QuantSlice {
  uint32_t k_begin = 0, k = 0;
  uint32_t first_block = 0, blocks = 0;
  const int32_t* sums = nullptr;
};

struct PackedGroup {
  WeightType type = WeightType::kF32;
  uint32_t in = 0;                     // K
  uint32_t request_columns = 0;        // split point of K (0: not split)
  uint32_t columns = 0;                // N, a multiple of 16
  uint32_t request_blocks = 0;         // I8: 4-value blocks of the request columns' slices
  uint32_t blocks = 0;                 // I8: all 4-value blocks (each slice padded to 4 values)
  const void* weights = nullptr;       // I8: [columns/16][blocks][16][4]; F32, F16: [columns/16][in][16]
  size_t weight_bytes = 0;             // the bytes at `weights` (checked against the file at load)
  const float* scales = nullptr;       // I8: per column
  bool narrow = false;                 // I8: every weight in [-64, 64] (checked at load)
  // I8: the input slices in order, the request columns' first (request_slices of them); files
  // without slice_widths: the request columns (split groups) and the others.
  std::vector<QuantSlice> slices;
  uint32_t request_slices = 0;
};

// y[out] = activation(W[out, in] x[in] + bias[out]); W is columns [packed_column,
// packed_column + out) of a packed group.
struct DenseLayer {
  const PackedGroup* packed = nullptr; // never null once loaded
  uint32_t packed_column = 0;          // a multiple of 16
  const float* row_major = nullptr;    // files before schema 3: the [out, in] weights packed at load
  const float* bias = nullptr;         // out floats or nullptr (zeros)
  uint32_t in = 0;
  uint32_t out = 0;
  Activation activation = Activation::kIdentity;
  float negative_slope = 0.0f;         // kLeakyRelu
  const float* prelu_slope = nullptr;  // kPRelu: prelu_count floats
  uint32_t prelu_count = 0;            // 1 (one slope) or out (per channel)
  float dice_alpha = 0.0f;             // kDice (torch-rechub's Dice)
  float dice_epsilon = 1e-3f;
};

struct Mlp {
  std::vector<DenseLayer> layers;      // empty only for a gate with a single expert
  uint32_t in() const { return layers.front().in; }
  uint32_t out() const { return layers.back().out; }
  // Weights, biases and PReLU slopes of every layer.
  uint64_t parameters() const {
    uint64_t n = 0;
    for (const DenseLayer& l : layers) n += uint64_t{l.in} * l.out + (l.bias ? l.out : 0) + l.prelu_count;
    return n;
  }
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

struct TaskSpec {
  std::string name;
  ple_task_type type = PLE_TASK_BINARY;
};

enum class FeatureKind : uint8_t { kDense, kSparse, kSequence };
enum class OovPolicy : uint8_t { kError, kOovRow, kHash };

// An embedding table, read in place: `rows` x `dim` float32 or float16 values.
struct TableSpec {
  std::string name;
  const void* data = nullptr;
  bool f16 = false;
  bool int8 = false;                   // int8 rows, real = f16 row_scales[row] * q
  const uint16_t* row_scales = nullptr;
  uint32_t rows = 0;
  uint32_t dim = 0;
};

// A feature's encoder (docs/encoders.md): raw values to ids, views into the model's bytes.
enum class EncoderKind : uint8_t { kNone, kStringVocabulary, kIntVocabulary, kHashString, kHashInt, kBoundaries };

struct EncoderSpec {
  EncoderKind kind = EncoderKind::kNone;
  size_t size = 0;                        // vocabulary keys, or boundaries
  const uint32_t* string_offsets = nullptr;  // kStringVocabulary: size + 1, from 0, into string_bytes
  const uint8_t* string_bytes = nullptr;
  const int64_t* int_keys = nullptr;      // kIntVocabulary: ascending
  const int64_t* ids = nullptr;           // vocabularies: size ids
  bool has_oov_id = false;
  int64_t oov_id = 0;
  uint64_t buckets = 0;                   // hashes
  const float* boundaries = nullptr;      // kBoundaries: size, strictly ascending
  size_t bytes = 0;                       // what it occupies in the file (ple-inspect)
};

// One feature of the input row. Revision-1 files' `inputs` become dense features.
struct FeatureSpec {
  std::string name;
  FeatureKind kind = FeatureKind::kDense;
  ple_scope scope = PLE_SCOPE_CANDIDATE;
  uint32_t width = 0;                  // floats it adds to the input row
  uint32_t row_offset = 0;             // its first column in the input row
  uint32_t segment_offset = 0;         // its first column among the features of its scope
  // Dense.
  const float* normalize_mean = nullptr;  // width values, or nullptr
  const float* normalize_std = nullptr;
  bool nan_replace = false;            // false: a NaN/Inf value is an error
  float nan_replacement = 0.0f;
  // Sparse and sequence.
  uint32_t table = 0;
  OovPolicy oov = OovPolicy::kError;
  uint32_t oov_row = 0;
  // Sequence.
  uint32_t max_length = 0;
  bool mean_pooling = false;
  bool has_padding_id = false;
  int64_t padding_id = 0;
  float mean_eps = 0.0f;
  EncoderSpec encoder;                 // sparse, sequence: optional
};

// The model's ranking score (score.h): its formula and the name of the transform's input.
struct ScoreSpec {
  bool present = false;
  ScoreFormula formula;
  std::string transform_input;         // kScoreTransformInputRule
};

class LoadedModel {
 public:
  // Verifies `bytes` (FlatBuffers verifier, then semantic checks) and builds the views.
  // `skip_verifier` is for the fuzz target that overwrites scalar fields of valid files in
  // place (tests/fuzz/fuzz_model_fields.cc): such buffers stay verifier-valid, and any other
  // buffer read without the verifier is undefined behaviour.
  static Status Load(std::unique_ptr<ModelBytes> bytes, std::shared_ptr<const LoadedModel>* out, bool skip_verifier = false);

  const std::vector<FeatureSpec>& features() const { return features_; }
  const std::vector<TableSpec>& tables() const { return tables_; }
  const std::deque<PackedGroup>& packed_groups() const { return packed_groups_; }
  // Bytes of weights packed at load (files before schema 3), owned by the model.
  size_t packed_at_load_bytes() const { return packed_at_load_bytes_; }
  const std::vector<std::string>& extras() const { return extras_; }
  const ScoreSpec& score() const { return score_; }
  const std::vector<TaskSpec>& tasks() const { return tasks_; }
  const std::vector<Level>& levels() const { return levels_; }
  const std::vector<Tower>& towers() const { return towers_; }
  uint32_t row_width() const { return row_width_; }
  // Floats of request-scope features in the input row.
  uint32_t request_width() const { return request_width_; }
  // True when every request-scope feature precedes every candidate-scope one (files written
  // by this converter), so the first layers can split their columns into a request part
  // computed once per request and a candidate part.
  bool request_first() const { return request_first_; }
  // The first layers reading the input row are split at the request columns (their request
  // part computed once per request): the row starts with request-scope features and has both.
  bool splits_first_layers() const { return request_first_ && request_width_ > 0 && request_width_ < row_width_; }
  // True when every feature is dense (ple_session_run's float rows can carry them).
  bool dense_only() const { return dense_only_; }
  // Feature or extra index by name: features first, then extras at features().size() + i; -1 if none.
  int FindInput(const char* name) const;
  // True when FindInput index `input` may feed the score's transform (kScoreTransformInputRule).
  bool IsScoreTransformInput(int input) const;
  // Streams 0..T-1 are the tasks' outputs, stream T the shared output.
  uint32_t stream_count() const { return static_cast<uint32_t>(tasks_.size()) + 1; }
  bool is_copy() const { return bytes_->is_copy(); }
  // Metadata value by key ("name", "description", "producer", "source_framework"), or nullptr.
  const std::string* metadata(const char* key) const;  // no allocation: the C API calls it unguarded
  // The i8mm path's copy of an int8 group's weights: every input slice's blocks reordered by
  // kernels::qs8_pair_blocks, at the same offsets as `g.weights`. The first call builds the copies
  // of every int8 group (thread-safe; sessions on other paths never do); they are the model's
  // and live as long as it. nullptr when `g` is not int8 or the memory cannot be had. Defined
  // (paired_weights.cc) only in builds with that path (aarch64).
  const int8_t* PairedInt8Weights(const PackedGroup& g) const;
  // Bytes of int8 weights a model has: what the paired copies take once built.
  size_t int8_weight_bytes() const;

 private:
  friend class ModelReader;
  LoadedModel() = default;

  std::unique_ptr<ModelBytes> bytes_;
  std::vector<FeatureSpec> features_;
  std::vector<TableSpec> tables_;
  std::deque<PackedGroup> packed_groups_;   // DenseLayer::packed points here (a deque: stable addresses)
  struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
  };
  std::vector<std::unique_ptr<float, FreeDeleter>> packed_at_load_;  // 64-byte aligned
  size_t packed_at_load_bytes_ = 0;
  mutable std::once_flag paired_once_;                               // PairedInt8Weights
  mutable std::vector<std::unique_ptr<int8_t, FreeDeleter>> paired_;  // per packed group, 64-byte aligned
  std::vector<std::string> extras_;
  ScoreSpec score_;
  std::vector<TaskSpec> tasks_;
  std::vector<Level> levels_;
  std::vector<Tower> towers_;
  uint32_t row_width_ = 0;
  uint32_t request_width_ = 0;
  bool request_first_ = true;
  bool dense_only_ = true;
  std::string name_, description_, producer_, source_framework_;
};

}  // namespace ple::rt

#endif  // PLE_RUNTIME_LOAD_MODEL_H_
