// The C API's sessions, requests and runs (c_api.cc says how the C API's files divide).
#include <atomic>
#include <cstring>

#include "capi/c_api_shared.h"
#include "run/cpu_affinity.h"
#include "run/feature_layer.h"
#include "run/session_memory.h"

using ple::rt::FeatureSpec;
using ple::rt::FeatureKind;
using ple::rt::FeatureSource;
using ple::rt::LoadedModel;
using namespace ple::capi;

namespace {

// Reads the fields of a caller's options struct that its struct_size covers.
ple_status ReadOptions(const ple_session_options* options, ple::rt::SessionConfig* config) {
  if (options == nullptr) return PLE_OK;
  if (ple_status status = CheckStructSize(options->struct_size, kSessionOptionsFirstBytes, "ple_session_options",
                                          ": call ple_session_options_init first");
      status != PLE_OK) {
    return status;
  }
  config->max_batch = options->max_batch;
  // A C caller may store any int in the enum field: read it as an integer before trusting it.
  int kernel_path = 0;
  static_assert(sizeof(kernel_path) == sizeof(options->kernel_path), "ple_kernel_path is int-sized");
  std::memcpy(&kernel_path, &options->kernel_path, sizeof(kernel_path));
  if (kernel_path < PLE_KERNELS_AUTO || kernel_path > PLE_KERNELS_WASM_RELAXED) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "unknown kernel path %d", kernel_path);
  }
  config->kernel_path = static_cast<ple_kernel_path>(kernel_path);
  // num_threads was added later: structs from an older header end before it (1 thread).
  if (PLE_COVERS(options, ple_session_options, num_threads)) {
    config->num_threads = options->num_threads;
  }
  if (PLE_COVERS(options, ple_session_options, record_gates)) {
    config->record_gates = options->record_gates != 0;
  }
  // ABI 1.2: the CPU selection (an older struct: every CPU). Checked by Session::Create.
  if (PLE_COVERS(options, ple_session_options, cpu_mask)) {
    static_assert(sizeof(config->cpus) == sizeof(options->cpus), "ple_cpu_selection is int-sized");
    std::memcpy(&config->cpus, &options->cpus, sizeof(config->cpus));
    config->cpu_mask = options->cpu_mask;
  }
  return PLE_OK;
}

// Every ple_request_set gets a new generation, so a session never mistakes one request's
// cached results for another's (even one allocated at the same address).
std::atomic<uint64_t> g_request_generation{0};

// An extra's values for `rows` candidates (extras are never request-scope).
ple_status BindExtra(const ple_feature_values& value, size_t rows, ple_scope scope, FeatureSource* source) {
  if (scope == PLE_SCOPE_REQUEST) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "request: '%s' is an extra: give it with the candidates",
                        value.name);
  }
  if (value.values == nullptr || value.num_values != rows) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "candidates: extra '%s' needs %zu values, found %zu%s",
                        value.name, rows, value.values ? value.num_values : 0, value.values ? "" : " (NULL)");
  }
  source->dense = value.values;
  source->dense_stride = 1;
  return PLE_OK;
}

// A sequence feature's ids for `rows` rows: rows x max_length, or the sum of the given lengths.
ple_status BindSequence(const FeatureSpec& feature, const ple_feature_values& value, size_t rows, const char* where,
                        FeatureSource* source) {
  size_t expected = rows * size_t{feature.max_length};
  if (value.lengths != nullptr) {
    expected = 0;
    for (size_t r = 0; r < rows; ++r) {
      if (value.lengths[r] > feature.max_length) {
        return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "%s: feature '%s': row %zu has %u ids, max_length is %u",
                            where, value.name, r, value.lengths[r], feature.max_length);
      }
      expected += value.lengths[r];
    }
  }
  if ((value.ids == nullptr && expected > 0) || value.num_ids != expected) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "%s: sequence feature '%s' needs %zu ids (%s), found %zu", where,
                        value.name, expected, value.lengths ? "the sum of its lengths" : "rows x max_length",
                        value.num_ids);
  }
  source->ids = value.ids;
  source->lengths = value.lengths;
  return PLE_OK;
}

// A feature's values for `rows` rows, given in `scope` (`where` names it in errors).
ple_status BindFeature(const FeatureSpec& feature, const ple_feature_values& value, size_t rows, ple_scope scope,
                       const char* where, FeatureSource* source) {
  if (feature.scope != scope) {
    return SetLastError(
        PLE_ERROR_INVALID_ARGUMENT, "%s: '%s' is a %s-scope feature: give it %s", where, value.name,
        feature.scope == PLE_SCOPE_REQUEST ? "request" : "candidate",
        feature.scope == PLE_SCOPE_REQUEST ? "on the request (ple_request_set)" : "with the candidates");
  }
  switch (feature.kind) {
    case FeatureKind::kDense:
      if (value.values == nullptr || value.num_values != rows * feature.width) {
        return SetLastError(PLE_ERROR_INVALID_ARGUMENT,
                            "%s: dense feature '%s' needs %zu values (%zu rows x width %u), found %zu", where,
                            value.name, rows * feature.width, rows, feature.width, value.values ? value.num_values : 0);
      }
      source->dense = value.values;
      source->dense_stride = feature.width;
      return PLE_OK;
    case FeatureKind::kSparse:
      if (value.ids == nullptr || value.num_ids != rows) {
        return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "%s: sparse feature '%s' needs %zu ids, found %zu", where,
                            value.name, rows, value.ids ? value.num_ids : 0);
      }
      source->ids = value.ids;
      return PLE_OK;
    case FeatureKind::kSequence:
      return BindSequence(feature, value, rows, where, source);
  }
  return PLE_OK;
}

// Checks `values` against the model and fills `sources` (one per feature, then per extra) for
// `rows` rows. `scope`: the features that must all be given (request or candidate); extras
// may be given with candidates. No allocation.
ple_status BindFeatures(const LoadedModel& model, const ple_feature_values* values, size_t count, size_t rows,
                        ple_scope scope, FeatureSource* sources, uint8_t* given) {
  const size_t feature_count = model.features().size();
  const size_t total = feature_count + model.extras().size();
  std::memset(given, 0, total);
  for (size_t i = 0; i < total; ++i) sources[i] = FeatureSource{};
  if (count > 0 && values == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "feature values are NULL");
  const char* where = scope == PLE_SCOPE_REQUEST ? "request" : "candidates";
  for (size_t v = 0; v < count; ++v) {
    const ple_feature_values& value = values[v];
    if (value.name == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "%s: value %zu has no name", where, v);
    const int index = model.FindInput(value.name);
    if (index < 0) {
      return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "%s: '%s' is not a feature or an extra of this model", where,
                          value.name);
    }
    if (given[index]) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "%s: '%s' is given twice", where, value.name);
    given[index] = 1;
    const ple_status status = static_cast<size_t>(index) >= feature_count
                                  ? BindExtra(value, rows, scope, &sources[index])
                                  : BindFeature(model.features()[index], value, rows, scope, where, &sources[index]);
    if (status != PLE_OK) return status;
  }
  for (size_t i = 0; i < feature_count; ++i) {
    if (model.features()[i].scope == scope && !given[i]) {
      return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "%s: feature '%s' is missing", where,
                          model.features()[i].name.c_str());
    }
  }
  return PLE_OK;
}

}  // namespace

extern "C" {

ple_status ple_cpu_classes_get(ple_cpu_classes* classes) {
  if (classes == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "classes is NULL");
  if (ple_status status = CheckStructSize(classes->struct_size, kCpuClassesFirstBytes, "ple_cpu_classes", "");
      status != PLE_OK) {
    return status;
  }
  return Guard([&] {
    const ple::rt::CpuClasses found = ple::rt::DeviceCpuClasses(ple::rt::CpuSysfsRoot().c_str());
    classes->source = found.source;
    classes->cpus = found.cpus;
    classes->big = found.big;
    classes->little = found.little;
    classes->allowed = ple::rt::CurrentThreadCpus();
    classes->num_classes = found.num_classes;
    return PLE_OK;
  });
}

void ple_session_options_init(ple_session_options* options) {
  if (options == nullptr) return;
  std::memset(options, 0, sizeof(*options));
  options->struct_size = sizeof(*options);
  options->max_batch = ple::rt::kDefaultMaxBatch;
  options->kernel_path = PLE_KERNELS_AUTO;
  options->num_threads = 1;
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
    const size_t inputs = model->model->features().size() + model->model->extras().size();
    *out_session = new ple_session{std::move(session), std::vector<FeatureSource>(inputs), std::vector<uint8_t>(inputs)};
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
  if (ple_status status = CheckStructSize(info->struct_size, kSessionInfoFirstBytes, "ple_session_info", "");
      status != PLE_OK) {
    return status;
  }
  const ple::rt::Session& s = *session->session;
  info->kernel_path = s.kernel_path();
  info->max_batch = s.max_batch();
  info->tile_rows = s.tile_rows();
  info->arena_bytes = s.arena_bytes();
  info->packed_weight_bytes = s.packed_weight_bytes();
  if (PLE_COVERS(info, ple_session_info, num_threads)) {
    info->num_threads = s.num_threads();
  }
  if (PLE_COVERS(info, ple_session_info, worker_cpu_mask)) {
    info->worker_cpu_mask = s.worker_cpu_mask();
  }
  return PLE_OK;
}

ple_status ple_session_set_profiling(ple_session* session, int enable) {
  if (session == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "session is NULL");
  session->session->EnableProfiling(enable != 0);
  return PLE_OK;
}

ple_status ple_session_get_profile(ple_session* session, ple_stage_time* stages, size_t capacity, size_t* out_count) {
  if (session == nullptr || out_count == nullptr || (stages == nullptr && capacity > 0)) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "session or out_count is NULL, or stages is NULL with capacity %zu",
                        capacity);
  }
  return Guard([&] {
    const auto& profile = session->session->Profile();
    for (size_t i = 0; i < profile.size() && i < capacity; ++i) {
      stages[i] = ple_stage_time{profile[i].name.c_str(), profile[i].nanoseconds};
    }
    *out_count = profile.size();
    return PLE_OK;
  });
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
  if (!s.model().dense_only()) {
    return SetLastError(PLE_ERROR_UNSUPPORTED,
                        "the model has sparse or sequence features: use ple_session_run_features");
  }
  // Every feature is dense: each row's values are the sources, request-scope ones included.
  for (size_t i = 0; i < s.model().features().size(); ++i) {
    const FeatureSpec& f = s.model().features()[i];
    session->sources[i] = FeatureSource{};
    session->sources[i].dense = inputs + f.row_offset;
    session->sources[i].dense_stride = row_width;
  }
  ple::rt::RunInputs run;
  run.sources = session->sources.data();
  return Guard([&] { return s.Run(&run, num_candidates, outputs, nullptr); });
}

ple_status ple_request_create(const ple_model* model, ple_request** out_request) {
  if (out_request == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "out_request is NULL");
  *out_request = nullptr;
  if (model == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "model is NULL");
  return Guard([&] {
    const size_t inputs = model->model->features().size() + model->model->extras().size();
    auto* request = new ple_request;
    request->model = model->model;
    request->values.assign(model->model->request_width(), 0.0f);
    request->sources.resize(inputs);
    request->given.resize(inputs);
    *out_request = request;
    return PLE_OK;
  });
}

void ple_request_close(ple_request** request) {
  if (request == nullptr) return;
  delete *request;
  *request = nullptr;
}

ple_status ple_request_set(ple_request* request, const ple_feature_values* features, size_t num_features) {
  if (request == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "request is NULL");
  const LoadedModel& model = *request->model;
  request->generation = 0;  // not usable until it is set completely
  ple_status status = BindFeatures(model, features, num_features, 1, PLE_SCOPE_REQUEST, request->sources.data(),
                                   request->given.data());
  if (status != PLE_OK) return status;
  status = Guard([&] {
    for (size_t i = 0; i < model.features().size(); ++i) {
      const FeatureSpec& feature = model.features()[i];
      if (feature.scope != PLE_SCOPE_REQUEST) continue;
      const ple_status assembled = ple::rt::AssembleFeature(model, feature, &request->sources[i], 0, 1, 0,
                                                            request->values.data(), request->values.size(),
                                                            feature.segment_offset);
      if (assembled != PLE_OK) return assembled;
    }
    return PLE_OK;
  });
  if (status != PLE_OK) return status;
  request->generation = ++g_request_generation;
  return PLE_OK;
}

ple_status ple_session_run_features(ple_session* session, const ple_request* request,
                                    const ple_feature_values* candidates, size_t num_features, size_t num_candidates,
                                    float* outputs, size_t outputs_count, float* scores, size_t scores_count) {
  if (session == nullptr) return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "session is NULL");
  ple::rt::Session& s = *session->session;
  const LoadedModel& model = s.model();
  if (num_candidates == 0) return PLE_OK;
  if (num_candidates > s.max_batch()) {
    return SetLastError(PLE_ERROR_BATCH_TOO_LARGE, "%zu candidates, the session was prepared for at most %u",
                        num_candidates, s.max_batch());
  }
  const size_t task_count = model.tasks().size();
  if (outputs == nullptr || outputs_count < num_candidates * task_count) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "outputs: at least %zu floats needed (%zu candidates x %zu tasks)",
                        num_candidates * task_count, num_candidates, task_count);
  }
  if (scores != nullptr && scores_count < num_candidates) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "scores: at least %zu floats needed, scores_count is %zu",
                        num_candidates, scores_count);
  }
  if (request != nullptr && request->model.get() != &model) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "the request was created for another model");
  }
  if (model.request_width() > 0 && (request == nullptr || request->generation == 0)) {
    return SetLastError(PLE_ERROR_INVALID_ARGUMENT,
                        request == nullptr ? "the model has request-scope features: a request is needed"
                                           : "the request has not been set (ple_request_set)");
  }
  ple_status status = BindFeatures(model, candidates, num_features, num_candidates, PLE_SCOPE_CANDIDATE,
                                   session->sources.data(), session->given.data());
  if (status != PLE_OK) return status;
  if (scores != nullptr) {
    const ple::rt::ScoreParams& score = s.score();
    if (!score.present) {
      return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "the model has no ranking score: set one with ple_session_set_score");
    }
    if (score.transform_input >= 0 && !session->given[score.transform_input]) {
      const int features = static_cast<int>(model.features().size());
      return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "the score reads '%s': give it with the candidates",
                          score.transform_input < features ? model.features()[score.transform_input].name.c_str()
                                                           : model.extras()[score.transform_input - features].c_str());
    }
  }
  ple::rt::RunInputs run;
  run.sources = session->sources.data();
  if (request != nullptr && model.request_width() > 0) {
    run.request_values = request->values.data();
    run.request_generation = request->generation;
  }
  return Guard([&] { return s.Run(&run, num_candidates, outputs, scores); });
}

}  // extern "C"
