// A session: one model prepared for a maximum batch on one kernel path.
// Create does everything (plan, arenas, kernel objects, worker threads); Run walks the plan
// tile by tile and allocates nothing. A session is used by one thread at a time; it keeps its
// model alive. With several threads, Run splits the candidates into one contiguous range per
// worker, each with its own arena and scratch: a candidate's arithmetic is the same whichever
// worker computes it, so results do not depend on the thread count.
#ifndef PLE_RUNTIME_RUN_SESSION_H_
#define PLE_RUNTIME_RUN_SESSION_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "run/feature_layer.h"
#include "kernels/kernel_set.h"
#include "load/model.h"
#include "run/plan.h"
#include "status.h"
#include "run/thread_pool.h"
#include "run/worker_cost.h"
#include "kernels/xnnpack_gemm.h"

namespace ple::rt {

// Candidates computed together per step, at most. Bounds the arena whatever max_batch is.
constexpr uint32_t kMaxTileRows = 128;
constexpr uint32_t kDefaultMaxBatch = 256;

constexpr uint32_t kMaxThreads = 64;

struct SessionConfig {
  uint32_t max_batch = kDefaultMaxBatch;
  ple_kernel_path kernel_path = PLE_KERNELS_AUTO;
  uint32_t num_threads = 1;  // 1..kMaxThreads; the calling thread is one of them
  bool record_gates = false; // start with gate recording on (EnableGateRecording)
  int cpus = PLE_CPUS_ALL;   // ple_cpu_selection, checked by Create (ResolveCpuSelection)
  uint64_t cpu_mask = 0;     // with PLE_CPUS_MASK
};

struct ScratchSizes;  // session_memory.h: what a session allocates besides its arenas

// What a session with `config` will allocate, before creating it (see ple_session_memory_bytes).
Status SessionMemoryBytes(const LoadedModel& model, const SessionConfig& config, size_t* bytes);

// The score a session computes (the model's, unless overridden).
struct ScoreParams {
  bool present = false;
  ScoreFormula formula;
  int transform_input = -1;            // LoadedModel::FindInput index of the transform's input
};

// The inputs of one Run.
struct RunInputs {
  // One source per model feature, then one per extra (LoadedModel::FindInput order). Sources of
  // request-scope features are read only when `request_values` is null (each row brings its
  // own request values); extras only for the score.
  FeatureSource* sources = nullptr;
  // A request context's request-scope columns (LoadedModel::request_width floats, in the features'
  // segment order), or null. `request_generation` identifies their content: the session
  // reuses its request-part results while it is unchanged.
  const float* request_values = nullptr;
  uint64_t request_generation = 0;
};

class Session {
 public:
  static Status Create(std::shared_ptr<const LoadedModel> model, const SessionConfig& config,
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

  // Gate recording (ple_session_set_gate_recording): while on, every Run copies each computed
  // gate's softmax weights into gate_records(). Enabling allocates max_batch rows per gate,
  // nothing in Run; disabling frees them. Gates whose output no task needs are not computed
  // and have no record.
  struct GateRecord {
    uint32_t level = 0;
    uint32_t gate = 0;              // index in Level::gates
    uint32_t width = 0;             // experts weighed
    std::vector<float> weights;     // max_batch x width, rows of the last Run
  };
  Status EnableGateRecording(bool enable = true);
  const std::vector<GateRecord>& gate_records() const { return gate_records_; }
  bool gate_recording() const { return !record_of_step_.empty(); }
  // The record of a gate, or null when it is not computed or recording is off.
  const GateRecord* FindGateRecord(uint32_t level, uint32_t gate) const;
  // Candidates of the last Run while recording (gate or layer); 0 before the first.
  size_t recorded_rows() const { return recorded_rows_; }

  // Internal, for the quantization view of the diagnostics report: while on, every Run copies
  // each dense layer's output rows (after its activation) into layer_records(). Allocates
  // max_batch x out floats per computed layer when enabled; nothing in Run.
  struct LayerRecord {
    const DenseLayer* layer = nullptr;  // points into model()
    std::vector<float> values;          // max_batch x layer->out, rows of the last Run
  };
  Status EnableLayerRecording(bool enable = true);
  const std::vector<LayerRecord>& layer_records() const { return layer_records_; }

  // Input recording (internal, the converter's calibration): every run copies each candidate's
  // whole input row (LoadedModel::row_width floats, the model's column order, request columns
  // included) to input_records(), max_batch rows of the last Run.
  Status EnableInputRecording(bool enable = true);
  const std::vector<float>& input_records() const { return input_records_; }

  // How many times the request part of the split first layers was computed (tests use it to
  // show a request context's work is done once and reused).
  size_t request_part_updates() const { return request_part_updates_; }

  // Per-stage time of every Run since profiling was enabled (docs/performance.md, "ple-bench").
  // Stages: "features" (input assembly and a request context's update), "level 1".. "level L"
  // (the level's experts, gate layers and sums), "towers", "outputs" (task outputs and score).
  // Times are summed over the workers; off by default, and then Run reads no clock.
  struct StageTime {
    std::string name;
    uint64_t nanoseconds = 0;
  };
  void EnableProfiling(bool enable);
  void ResetProfile();
  // The stages' totals (workers summed); valid until the next Run or EnableProfiling.
  const std::vector<StageTime>& Profile();

  const LoadedModel& model() const { return *model_; }
  uint32_t num_threads() const { return static_cast<uint32_t>(workers_.size()); }
  // The CPUs the workers read as theirs at creation (ThreadPool::WorkerCpuMask); 0 without.
  uint64_t worker_cpu_mask() const { return worker_cpu_mask_; }
  ple_kernel_path kernel_path() const { return kernel_path_; }
  uint32_t max_batch() const { return max_batch_; }
  uint32_t tile_rows() const { return tile_rows_; }
  // Scratch allocated once: every worker's arena and scratch, the per-request results of the
  // split first layers and the group steps' bias and tile tables.
  size_t arena_bytes() const { return arena_bytes_; }
  size_t packed_weight_bytes() const { return packed_weight_bytes_; }

 private:
  // What one packed-group step needs beyond the model: its columns' bias (0 in padding), the
  // member each 16-channel tile belongs to, and on the XNNPACK path its float32 operators.
  struct GroupState {
    std::vector<float> bias;
    std::vector<uint32_t> tile_member;               // UINT32_MAX: padding between members
    std::unique_ptr<XnnpackGemm> xnnpack_candidate;  // the candidate (or all) columns
    std::unique_ptr<XnnpackGemm> xnnpack_request;    // split: the request columns
    const int8_t* int8_weights = nullptr;            // int8: the file's, or the model's paired copy (i8mm)
  };

  // One thread's scratch: its arena (tile_rows rows of every plan value) and the group and
  // gate steps' working rows. Everything a worker writes during Run is its own, but for the
  // rows of the caller's outputs, scores and gate records that belong to its candidates.
  struct FreeArena {
    void operator()(float* arena) const;
  };
  struct Worker {
    std::unique_ptr<float, FreeArena> arena;         // 64-byte aligned, worker_arena_bytes_
    std::vector<uint8_t> quantized;                  // int8 groups: quantized rows
    std::vector<float> row_scales;
    std::vector<int32_t> row_zero_points;
    std::vector<float> request_part_rows;            // split, per-row request values: their parts
    std::vector<float> gemm_out;                     // XNNPACK: a group's raw product
    std::vector<float> gate_weights;                 // one row's softmax weights
    std::vector<kernels::TileOutput> tile_outputs;   // one per tile of the widest group
    std::vector<float> slice_chain;                  // int8 input slices: the slices so far (plan.max_chained_columns per row)
    std::vector<kernels::TileOutput> chain_outputs;  // and the tiles that write or read it
    std::vector<const float*> gate_expert_pointers;
    std::vector<FeatureSource> sources;              // the run's sources, positioned at this worker's rows
    std::vector<uint64_t> stage_nanoseconds;         // profiling: per stage
    ple_status status = PLE_OK;                      // this worker's part of the last Run
    double range_ns = 0.0;                           // and how long it took (split runs)
    char error[256] = "";
  };

  Session() = default;
  // Profile stages: 0 features, 1 + l level l, levels + 1 towers, levels + 2 outputs (the last).
  size_t OutputsStage() const { return model_->levels().size() + 2; }
  Status CreateWorker(const ScratchSizes& scratch, Worker* worker);
  Status PrepareGroups(bool xnnpack_f32);
  float* ValuePointer(const Worker& worker, uint32_t value) const;
  ple_status RunRows(Worker& worker, RunInputs* inputs, size_t begin, size_t end, float* outputs, float* scores);
  // A run shared by `active` workers, one contiguous range each (session_split.cc).
  ple_status RunSplit(RunInputs* inputs, size_t rows, size_t active, bool warm, float* outputs, float* scores);
  ple_status AssembleInputs(Worker& worker, RunInputs* inputs, size_t first, size_t rows);
  ple_status UpdateRequestPartials(Worker& worker, const RunInputs& inputs);
  ple_status RunGroup(Worker& worker, size_t step_index, const PlanStep& step, size_t rows, bool per_row_request);
  // The request part of a split group's columns, bias included, for `rows` rows of request
  // columns (LoadedModel::request_width floats each): part[r][n], `columns` floats per row.
  ple_status GroupRequestPart(Worker& worker, size_t step_index, const PlanStep& step, size_t rows,
                              const float* request, float* part);
  enum class GroupPart { kRequest, kCandidate };  // a split group's request columns, or the rest (all, unsplit)
  // An int8 group's product over one part's input slices (GroupProduct's int8 case).
  ple_status Int8Product(Worker& worker, const GroupState& state, const PackedGroup& g, GroupPart part, size_t rows,
                         const float* x, size_t x_stride, size_t add_stride);
  ple_status GroupProduct(Worker& worker, const GroupState& state, const PackedGroup& g, GroupPart part, size_t rows,
                          const float* x, size_t x_stride, size_t add_stride);
  void AddAndStore(Worker& worker, size_t rows, size_t tiles, size_t columns, size_t add_stride);
  void RunGate(Worker& worker, size_t step_index, const PlanStep& step, size_t first, size_t rows);
  // Layer recording: copies the group's members' rows [first, first + rows) to their records.
  void RecordLayers(const Worker& worker, const PlanStep& step, size_t first, size_t rows);
  // Input recording: rows [first, first + rows)'s input rows, as AssembleInputs left them.
  void RecordInputs(const Worker& worker, const RunInputs& inputs, size_t first, size_t rows);
  ple_status ComputeScores(const RunInputs& inputs, size_t first, size_t rows, const float* outputs,
                           float* scores) const;

  std::shared_ptr<const LoadedModel> model_;
  Plan plan_;
  const KernelSet* kernels_ = nullptr;
  ple_kernel_path kernel_path_ = PLE_KERNELS_REFERENCE;
  uint32_t max_batch_ = 0;
  uint32_t tile_rows_ = 0;
  size_t worker_arena_bytes_ = 0;  // one worker's arena
  size_t arena_bytes_ = 0;         // everything arena_bytes() reports
  size_t packed_weight_bytes_ = 0;
  std::vector<GroupState> groups_;                             // indexed by step (empty for other steps)
  std::vector<size_t> request_partial_offset_;                 // per split step: offset in request_partials_
  std::vector<float> request_partials_;                        // request part of each split step, for one request
  uint64_t partials_generation_ = 0;                           // the request they were computed for (0: none)
  size_t request_part_updates_ = 0;
  std::vector<Worker> workers_;                                // one per thread, workers_[0] the caller's
  std::unique_ptr<ThreadPool> pool_;                           // null with one thread
  uint64_t run_cpus_ = 0;                                      // the selection's CPUs (0: all): each run's caller moves inside
  std::thread::id moved_thread_;                               // the last thread a run moved into run_cpus_
  uint64_t worker_cpu_mask_ = 0;                               // what the workers read as their affinity
  WorkerPlanner planner_;                                      // how many workers a run deserves (worker_cost.h)
  std::chrono::steady_clock::time_point last_run_end_{};      // when the last run ended (with a pool)
  bool always_split_ = false;                                  // PLE_THREAD_SPLIT=always (the thread tests)
  std::unique_ptr<XnnpackThreads> xnnpack_threads_;            // XNNPACK path, several threads: its own pool
  bool profiling_ = false;
  std::vector<StageTime> profile_;
  ScoreParams score_;
  std::vector<GateRecord> gate_records_;
  std::vector<int> record_of_step_;                            // per step: index in gate_records_ or -1
  std::vector<LayerRecord> layer_records_;
  std::vector<int> record_of_member_;                          // per group member: index in layer_records_ or -1
  std::vector<float> input_records_;                           // max_batch x row_width, or empty
  size_t recorded_rows_ = 0;
};

}  // namespace ple::rt

#endif  // PLE_RUNTIME_RUN_SESSION_H_
