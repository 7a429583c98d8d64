// A session's diagnostics, off the hot path: per-stage profiling, and the gate and layer
// records that runs fill when recording is on (docs/diagnostics.md). Enabling allocates; a run
// only writes into what was allocated.
#include "run/session.h"

#include <algorithm>
#include <string>

#include "run/session_memory.h"

namespace ple::rt {

void Session::EnableProfiling(bool enable) {
  profiling_ = enable;
  ResetProfile();
}

void Session::ResetProfile() {
  for (Worker& worker : workers_) std::fill(worker.stage_nanoseconds.begin(), worker.stage_nanoseconds.end(), 0);
}

const std::vector<Session::StageTime>& Session::Profile() {
  const size_t levels = model_->levels().size();
  if (profile_.empty()) {
    profile_.push_back({"features", 0});
    for (size_t l = 0; l < levels; ++l) profile_.push_back({"level " + std::to_string(l + 1), 0});
    profile_.push_back({"towers", 0});
    profile_.push_back({"outputs", 0});
  }
  for (size_t i = 0; i < profile_.size(); ++i) {
    profile_[i].nanoseconds = 0;
    for (const Worker& worker : workers_) profile_[i].nanoseconds += worker.stage_nanoseconds[i];
  }
  return profile_;
}

Status Session::EnableGateRecording(bool enable) {
  gate_records_.clear();
  gate_records_.shrink_to_fit();
  record_of_step_.clear();
  record_of_step_.shrink_to_fit();
  recorded_rows_ = 0;
  if (!enable) return Status::Ok();
  Status status = CheckSessionBytes(GateRecordingBytes(plan_, max_batch_), "gate recording");
  if (!status.ok()) return status;
  record_of_step_.assign(plan_.steps.size(), -1);
  for (size_t i = 0; i < plan_.steps.size(); ++i) {
    const PlanStep& step = plan_.steps[i];
    if (step.kind != StepKind::kGate) continue;
    GateRecord record;
    record.level = step.level;
    record.gate = step.gate;
    record.width = step.experts_count;
    record.weights.assign(size_t{max_batch_} * record.width, 0.0f);
    record_of_step_[i] = static_cast<int>(gate_records_.size());
    gate_records_.push_back(std::move(record));
  }
  return Status::Ok();
}

const Session::GateRecord* Session::FindGateRecord(uint32_t level, uint32_t gate) const {
  for (const GateRecord& record : gate_records_) {
    if (record.level == level && record.gate == gate) return &record;
  }
  return nullptr;
}

Status Session::EnableLayerRecording(bool enable) {
  layer_records_.clear();
  layer_records_.shrink_to_fit();
  record_of_member_.clear();
  record_of_member_.shrink_to_fit();
  recorded_rows_ = 0;
  if (!enable) return Status::Ok();
  Status status = CheckSessionBytes(LayerRecordingBytes(plan_, max_batch_), "layer recording");
  if (!status.ok()) return status;
  record_of_member_.assign(plan_.group_members.size(), -1);
  for (size_t m = 0; m < plan_.group_members.size(); ++m) {
    LayerRecord record;
    record.layer = plan_.group_members[m].layer;
    record.values.assign(size_t{max_batch_} * record.layer->out, 0.0f);
    record_of_member_[m] = static_cast<int>(layer_records_.size());
    layer_records_.push_back(std::move(record));
  }
  return Status::Ok();
}

void Session::RecordLayers(const Worker& worker, const PlanStep& step, size_t first, size_t rows) {
  for (uint32_t m = 0; m < step.members_count; ++m) {
    const GroupMember& member = plan_.group_members[step.members_begin + m];
    LayerRecord& record = layer_records_[record_of_member_[step.members_begin + m]];
    const size_t width = member.layer->out;  // values are densely packed: stride = width
    const float* source = ValuePointer(worker, member.value);
    std::copy(source, source + rows * width, record.values.data() + first * width);
  }
}

Status Session::EnableInputRecording(bool enable) {
  input_records_.clear();
  input_records_.shrink_to_fit();
  if (!enable) return Status::Ok();
  const uint64_t floats = uint64_t{max_batch_} * model_->row_width();
  const Status status = CheckSessionBytes(floats * sizeof(float), "input recording");
  if (!status.ok()) return status;
  input_records_.assign(static_cast<size_t>(floats), 0.0f);
  return Status::Ok();
}

void Session::RecordInputs(const Worker& worker, const RunInputs& inputs, size_t first, size_t rows) {
  const LoadedModel& model = *model_;
  const size_t width = model.row_width();
  for (const FeatureSpec& feature : model.features()) {
    // Where AssembleInputs put the feature's columns (or where the request context holds them).
    const float* source = ValuePointer(worker, kInputValue) + (plan_.split ? feature.segment_offset : feature.row_offset);
    size_t stride = plan_.input_width;
    if (feature.scope == PLE_SCOPE_REQUEST && plan_.split) {
      const bool context = inputs.request_values != nullptr;
      source = (context ? inputs.request_values : ValuePointer(worker, kRequestRowsValue)) + feature.segment_offset;
      stride = context ? 0 : plan_.request_width;
    }
    for (size_t r = 0; r < rows; ++r) {
      std::copy(source + r * stride, source + r * stride + feature.width,
                input_records_.data() + (first + r) * width + feature.row_offset);
    }
  }
}

}  // namespace ple::rt
