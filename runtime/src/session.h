// A session: one model prepared for a maximum batch on one kernel path.
// Create does everything (plan, arena, kernel objects); Run walks the plan tile by tile
// and allocates nothing. A session is used by one thread at a time; it keeps its model alive.
#ifndef PLE_RUNTIME_SESSION_H_
#define PLE_RUNTIME_SESSION_H_

#include <cstddef>
#include <memory>
#include <vector>

#include "feature_layer.h"
#include "kernels/kernel_set.h"
#include "model.h"
#include "plan.h"
#include "status.h"
#include "xnnpack_gemm.h"

namespace ple::rt {

// Candidates computed together per step, at most. Bounds the arena whatever max_batch is.
constexpr uint32_t kMaxTileRows = 128;
constexpr uint32_t kDefaultMaxBatch = 256;

struct SessionConfig {
  uint32_t max_batch = kDefaultMaxBatch;
  ple_kernel_path kernel_path = PLE_KERNELS_AUTO;
};

// What a session with `config` will allocate, before creating it (see ple_session_memory_bytes).
Status SessionMemoryBytes(const Model& model, const SessionConfig& config, size_t* bytes);

// The score a session computes (the model's, unless overridden).
struct ScoreParams {
  bool present = false;
  std::vector<float> exponents;        // one per task
  float regression_floor = 0.0f;
  ScoreTransform transform = ScoreTransform::kNone;
  int transform_input = -1;            // Model::FindInput index of the transform's input
  float transform_scale = 1.0f;
  float transform_offset = 0.0f;
};

// The inputs of one Run.
struct RunInputs {
  // One source per model feature, then one per extra (Model::FindInput order). Sources of
  // request-scope features are read only when `request_values` is null (each row brings its
  // own request values); extras only for the score.
  FeatureSource* sources = nullptr;
  // A request context's request-scope columns (Model::request_width floats, in the features'
  // segment order), or null. `request_generation` identifies their content: the session
  // reuses its request-part results while it is unchanged.
  const float* request_values = nullptr;
  uint64_t request_generation = 0;
};

class Session {
 public:
  static Status Create(std::shared_ptr<const Model> model, const SessionConfig& config,
                       std::unique_ptr<Session>* out);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // outputs: num_candidates x num_tasks floats; scores: num_candidates floats or null.
  // Sizes are checked by the caller (the C API). Reports errors through SetLastError.
  ple_status Run(RunInputs* inputs, size_t num_candidates, float* outputs, float* scores);

  // Replaces the score (already validated by the caller against the model).
  void SetScore(const ScoreParams& score) { score_ = score; }
  const ScoreParams& score() const { return score_; }

  // Internal, for ple-conformance and tests (the public opt-in comes with the diagnostics
  // work): from now on every Run copies each computed gate's softmax weights into
  // gate_records(). Allocates max_batch rows per gate here, nothing in Run. Gates whose
  // output no task needs are not computed and have no record.
  struct GateRecord {
    uint32_t level = 0;
    uint32_t gate = 0;              // index in Level::gates
    uint32_t width = 0;             // experts weighed
    std::vector<float> weights;     // max_batch x width, rows of the last Run
  };
  void EnableGateRecording();
  const std::vector<GateRecord>& gate_records() const { return gate_records_; }

  // How many times the request part of the split first layers was computed (tests use it to
  // show a request context's work is done once and reused).
  size_t request_part_updates() const { return request_part_updates_; }

  const Model& model() const { return *model_; }
  ple_kernel_path kernel_path() const { return kernel_path_; }
  uint32_t max_batch() const { return max_batch_; }
  uint32_t tile_rows() const { return tile_rows_; }
  // Scratch allocated once: the arena, the per-request results of the split first layers and
  // the group steps' scratch.
  size_t arena_bytes() const { return arena_bytes_ + scratch_bytes_; }
  size_t packed_weight_bytes() const { return packed_weight_bytes_; }

 private:
  // What one packed-group step needs beyond the model: its columns' bias (0 in padding), the
  // member each 16-channel tile belongs to, and on the XNNPACK path its float32 operators.
  struct GroupState {
    std::vector<float> bias;
    std::vector<uint32_t> tile_member;               // UINT32_MAX: padding between members
    std::unique_ptr<XnnpackGemm> xnnpack_candidate;  // the candidate (or all) columns
    std::unique_ptr<XnnpackGemm> xnnpack_request;    // split: the request columns
  };

  Session() = default;
  float* ValuePointer(uint32_t value) const;
  ple_status AssembleInputs(RunInputs* inputs, size_t first, size_t rows);
  ple_status UpdateRequestPartials(const RunInputs& inputs);
  ple_status RunGroup(size_t step_index, const PlanStep& step, size_t rows, bool per_row_request);
  // The request part of a split group's columns, bias included, for `rows` rows of request
  // columns (Model::request_width floats each): part[r][n], `columns` floats per row.
  ple_status GroupRequestPart(size_t step_index, const PlanStep& step, size_t rows, const float* request,
                              float* part);
  void AddAndStore(size_t rows, size_t tiles, size_t columns, size_t add_stride);
  void RunGate(size_t step_index, const PlanStep& step, size_t first, size_t rows);
  ple_status ComputeScores(const RunInputs& inputs, size_t first, size_t rows, const float* outputs,
                           float* scores) const;

  std::shared_ptr<const Model> model_;
  Plan plan_;
  const KernelSet* kernels_ = nullptr;
  ple_kernel_path kernel_path_ = PLE_KERNELS_REFERENCE;
  uint32_t max_batch_ = 0;
  uint32_t tile_rows_ = 0;
  float* arena_ = nullptr;     // 64-byte aligned, arena_bytes_
  size_t arena_bytes_ = 0;
  size_t scratch_bytes_ = 0;   // the vectors below
  size_t packed_weight_bytes_ = 0;
  std::vector<GroupState> groups_;                             // indexed by step (empty for other steps)
  std::vector<size_t> request_partial_offset_;                 // per split step: offset in request_partials_
  std::vector<float> request_partials_;                        // request part of each split step, for one request
  uint64_t partials_generation_ = 0;                           // the request they were computed for (0: none)
  size_t request_part_updates_ = 0;
  // Scratch, sized for the widest group and a tile of rows.
  std::vector<uint8_t> quantized_;                             // int8 groups: quantized rows
  std::vector<float> row_scales_;
  std::vector<int32_t> row_zero_points_;
  std::vector<float> request_part_rows_;                       // split, per-row request values: their parts
  std::vector<float> gemm_out_;                                // XNNPACK: a group's raw product
  std::vector<float> gate_weights_;                            // one row's softmax weights
  std::vector<kernels::TileOutput> tile_outputs_;              // one per tile of the widest group
  std::vector<const float*> gate_expert_pointers_;
  ScoreParams score_;
  std::vector<GateRecord> gate_records_;
  std::vector<int> record_of_step_;                            // per step: index in gate_records_ or -1
};

}  // namespace ple::rt

#endif  // PLE_RUNTIME_SESSION_H_
