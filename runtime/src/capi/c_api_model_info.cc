// The C API's encoders, model structure, gate weights, ranking score and top-K (c_api.cc says
// how the C API's files divide).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "capi/c_api_shared.h"
#include "run/encoder.h"
#include "run/hash64.h"

using ple::rt::FeatureSpec;
using ple::rt::FeatureKind;
using ple::rt::LoadedModel;
using namespace ple::capi;

extern "C" {

// ---- encoders ----

static_assert(static_cast<int>(ple::rt::EncoderKind::kStringVocabulary) == PLE_ENCODER_STRING_VOCABULARY &&
                  static_cast<int>(ple::rt::EncoderKind::kIntVocabulary) == PLE_ENCODER_INT_VOCABULARY &&
                  static_cast<int>(ple::rt::EncoderKind::kHashString) == PLE_ENCODER_HASH_STRING &&
                  static_cast<int>(ple::rt::EncoderKind::kHashInt) == PLE_ENCODER_HASH_INT &&
                  static_cast<int>(ple::rt::EncoderKind::kBoundaries) == PLE_ENCODER_BOUNDARIES,
              "ple_encoder_kind mirrors rt::EncoderKind");

ple_encoder_kind ple_model_feature_encoder(const ple_model* model, size_t feature) {
  if (model == nullptr || feature >= model->model->features().size()) return PLE_ENCODER_NONE;
  return static_cast<ple_encoder_kind>(model->model->features()[feature].encoder.kind);
}

uint64_t ple_model_feature_encoder_size(const ple_model* model, size_t feature) {
  if (model == nullptr || feature >= model->model->features().size()) return 0;
  const ple::rt::EncoderSpec& e = model->model->features()[feature].encoder;
  return e.kind == ple::rt::EncoderKind::kHashString || e.kind == ple::rt::EncoderKind::kHashInt ? e.buckets : e.size;
}

int64_t ple_model_find_feature(const ple_model* model, const char* name) {
  if (model == nullptr || name == nullptr) return -1;
  const int input = model->model->FindInput(name);  // features first, then extras
  return input >= 0 && static_cast<size_t>(input) < model->model->features().size() ? input : -1;
}

namespace {

// The feature, or null with the error set.
const FeatureSpec* EncodedFeature(const ple_model* model, size_t feature, const void* values, size_t count,
                                  const int64_t* out_ids) {
  if (model == nullptr || ((values == nullptr || out_ids == nullptr) && count > 0)) {
    SetLastError(PLE_ERROR_INVALID_ARGUMENT, "model, values or out_ids is NULL");
    return nullptr;
  }
  if (feature >= model->model->features().size()) {
    SetLastError(PLE_ERROR_INVALID_ARGUMENT, "feature %zu: the model has %zu features", feature,
                 model->model->features().size());
    return nullptr;
  }
  return &model->model->features()[feature];
}

}  // namespace

ple_status ple_model_encode_strings(const ple_model* model, size_t feature, const char* const* values,
                                    const size_t* lengths, size_t count, int64_t* out_ids) {
  const FeatureSpec* f = EncodedFeature(model, feature, values, count, out_ids);
  if (f == nullptr) return PLE_ERROR_INVALID_ARGUMENT;
  return Guard([&] { return ple::rt::EncodeStrings(*f, values, lengths, count, out_ids); });
}

ple_status ple_model_encode_ints(const ple_model* model, size_t feature, const int64_t* values, size_t count,
                                 int64_t* out_ids) {
  const FeatureSpec* f = EncodedFeature(model, feature, values, count, out_ids);
  if (f == nullptr) return PLE_ERROR_INVALID_ARGUMENT;
  return Guard([&] { return ple::rt::EncodeInts(*f, values, count, out_ids); });
}

ple_status ple_model_encode_floats(const ple_model* model, size_t feature, const float* values, size_t count,
                                   int64_t* out_ids) {
  const FeatureSpec* f = EncodedFeature(model, feature, values, count, out_ids);
  if (f == nullptr) return PLE_ERROR_INVALID_ARGUMENT;
  return Guard([&] { return ple::rt::EncodeFloats(*f, values, count, out_ids); });
}

uint64_t ple_hash64(const void* data, size_t size) { return ple::rt::Hash64(data, size); }

// ---- structure and gate diagnostics ----

namespace {

// Checks the info struct's size and the level's range; the level, or null with the error set.
const ple::rt::Level* LevelFor(const ple_model* model, size_t level, const void* info, uint32_t struct_size,
                               size_t first_bytes, const char* struct_name) {
  if (model == nullptr || info == nullptr) {
    SetLastError(PLE_ERROR_INVALID_ARGUMENT, "model or info is NULL");
    return nullptr;
  }
  if (CheckStructSize(struct_size, first_bytes, struct_name, "") != PLE_OK) return nullptr;
  if (level >= model->model->levels().size()) {
    SetLastError(PLE_ERROR_INVALID_ARGUMENT, "level %zu: the model has %zu levels", level,
                 model->model->levels().size());
    return nullptr;
  }
  return &model->model->levels()[level];
}

}  // namespace

size_t ple_model_num_levels(const ple_model* model) { return model ? model->model->levels().size() : 0; }

size_t ple_model_num_experts(const ple_model* model, size_t level) {
  if (model == nullptr || level >= model->model->levels().size()) return 0;
  return model->model->levels()[level].experts.size();
}

size_t ple_model_num_gates(const ple_model* model, size_t level) {
  if (model == nullptr || level >= model->model->levels().size()) return 0;
  return model->model->levels()[level].gates.size();
}

ple_status ple_model_get_expert(const ple_model* model, size_t level, size_t expert, ple_expert_info* info) {
  const ple::rt::Level* l = LevelFor(model, level, info, info ? info->struct_size : 0, kExpertInfoFirstBytes,
                                     "ple_expert_info");
  if (l == nullptr) return PLE_ERROR_INVALID_ARGUMENT;
  if (expert >= l->experts.size()) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "expert %zu: level %zu has %zu experts", expert, level,
                        l->experts.size());
  }
  const ple::rt::Expert& e = l->experts[expert];
  info->input_stream = e.input_stream;
  info->input_width = e.mlp.in();
  info->output_width = e.mlp.out();
  info->num_layers = static_cast<uint32_t>(e.mlp.layers.size());
  info->parameters = e.mlp.parameters();
  return PLE_OK;
}

ple_status ple_model_get_gate(const ple_model* model, size_t level, size_t gate, ple_gate_info* info) {
  const ple::rt::Level* l =
      LevelFor(model, level, info, info ? info->struct_size : 0, kGateInfoFirstBytes, "ple_gate_info");
  if (l == nullptr) return PLE_ERROR_INVALID_ARGUMENT;
  if (gate >= l->gates.size()) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "gate %zu: level %zu has %zu gates", gate, level, l->gates.size());
  }
  const ple::rt::Gate& g = l->gates[gate];
  info->input_stream = g.input_stream;
  info->output_stream = g.output_stream;
  info->num_experts = static_cast<uint32_t>(g.experts.size());
  info->experts = g.experts.data();
  info->num_layers = static_cast<uint32_t>(g.mlp.layers.size());
  info->parameters = g.mlp.parameters();
  return PLE_OK;
}

ple_status ple_session_set_gate_recording(ple_session* session, int enable) {
  if (session == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "session is NULL");
  return Guard([&] {
    ple::rt::Status status = session->session->EnableGateRecording(enable != 0);
    return status.ok() ? PLE_OK : Fail(status);
  });
}

ple_status ple_session_get_gate_weights(const ple_session* session, size_t level, size_t gate, float* weights,
                                        size_t capacity, size_t* out_rows, size_t* out_experts) {
  if (session == nullptr || out_rows == nullptr || (weights == nullptr && capacity > 0)) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "session or out_rows is NULL, or weights is NULL with capacity %zu",
                        capacity);
  }
  const ple::rt::Session& s = *session->session;
  const LoadedModel& model = s.model();
  if (level >= model.levels().size() || gate >= model.levels()[level].gates.size()) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "level %zu gate %zu: out of range", level, gate);
  }
  if (!s.gate_recording()) {
    return SetLastError(PLE_ERROR_UNSUPPORTED, "gate recording is off: ple_session_set_gate_recording(session, 1)");
  }
  const ple::rt::Session::GateRecord* record =
      s.FindGateRecord(static_cast<uint32_t>(level), static_cast<uint32_t>(gate));
  const size_t rows = s.recorded_rows();
  if (record == nullptr && model.levels()[level].gates[gate].mlp.layers.empty()) {
    // No gate layers: its one expert's weight is 1 by definition (the plan reads the expert).
    std::fill(weights, weights + std::min(capacity, rows), 1.0f);
    *out_rows = rows;
    if (out_experts != nullptr) *out_experts = 1;
    return PLE_OK;
  }
  if (record == nullptr) {
    return SetLastError(PLE_ERROR_UNSUPPORTED, "level %zu gate %zu is not computed: no task output depends on it",
                        level, gate);
  }
  std::copy(record->weights.data(), record->weights.data() + std::min(capacity, rows * record->width), weights);
  *out_rows = rows;
  if (out_experts != nullptr) *out_experts = record->width;
  return PLE_OK;
}

ple_status ple_model_get_score(const ple_model* model, ple_score_params* score) {
  if (model == nullptr || score == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "model or score is NULL");
  if (ple_status status = CheckStructSize(score->struct_size, kScoreParamsFirstBytes, "ple_score_params", "");
      status != PLE_OK) {
    return status;
  }
  const ple::rt::ScoreSpec& info = model->model->score();
  if (!info.present) return SetLastError(PLE_ERROR_UNSUPPORTED, "the model has no ranking score");
  const ple::rt::ScoreFormula& formula = info.formula;
  score->exponents = formula.exponents.data();
  score->num_exponents = formula.exponents.size();
  score->regression_floor = formula.regression_floor;
  score->transform = static_cast<ple_score_transform>(formula.transform);
  score->transform_input = info.transform_input.c_str();
  score->transform_scale = formula.transform_scale;
  score->transform_offset = formula.transform_offset;
  return PLE_OK;
}

ple_status ple_session_set_score(ple_session* session, const ple_score_params* score) {
  if (session == nullptr || score == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "session or score is NULL");
  if (ple_status status = CheckStructSize(score->struct_size, kScoreParamsFirstBytes, "ple_score_params", "");
      status != PLE_OK) {
    return status;
  }
  const LoadedModel& model = session->session->model();
  if (score->exponents == nullptr && score->num_exponents > 0) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "score: exponents is NULL");
  }
  int transform = 0;
  static_assert(sizeof(transform) == sizeof(score->transform), "ple_score_transform is int-sized");
  std::memcpy(&transform, &score->transform, sizeof(transform));
  if (transform < PLE_SCORE_NONE || transform > PLE_SCORE_SIGMOID) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "score: unknown transform %d", transform);
  }
  return Guard([&] {
    ple::rt::ScoreParams params;
    params.present = true;
    ple::rt::ScoreFormula& formula = params.formula;
    formula.exponents.assign(score->exponents, score->exponents + score->num_exponents);
    formula.regression_floor = score->regression_floor;
    formula.transform = static_cast<ple::rt::ScoreTransform>(transform);
    formula.transform_scale = score->transform_scale;
    formula.transform_offset = score->transform_offset;
    const std::string problem = ple::rt::ScoreFormulaProblem(formula, model.tasks());
    if (!problem.empty()) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "score: %s", problem.c_str());
    if (transform != PLE_SCORE_NONE) {
      params.transform_input = score->transform_input ? model.FindInput(score->transform_input) : -1;
      if (!model.IsScoreTransformInput(params.transform_input)) {
        return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "score: transform input '%s' is not %s",
                            score->transform_input ? score->transform_input : "(NULL)",
                            ple::rt::kScoreTransformInputRule);
      }
    }
    session->session->SetScore(params);
    return PLE_OK;
  });
}

ple_status ple_rank_top_k(const float* scores, size_t count, size_t k, uint32_t* out_indices) {
  if (count == 0 || k == 0) return PLE_OK;
  if (scores == nullptr || out_indices == nullptr) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "scores or out_indices is NULL");
  }
  if (count > UINT32_MAX) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "more than 2^32 - 1 scores");
  // `a` ranks before `b`: higher score, NaN last, then lower index.
  auto before = [scores](uint32_t a, uint32_t b) {
    const float sa = scores[a], sb = scores[b];
    const bool na = std::isnan(sa), nb = std::isnan(sb);
    if (na != nb) return nb;
    if (!na && sa != sb) return sa > sb;
    return a < b;
  };
  // A heap of the best k so far, worst on top; then sort it. O(count log k), no allocation.
  const size_t keep = std::min(k, count);
  for (uint32_t i = 0; i < count; ++i) {
    if (i < keep) {
      out_indices[i] = i;
      std::push_heap(out_indices, out_indices + i + 1, before);
    } else if (before(i, out_indices[0])) {
      std::pop_heap(out_indices, out_indices + keep, before);
      out_indices[keep - 1] = i;
      std::push_heap(out_indices, out_indices + keep, before);
    }
  }
  std::sort_heap(out_indices, out_indices + keep, before);
  return PLE_OK;
}

}  // extern "C"
