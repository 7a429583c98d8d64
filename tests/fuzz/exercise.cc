#include "exercise.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace ple::fuzz {
namespace {

constexpr uint32_t kMaxBatch = 12;

float PickFloat(FuzzedDataProvider& data) {
  switch (data.ConsumeIntegralInRange<int>(0, 7)) {
    case 0: return std::numeric_limits<float>::quiet_NaN();
    case 1: return std::numeric_limits<float>::infinity();
    case 2: return -std::numeric_limits<float>::infinity();
    case 3: return std::numeric_limits<float>::denorm_min();
    case 4: return 3.0e38f;
    default: return data.ConsumeFloatingPointInRange<float>(-10.0f, 10.0f);
  }
}

int64_t PickId(FuzzedDataProvider& data, size_t vocabulary) {
  switch (data.ConsumeIntegralInRange<int>(0, 5)) {
    case 0: return -1;
    case 1: return static_cast<int64_t>(vocabulary);
    case 2: return std::numeric_limits<int64_t>::max();
    case 3: return std::numeric_limits<int64_t>::min();
    default: return vocabulary > 0 ? data.ConsumeIntegralInRange<int64_t>(0, static_cast<int64_t>(vocabulary) - 1) : 0;
  }
}

// One feature's (or extra's) values for `rows` rows, owned here.
struct Values {
  std::string name;
  std::vector<float> values;
  std::vector<int64_t> ids;
  std::vector<uint32_t> lengths;
  bool use_lengths = true;
  ple_feature_values view() const {
    ple_feature_values v{};
    v.name = name.c_str();
    if (!values.empty()) v.values = values.data(), v.num_values = values.size();
    if (!ids.empty()) v.ids = ids.data(), v.num_ids = ids.size();
    if (use_lengths && !lengths.empty()) v.lengths = lengths.data();
    return v;
  }
};

Values MakeValues(const ple_model* model, size_t feature, size_t rows, FuzzedDataProvider& data) {
  Values v;
  v.name = ple_model_feature_name(model, feature);
  const size_t width = ple_model_feature_width(model, feature), vocabulary = ple_model_feature_vocabulary(model, feature);
  size_t count = rows;
  if (data.ConsumeIntegralInRange<int>(0, 15) == 0) count = rows + 1;  // the wrong count, sometimes
  switch (ple_model_feature_kind(model, feature)) {
    case PLE_FEATURE_DENSE:
      for (size_t i = 0; i < count * width; ++i) v.values.push_back(PickFloat(data));
      break;
    case PLE_FEATURE_SPARSE:
      for (size_t i = 0; i < count; ++i) v.ids.push_back(PickId(data, vocabulary));
      break;
    case PLE_FEATURE_SEQUENCE:
      v.use_lengths = data.ConsumeBool();
      for (size_t r = 0; r < count; ++r) {
        // width is the sequence's max_length: lengths up to one past it, 0 included
        const uint32_t length = v.use_lengths ? data.ConsumeIntegralInRange<uint32_t>(0, static_cast<uint32_t>(width) + 1)
                                              : static_cast<uint32_t>(width);
        v.lengths.push_back(length);
        for (uint32_t i = 0; i < length; ++i) v.ids.push_back(PickId(data, vocabulary));
      }
      break;
  }
  return v;
}

}  // namespace

// Encodes fuzzed raw values with every feature's encoder (docs/encoders.md): any bytes as
// strings (malformed UTF-8 included), any int64, any float (NaN and infinities included).
void ExerciseEncoders(const ple_model* model, FuzzedDataProvider& data) {
  for (size_t f = 0; f < ple_model_num_features(model) && data.remaining_bytes() > 0; ++f) {
    if (ple_model_feature_encoder(model, f) == PLE_ENCODER_NONE) continue;
    const size_t count = data.ConsumeIntegralInRange<size_t>(0, 8);
    std::vector<std::string> strings(count);
    std::vector<const char*> pointers(count);
    std::vector<size_t> lengths(count);
    std::vector<int64_t> ints(count), ids(count + 1);
    std::vector<float> floats(count);
    for (size_t i = 0; i < count; ++i) {
      strings[i] = data.ConsumeRandomLengthString(24);
      pointers[i] = strings[i].data();
      lengths[i] = strings[i].size();
      ints[i] = data.ConsumeIntegral<int64_t>();
      floats[i] = PickFloat(data);
    }
    ple_model_encode_strings(model, f, pointers.data(), lengths.data(), count, ids.data());
    ple_model_encode_ints(model, f, ints.data(), count, ids.data());
    ple_model_encode_floats(model, f, floats.data(), count, ids.data());
  }
}

void ExerciseModel(const ple_model* model, FuzzedDataProvider& data) {
  ExerciseEncoders(model, data);
  ple_session_options options;
  ple_session_options_init(&options);
  options.max_batch = data.ConsumeIntegralInRange<uint32_t>(1, kMaxBatch);
  options.num_threads = data.ConsumeIntegralInRange<uint32_t>(1, 3);
  options.kernel_path = data.ConsumeBool() ? PLE_KERNELS_REFERENCE : PLE_KERNELS_AUTO;
  ple_session* session = nullptr;
  if (ple_session_create(model, &options, &session) != PLE_OK) return;
  const size_t tasks = ple_model_num_tasks(model), features = ple_model_num_features(model);
  for (int run = 0; run < 3 && data.remaining_bytes() > 0; ++run) {
    const size_t rows = data.ConsumeIntegralInRange<size_t>(0, kMaxBatch + 1);  // 0 and over the maximum too
    std::vector<float> outputs(rows * tasks + 1), scores(rows + 1);
    if (data.ConsumeBool()) {  // float rows (dense-only models; others must say UNSUPPORTED)
      std::vector<float> in(rows * ple_model_row_width(model));
      for (float& x : in) x = PickFloat(data);
      ple_session_run(session, in.data(), in.size(), rows, outputs.data(), rows * tasks);
      continue;
    }
    ple_request* request = nullptr;
    std::vector<Values> request_values, candidate_values;
    for (size_t f = 0; f < features; ++f) {
      if (data.ConsumeIntegralInRange<int>(0, 31) == 0) continue;  // a missing feature, sometimes
      const bool request_scope = ple_model_feature_scope(model, f) == PLE_SCOPE_REQUEST;
      (request_scope ? request_values : candidate_values)
          .push_back(MakeValues(model, f, request_scope ? 1 : rows, data));
    }
    for (size_t e = 0; e < ple_model_num_extras(model); ++e) {
      Values v;
      v.name = ple_model_extra_name(model, e);
      for (size_t r = 0; r < rows; ++r) v.values.push_back(PickFloat(data));
      candidate_values.push_back(v);
    }
    if (!request_values.empty() && ple_request_create(model, &request) == PLE_OK) {
      std::vector<ple_feature_values> views;
      for (const Values& v : request_values) views.push_back(v.view());
      ple_request_set(request, views.data(), views.size());
    }
    std::vector<ple_feature_values> views;
    for (const Values& v : candidate_values) views.push_back(v.view());
    const bool want_scores = data.ConsumeBool();
    if (ple_session_run_features(session, request, views.data(), views.size(), rows, outputs.data(), rows * tasks,
                                 want_scores ? scores.data() : nullptr, want_scores ? rows : 0) == PLE_OK &&
        want_scores && rows > 0) {
      std::vector<uint32_t> top(rows);
      ple_rank_top_k(scores.data(), rows, data.ConsumeIntegralInRange<size_t>(0, rows), top.data());
    }
    ple_request_close(&request);
  }
  ple_session_close(&session);
}

}  // namespace ple::fuzz
