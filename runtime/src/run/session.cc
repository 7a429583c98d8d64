#include "run/session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <system_error>

#include "kernels/kernels.h"
#include "kernels/portable-math.h"
#include "run/cpu_affinity.h"
#include "run/session_memory.h"

namespace ple::rt {
namespace {

// PLE_THREAD_SPLIT=always: every run takes every worker (one row each at least), whatever the
// cost model says: the thread tests use it to run their small batches on many workers.
bool AlwaysSplit() {
  const char* text = std::getenv("PLE_THREAD_SPLIT");
  return text != nullptr && std::strcmp(text, "always") == 0;
}

// The worker threads' spin between runs: PLE_THREAD_SPIN_NS when set (a number of
// nanoseconds, 0 for none), else the default (thread_pool.h).
uint64_t SpinNanoseconds() {
  const char* text = std::getenv("PLE_THREAD_SPIN_NS");
  if (text == nullptr || *text == '\0') return kDefaultSpinNanoseconds;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text, &end, 10);
  return *end == '\0' ? static_cast<uint64_t>(value) : kDefaultSpinNanoseconds;
}

constexpr size_t kArenaAlignmentBytes = 64;

// Profiling: Charge(stage) adds the time since the previous charge (or construction) to the
// stage's total. With null totals it reads no clock.
class StageClock {
 public:
  explicit StageClock(uint64_t* totals) : totals_(totals) {
    if (totals_ != nullptr) last_ = std::chrono::steady_clock::now();
  }
  void Charge(size_t stage) {
    if (totals_ == nullptr) return;
    const auto now = std::chrono::steady_clock::now();
    totals_[stage] += static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_).count());
    last_ = now;
  }

 private:
  uint64_t* totals_;
  std::chrono::steady_clock::time_point last_;
};

// A float32 group's columns [k_begin, k_end) as the row-major [columns, k] matrix XNNPACK takes.
std::vector<float> RowMajor(const PackedGroup& g, uint32_t k_begin, uint32_t k_end) {
  const uint32_t k = k_end - k_begin;
  std::vector<float> out(size_t{g.columns} * k);
  const float* w = static_cast<const float*>(g.weights);
  for (uint32_t n = 0; n < g.columns; ++n) {
    for (uint32_t i = 0; i < k; ++i) out[size_t{n} * k + i] = w[(size_t{n / 16} * g.in + k_begin + i) * 16 + n % 16];
  }
  return out;
}

}  // namespace

Status Session::Create(std::shared_ptr<const LoadedModel> model, const SessionConfig& config,
                       std::unique_ptr<Session>* out) {
  std::unique_ptr<Session> session(new Session());
  Status status = CheckConfig(config, &session->kernels_);
  if (!status.ok()) return status;
  session->kernel_path_ = session->kernels_->path;
  session->model_ = std::move(model);
  session->max_batch_ = config.max_batch;
  status = ResolveCpuSelection(config.cpus, config.cpu_mask, CpuSysfsRoot().c_str(), &session->run_cpus_);
  if (!status.ok()) return status;
  session->plan_ = BuildPlan(*session->model_);
  const Plan& plan = session->plan_;
  session->tile_rows_ = TileRows(plan, config, session->kernels_->xnnpack_f32);

  status = CheckSessionBytes(SessionBytes(plan, config, *session->kernels_), "a session");
  if (!status.ok()) return status;
  const bool xnnpack_f32 = session->kernels_->xnnpack_f32;
  const ScratchSizes scratch(plan, session->tile_rows_, xnnpack_f32);
  session->worker_arena_bytes_ = static_cast<size_t>(ArenaBytes(plan, session->tile_rows_));
  session->workers_.resize(WorkerCount(config, *session->kernels_));
  for (Worker& worker : session->workers_) {
    status = session->CreateWorker(scratch, &worker);
    if (!status.ok()) return status;
  }
  session->arena_bytes_ = static_cast<size_t>(scratch.shared_bytes() +
                                              session->workers_.size() * (session->worker_arena_bytes_ + scratch.worker_bytes()));
  if (session->workers_.size() > 1) {
    try {
      session->pool_.reset(new ThreadPool(session->workers_.size(), SpinNanoseconds(), session->run_cpus_));
    } catch (const std::system_error& e) {
      return MakeError(PLE_ERROR_INTERNAL, "cannot start %zu worker threads: %s", session->workers_.size() - 1,
                       e.what());
    }
    session->worker_cpu_mask_ = session->pool_->WorkerCpuMask();
    session->planner_ = WorkerPlanner(session->pool_->MeasureWakeNanoseconds(5, false),
                                      session->pool_->MeasureWakeNanoseconds(5, true),
                                      CandidateMacsPerRow(session->plan_) / kOptimisticMacsPerNs);
    session->always_split_ = AlwaysSplit();
  }
  if (xnnpack_f32 && config.num_threads > 1) {
    // pthreadpool's threads inherit the creating thread's affinity: create them inside the selection.
    const ScopedThreadCpus inside(session->run_cpus_);
    session->xnnpack_threads_ = CreateXnnpackThreads(config.num_threads);
    if (session->xnnpack_threads_ == nullptr) {
      return MakeError(PLE_ERROR_OUT_OF_MEMORY, "cannot start XNNPACK's %u threads", config.num_threads);
    }
  }
  size_t partials = 0;
  for (uint32_t width : plan.split_outputs) {
    session->request_partial_offset_.push_back(partials);
    partials += width;
  }
  session->request_partials_.assign(scratch.request_partials, 0.0f);
  PageInWeights(plan);
  status = session->PrepareGroups(xnnpack_f32);
  if (!status.ok()) return status;
  const ScoreSpec& score = session->model_->score();
  session->score_.present = score.present;
  session->score_.formula = score.formula;
  if (!score.present) session->score_.formula.exponents.assign(session->model_->tasks().size(), 0.0f);
  session->score_.transform_input = score.formula.transform == ScoreTransform::kNone
                                        ? -1
                                        : session->model_->FindInput(score.transform_input.c_str());
  if (config.record_gates) {
    status = session->EnableGateRecording(true);
    if (!status.ok()) return status;
  }
  *out = std::move(session);
  return Status::Ok();
}

// Each group's bias vector and tile table (which member each 16-column tile belongs to), the
// int8 weights its path reads, and on the XNNPACK path its operators over the request and
// candidate columns.
Status Session::PrepareGroups(bool xnnpack_f32) {
  Status status;
  bool paired_weights = false;
  groups_.resize(plan_.steps.size());
  for (size_t i = 0; i < plan_.steps.size(); ++i) {
    const PlanStep& step = plan_.steps[i];
    if (step.kind != StepKind::kGroup) continue;
    const PackedGroup& g = *step.group;
    GroupState& state = groups_[i];
    state.bias.assign(g.columns, 0.0f);
    state.tile_member.assign(g.columns / 16, UINT32_MAX);
    for (uint32_t m = 0; m < step.members_count; ++m) {
      const DenseLayer& layer = *plan_.group_members[step.members_begin + m].layer;
      if (layer.bias != nullptr)
        std::copy(layer.bias, layer.bias + layer.out, state.bias.begin() + layer.packed_column);
      for (uint32_t c = 0; c < layer.out; c += 16) state.tile_member[(layer.packed_column + c) / 16] = m;
    }
    if (g.type == WeightType::kI8) {
      state.int8_weights = static_cast<const int8_t*>(g.weights);
#if PLE_HAVE_ARM_NEON_I8MM_KERNELS  // the one path reading a copy: paired_weights.cc is built with it
      if (kernels_->int8_pair != nullptr) {
        state.int8_weights = model_->PairedInt8Weights(g);
        if (state.int8_weights == nullptr) {
          return MakeError(PLE_ERROR_OUT_OF_MEMORY, "cannot allocate the %zu bytes of the %s path's int8 weights",
                           model_->int8_weight_bytes(), kernels_->name);
        }
        paired_weights = true;
      }
#endif
    }
    if (xnnpack_f32 && g.type == WeightType::kF32) {
      size_t packed = 0;
      status = CreateXnnpackGemm(g.in - g.request_columns, g.columns, plan_.values[step.input].width, g.columns,
                                 RowMajor(g, g.request_columns, g.in).data(), &state.xnnpack_candidate, &packed);
      if (!status.ok()) return status;
      packed_weight_bytes_ += packed;
      if (step.split >= 0) {
        status = CreateXnnpackGemm(g.request_columns, g.columns, plan_.request_width, g.columns,
                                   RowMajor(g, 0, g.request_columns).data(), &state.xnnpack_request, &packed);
        if (!status.ok()) return status;
        packed_weight_bytes_ += packed;
      }
    }
  }
  if (paired_weights) packed_weight_bytes_ += model_->int8_weight_bytes();  // the model's, shared
  return Status::Ok();
}

Session::~Session() = default;

void Session::FreeArena::operator()(float* arena) const { std::free(arena); }

Status Session::CreateWorker(const ScratchSizes& scratch, Worker* worker) {
  if (worker_arena_bytes_ > 0) {
    worker->arena.reset(static_cast<float*>(std::aligned_alloc(kArenaAlignmentBytes, worker_arena_bytes_)));
    if (worker->arena == nullptr) {
      return MakeError(PLE_ERROR_OUT_OF_MEMORY, "cannot allocate a %zu-byte arena", worker_arena_bytes_);
    }
    // Touched now: its pages are the process's when the first run comes (docs/performance.md,
    // "First run": bench-m-dense int8's first run took 2.09x a warm one without, 1.26x with).
    std::memset(worker->arena.get(), 0, worker_arena_bytes_);
  }
  worker->quantized.assign(scratch.quantized, 0);
  worker->row_scales.assign(scratch.rows, 0.0f);
  worker->row_zero_points.assign(scratch.rows, 0);
  worker->request_part_rows.assign(scratch.request_part_rows, 0.0f);
  worker->gemm_out.assign(scratch.gemm_out, 0.0f);
  worker->gate_weights.assign(scratch.gate_weights, 0.0f);
  worker->tile_outputs.resize(scratch.tile_outputs);
  worker->slice_chain.assign(scratch.slice_chain, 0.0f);
  worker->chain_outputs.resize(scratch.chain_outputs);
  worker->gate_expert_pointers.resize(plan_.max_gate_experts);
  worker->sources.resize(model_->features().size() + model_->extras().size());
  worker->stage_nanoseconds.assign(OutputsStage() + 1, 0);
  return Status::Ok();
}

float* Session::ValuePointer(const Worker& worker, uint32_t value) const {
  return worker.arena.get() + plan_.values[value].arena_offset_floats * tile_rows_;
}

// Fills value 0 (and, split with per-row request values, value 1) for rows [first, first + rows).
ple_status Session::AssembleInputs(Worker& worker, RunInputs* inputs, size_t first, size_t rows) {
  const LoadedModel& model = *model_;
  float* input_row = ValuePointer(worker, kInputValue);
  const size_t input_stride = plan_.input_width;
  for (size_t i = 0; i < model.features().size(); ++i) {
    const FeatureSpec& feature = model.features()[i];
    const bool request = feature.scope == PLE_SCOPE_REQUEST;
    if (!request) {
      const size_t column = plan_.split ? feature.segment_offset : feature.row_offset;
      const ple_status status =
          AssembleFeature(model, feature, &worker.sources[i], first, rows, first, input_row, input_stride, column);
      if (status != PLE_OK) return status;
    } else if (inputs->request_values == nullptr) {  // each row brings its own request values
      float* out = plan_.split ? ValuePointer(worker, kRequestRowsValue) : input_row;
      const size_t stride = plan_.split ? plan_.request_width : input_stride;
      const size_t column = plan_.split ? feature.segment_offset : feature.row_offset;
      const ple_status status =
          AssembleFeature(model, feature, &worker.sources[i], first, rows, first, out, stride, column);
      if (status != PLE_OK) return status;
    } else if (!plan_.split) {  // a request context, but the model's columns interleave scopes
      for (size_t r = 0; r < rows; ++r) {
        std::memcpy(input_row + r * input_stride + feature.row_offset, inputs->request_values + feature.segment_offset,
                    feature.width * sizeof(float));
      }
    }
  }
  return PLE_OK;
}

// With a request context: the request part of every split group, once per request.
ple_status Session::UpdateRequestPartials(Worker& worker, const RunInputs& inputs) {
  if (!plan_.split || inputs.request_values == nullptr || inputs.request_generation == partials_generation_) {
    return PLE_OK;
  }
  for (size_t i = 0; i < plan_.steps.size(); ++i) {
    const PlanStep& step = plan_.steps[i];
    if (step.split < 0) continue;
    const ple_status status = GroupRequestPart(worker, i, step, 1, inputs.request_values,
                                               request_partials_.data() + request_partial_offset_[step.split]);
    if (status != PLE_OK) {
      partials_generation_ = 0;
      return status;
    }
  }
  partials_generation_ = inputs.request_generation;
  ++request_part_updates_;
  return PLE_OK;
}

namespace {

// An int8 layer's input holds a NaN or an infinity (the quantizer refused it): the row and the
// column, for the message. Rows are relative to the current tile, so the candidate is not named.
ple_status NonFiniteInputError(const float* x, size_t stride, size_t rows, size_t k, const char* what) {
  for (size_t r = 0; r < rows; ++r) {
    for (size_t i = 0; i < k; ++i) {
      if (!std::isfinite(x[r * stride + i])) {
        return SetLastError(PLE_ERROR_INVALID_ARGUMENT,
                            "an int8 layer's %s holds %g at column %zu: an input value (or a weight of a corrupted "
                            "model file) is out of range",
                            what, static_cast<double>(x[r * stride + i]), i);
      }
    }
  }
  return SetLastError(PLE_ERROR_INTERNAL, "the quantizer refused a row, but every value is finite");
}

}  // namespace

ple_status Session::GroupRequestPart(Worker& worker, size_t step_index, const PlanStep& step, size_t rows,
                                     const float* request, float* part) {
  const PackedGroup& g = *step.group;
  const GroupState& state = groups_[step_index];
  const size_t tiles = g.columns / 16;
  for (size_t t = 0; t < tiles; ++t) {  // all columns, the bias included, no activation
    worker.tile_outputs[t] = kernels::TileOutput{part + 16 * t, state.bias.data() + 16 * t, g.columns, 16, 0, 0};
  }
  return GroupProduct(worker, state, g, GroupPart::kRequest, rows, request, plan_.request_width, 0);
}

// The one GEMM seam: a group's product over one part of its inputs, whatever its weight type,
// into worker.tile_outputs (each tile's addend added, ReLU fused where the tile says). int8
// quantizes the rows first (a NaN or an infinity is an error naming the column); float32 runs
// XNNPACK's operator when the session has one for this part.
ple_status Session::GroupProduct(Worker& worker, const GroupState& state, const PackedGroup& g, GroupPart part,
                                 size_t rows, const float* x, size_t x_stride, size_t add_stride) {
  const bool request = part == GroupPart::kRequest;
  const size_t tiles = g.columns / 16;
  const size_t k_begin = request ? 0 : g.request_columns, k = request ? g.request_columns : g.in - g.request_columns;
  switch (g.type) {
    case WeightType::kI8:
      return Int8Product(worker, state, g, part, rows, x, x_stride, add_stride);
    case WeightType::kF16:
      kernels_->f16_gemm(rows, k, x, x_stride, static_cast<const uint16_t*>(g.weights) + k_begin * 16,
                         size_t{g.in} * 16, tiles, worker.tile_outputs.data(), add_stride);
      return PLE_OK;
    case WeightType::kF32: {
      XnnpackGemm* xnnpack = request ? state.xnnpack_request.get() : state.xnnpack_candidate.get();
      if (xnnpack != nullptr) {
        if (!xnnpack->Run(rows, x, worker.gemm_out.data(), xnnpack_threads_.get())) {
          return SetLastError(PLE_ERROR_INTERNAL, "XNNPACK failed on a [%u -> %u] group's %s", g.in, g.columns,
                              request ? "request columns" : "inputs");
        }
        AddAndStore(worker, rows, tiles, g.columns, add_stride);
        return PLE_OK;
      }
      kernels_->f32_gemm(rows, k, x, x_stride, static_cast<const float*>(g.weights) + k_begin * 16, size_t{g.in} * 16,
                         tiles, worker.tile_outputs.data(), add_stride);
      return PLE_OK;
    }
  }
  return SetLastError(PLE_ERROR_INTERNAL, "a packed group of unknown weight type");
}

// Each input slice of the part is quantized per row with its own scale, and multiplied. One
// slice: into the tile outputs. Several: the first slice's product plus the tiles' addends goes
// to worker.slice_chain, each next one adds its product to that in place (the kernels read an
// addend before they write its output), the last one adds into the tile outputs (ReLU there):
// one fixed float order, so every path computes the same bits.
ple_status Session::Int8Product(Worker& worker, const GroupState& state, const PackedGroup& g, GroupPart part,
                                size_t rows, const float* x, size_t x_stride, size_t add_stride) {
  const bool request = part == GroupPart::kRequest;
  const size_t first = request ? 0 : g.request_slices, end = request ? g.request_slices : g.slices.size();
  const size_t tiles = g.columns / 16, k_begin = g.slices[first].k_begin;
  const auto gemm = g.narrow ? kernels_->qu8s8_gemm_narrow : kernels_->qu8s8_gemm;
  for (size_t s = first; s < end; ++s) {
    const QuantSlice& slice = g.slices[s];
    const size_t q_stride = size_t{slice.blocks} * 4;
    if (!kernels_->f32_qu8_quantize(rows, slice.k, x + (slice.k_begin - k_begin), x_stride, worker.quantized.data(),
                                    q_stride, q_stride, worker.row_scales.data(), worker.row_zero_points.data())) {
      const QuantSlice& last = g.slices[end - 1];
      return NonFiniteInputError(x, x_stride, rows, last.k_begin + last.k - k_begin,
                                 request ? "request columns" : "input");
    }
    const kernels::TileOutput* outputs = worker.tile_outputs.data();
    size_t stride = add_stride;
    if (end - first > 1) {  // chained through worker.slice_chain
      for (size_t t = 0; t < tiles; ++t) {
        const kernels::TileOutput& o = worker.tile_outputs[t];
        kernels::TileOutput& chained = worker.chain_outputs[t];
        float* so_far = worker.slice_chain.data() + 16 * t;
        if (s + 1 == end) {
          chained = o;
          chained.add = so_far;
        } else {
          chained = kernels::TileOutput{o.out != nullptr ? so_far : nullptr, s == first ? o.add : so_far, g.columns, 16,
                                        0, 0};
        }
      }
      outputs = worker.chain_outputs.data();
      stride = s == first ? add_stride : g.columns;
    }
    gemm(rows, slice.blocks, worker.quantized.data(), q_stride,
         state.int8_weights + size_t{slice.first_block} * 64, size_t{g.blocks} * 64, tiles,
         worker.row_scales.data(), worker.row_zero_points.data(), g.scales, slice.sums, outputs, stride);
  }
  return PLE_OK;
}

// The XNNPACK path's epilogue: its raw product (worker.gemm_out, `columns` floats per row) plus each
// tile's addend, ReLU where fused, into the tile outputs.
void Session::AddAndStore(Worker& worker, size_t rows, size_t tiles, size_t columns, size_t add_stride) {
  for (size_t t = 0; t < tiles; ++t) {
    const kernels::TileOutput& o = worker.tile_outputs[t];
    if (o.out == nullptr) continue;
    for (size_t r = 0; r < rows; ++r) {
      const float* product = worker.gemm_out.data() + r * columns + 16 * t;
      const float* add = o.add + r * add_stride;
      float* out = o.out + r * o.out_stride;
      for (size_t c = 0; c < o.columns; ++c) {
        const float y = product[c] + add[c];
        out[c] = o.relu && !(y > 0.0f) ? 0.0f : y;
      }
    }
  }
}

// Every member of a packed group in one GEMM call over the group's tiles: each tile's result
// (int8: dequantized) plus the bias or the request part, ReLU fused, straight into its
// member's value; other activations run on each member afterwards.
ple_status Session::RunGroup(Worker& worker, size_t step_index, const PlanStep& step, size_t rows,
                             bool per_row_request) {
  const PackedGroup& g = *step.group;
  const GroupState& state = groups_[step_index];
  const float* add = state.bias.data();
  size_t add_stride = 0;
  if (step.split >= 0) {
    if (per_row_request) {
      const ple_status status = GroupRequestPart(
          worker, step_index, step, rows, ValuePointer(worker, kRequestRowsValue), worker.request_part_rows.data());
      if (status != PLE_OK) return status;
      add = worker.request_part_rows.data();
      add_stride = g.columns;
    } else {
      add = request_partials_.data() + request_partial_offset_[step.split];
    }
  }
  const size_t tiles = g.columns / 16;
  for (size_t t = 0; t < tiles; ++t) {
    kernels::TileOutput& o = worker.tile_outputs[t];
    if (state.tile_member[t] == UINT32_MAX) {  // padding between members (never written by the converter)
      o = kernels::TileOutput{};
      continue;
    }
    const GroupMember& member = plan_.group_members[step.members_begin + state.tile_member[t]];
    const DenseLayer& layer = *member.layer;
    const uint32_t local = static_cast<uint32_t>(16 * t) - layer.packed_column;
    o = kernels::TileOutput{ValuePointer(worker, member.value) + local, add + 16 * t, layer.out,
                            std::min<uint32_t>(16, layer.out - local), layer.activation == Activation::kRelu, 0};
  }
  const ple_status status = GroupProduct(worker, state, g, GroupPart::kCandidate, rows, ValuePointer(worker, step.input),
                                         plan_.values[step.input].width, add_stride);
  if (status != PLE_OK) return status;
  for (uint32_t m = 0; m < step.members_count; ++m) {
    const GroupMember& member = plan_.group_members[step.members_begin + m];
    const Activation activation = member.layer->activation;
    if (activation == Activation::kIdentity || activation == Activation::kRelu) continue;
    kernels::f32_activation__scalar(*member.layer, rows, member.layer->out, ValuePointer(worker, member.value),
                                    member.layer->out);
  }
  return PLE_OK;
}

// softmax(logits) weighs the experts' values, fused: the weights go to a scratch row (or to
// the gate's record when recording).
void Session::RunGate(Worker& worker, size_t step_index, const PlanStep& step, size_t first, size_t rows) {
  for (uint32_t i = 0; i < step.experts_count; ++i) {
    worker.gate_expert_pointers[i] = ValuePointer(worker, plan_.gate_experts[step.experts_begin + i]);
  }
  float* weights = worker.gate_weights.data();
  size_t weights_stride = 0;
  if (!record_of_step_.empty() && record_of_step_[step_index] >= 0) {
    GateRecord& record = gate_records_[record_of_step_[step_index]];
    weights = record.weights.data() + first * record.width;
    weights_stride = record.width;
  }
  const PlanValue& out = plan_.values[step.output];
  kernels_->f32_gate_softmax_sum(rows, step.experts_count, out.width, ValuePointer(worker, step.input),
                                        plan_.values[step.input].width, worker.gate_expert_pointers.data(), out.width,
                                        weights, weights_stride, ValuePointer(worker, step.output), out.width);
}

ple_status Session::ComputeScores(const RunInputs& inputs, size_t first, size_t rows, const float* outputs,
                                  float* scores) const {
  const size_t tasks = model_->tasks().size();
  const FeatureSource* input = score_.transform_input >= 0 ? &inputs.sources[score_.transform_input] : nullptr;
  // A dense feature's value as the feature layer takes it (NaN replaced, not normalized); an
  // extra's must be finite.
  const int features = static_cast<int>(model_->features().size());
  const FeatureSpec* feature = input != nullptr && score_.transform_input < features
                                   ? &model_->features()[score_.transform_input]
                                   : nullptr;
  for (size_t r = 0; r < rows; ++r) {
    float x = 0.0f;
    if (input != nullptr) {
      x = input->dense[(first + r) * input->dense_stride];
      if (!std::isfinite(x)) {
        if (feature == nullptr || !feature->nan_replace) {
          return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "%s '%s': the score's input of candidate %zu is %s",
                              feature ? "feature" : "extra",
                              feature ? feature->name.c_str()
                                      : model_->extras()[score_.transform_input - features].c_str(),
                              first + r, std::isnan(x) ? "NaN" : "infinite");
        }
        x = feature->nan_replacement;
      }
    }
    scores[first + r] =
        kernels::f32_ranking_score__scalar(score_.formula, model_->tasks().data(), outputs + (first + r) * tasks, x);
  }
  return PLE_OK;
}

// Rows [begin, end) on one worker, tile by tile.
ple_status Session::RunRows(Worker& worker, RunInputs* inputs, size_t begin, size_t end, float* outputs,
                            float* scores) {
  const size_t task_count = model_->tasks().size();
  const bool per_row_request = inputs->request_values == nullptr;
  const size_t outputs_stage = OutputsStage();
  StageClock clock(profiling_ ? worker.stage_nanoseconds.data() : nullptr);
  ple_status status = PLE_OK;
  for (size_t first = begin; first < end; first += tile_rows_) {
    const size_t rows = std::min<size_t>(tile_rows_, end - first);
    status = AssembleInputs(worker, inputs, first, rows);
    if (status != PLE_OK) return status;
    if (!input_records_.empty()) RecordInputs(worker, *inputs, first, rows);
    clock.Charge(0);
    for (size_t step_index = 0; step_index < plan_.steps.size(); ++step_index) {
      const PlanStep& step = plan_.steps[step_index];
      switch (step.kind) {
        case StepKind::kGroup:
          status = RunGroup(worker, step_index, step, rows, per_row_request);
          if (status != PLE_OK) return status;
          if (!record_of_member_.empty()) RecordLayers(worker, step, first, rows);
          clock.Charge(1 + step.level);
          break;
        case StepKind::kGate:
          RunGate(worker, step_index, step, first, rows);
          clock.Charge(1 + step.level);
          break;
        case StepKind::kTaskOutput: {
          const bool binary = model_->tasks()[step.task].type == PLE_TASK_BINARY;
          float* out = outputs + first * task_count + step.task;
          const size_t not_finite = kernels::f32_task_output__scalar(
              rows, ValuePointer(worker, step.input), plan_.values[step.input].width, binary, out, task_count);
          clock.Charge(outputs_stage);
          if (not_finite < rows) {  // a defined answer instead of NaN scores (docs/hardening.md)
            return SetLastError(PLE_ERROR_INVALID_ARGUMENT,
                                "candidate %zu, task '%s': the output is %g, not finite: an input value (or a weight of "
                                "a corrupted model file) is out of range",
                                first + not_finite, model_->tasks()[step.task].name.c_str(),
                                static_cast<double>(out[not_finite * task_count]));
          }
          break;
        }
      }
    }
    if (scores != nullptr) {
      status = ComputeScores(*inputs, first, rows, outputs, scores);
      if (status != PLE_OK) return status;
      clock.Charge(outputs_stage);
    }
  }
  return PLE_OK;
}

ple_status Session::Run(RunInputs* inputs, size_t num_candidates, float* outputs, float* scores) {
  // The caller's share runs on the selected CPUs too: the first run on a thread moves it there
  // and leaves it (docs/performance.md, "Big and little cores": moving it back after every run
  // cost 5.6 us a run here, seven times a small model's batch of one).
  if (run_cpus_ != 0 && moved_thread_ != std::this_thread::get_id()) {
    MoveCurrentThreadInside(run_cpus_);
    moved_thread_ = std::this_thread::get_id();
  }
  if (!record_of_step_.empty() || !record_of_member_.empty()) recorded_rows_ = num_candidates;
  {
    StageClock clock(profiling_ ? workers_[0].stage_nanoseconds.data() : nullptr);
    const ple_status status = UpdateRequestPartials(workers_[0], *inputs);
    if (status != PLE_OK) return status;
    clock.Charge(1);  // the request part of level 1's products
  }
  // As many workers as the rows deserve (worker_cost.h), a contiguous range each (RunSplit).
  // Runs that come back to back (this one within the pool's spin of the last one's end) find
  // the workers spinning, or leave them spinning for the next: the warm wake-up's cost.
  // A run of one row (never split) reads no clock: at a small model's 0.6 us, two reads were
  // 5 % of it on this VM.
  using Clock = std::chrono::steady_clock;
  const bool timed = pool_ && num_candidates > 1;
  const Clock::time_point start = timed ? Clock::now() : Clock::time_point{};
  const bool warm = timed && last_run_end_ != Clock::time_point{} &&
                    start - last_run_end_ < std::chrono::nanoseconds(pool_->spin_ns());
  const size_t active = always_split_ ? std::min(workers_.size(), std::max<size_t>(1, num_candidates))
                                     : planner_.Workers(num_candidates, workers_.size(), warm);
  std::copy(inputs->sources, inputs->sources + workers_[0].sources.size(), workers_[0].sources.begin());
  if (!timed) return RunRows(workers_[0], inputs, 0, num_candidates, outputs, scores);
  const ple_status status = active > 1 ? RunSplit(inputs, num_candidates, active, warm, outputs, scores)
                                       : RunRows(workers_[0], inputs, 0, num_candidates, outputs, scores);
  last_run_end_ = Clock::now();
  // One thread: the measured row_ns (a split run measures its ranges itself).
  if (active == 1 && status == PLE_OK) {
    planner_.RangeMeasured(std::chrono::duration<double, std::nano>(last_run_end_ - start).count(), num_candidates);
  }
  return status;
}

}  // namespace ple::rt
