// Verifier-valid but inconsistent files: a bundle's model file (converted once, at start-up)
// with some of its scalar fields overwritten in place: shapes, widths, counts, stream and
// expert indices, packed-group geometry, dtypes, feature and score settings. Overwriting
// scalars cannot move an offset, so the buffer stays valid for the FlatBuffers verifier and
// this target skips it on purpose (ple::rt::OpenModelSkippingVerifier): all of its time goes to
// the semantic checks and to what runs after them, where such files break loaders. Accepted
// files are then prepared and run.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "capi/c_api_internal.h"
#include "exercise.h"
#include "ple_model_generated.h"
#include "test_util.h"

namespace {

namespace fb = ple::fb;
using Mutator = std::function<void(fb::Model*, FuzzedDataProvider&)>;

std::vector<std::vector<uint8_t>>& Seeds() {
  static std::vector<std::vector<uint8_t>> seeds = [] {
    std::vector<std::vector<uint8_t>> out;
    const auto int8 = ple::convert::PrecisionPlan::ForName("int8");
    std::vector<std::string> names = ple::test::BundleNames();
    names.insert(names.end(), {"features_mixed", "features_f16_sum"});
    for (const std::string& name : names) {
      out.push_back(ple::test::ConvertBundle(name).bytes);
      out.push_back(ple::test::ConvertBundle(name, {}, int8).bytes);
    }
    // The example with every kind of encoder but hashes, and one with a hash (docs/encoders.md).
    out.push_back(ple::convert::ConvertNative(ple::test::SourcePath("tests/data/encoders/config.json"),
                                              ple::test::SourcePath("examples/feed/weights.safetensors"))
                      .bytes);
    return out;
  }();
  return seeds;
}

uint32_t PickCount(FuzzedDataProvider& data) {
  switch (data.ConsumeIntegralInRange<int>(0, 4)) {
    case 0: return 0;
    case 1: return UINT32_MAX;
    case 2: return 1u << 31;
    default: return data.ConsumeIntegralInRange<uint32_t>(0, 600);
  }
}

void MutateShape(flatbuffers::Vector<uint32_t>* shape, FuzzedDataProvider& data) {
  if (shape != nullptr && shape->size() > 0) {
    shape->Mutate(data.ConsumeIntegralInRange<uint32_t>(0, shape->size() - 1), PickCount(data));
  }
}

void MutateTensor(fb::Tensor* tensor, FuzzedDataProvider& data) {
  if (tensor == nullptr) return;
  if (data.ConsumeBool()) {
    tensor->mutate_dtype(static_cast<fb::DType>(data.ConsumeIntegralInRange<int>(0, 4)));
  } else {
    MutateShape(tensor->mutable_shape(), data);
  }
}

void MutateMlp(fb::Mlp* mlp, FuzzedDataProvider& data) {
  if (mlp == nullptr || mlp->mutable_layers() == nullptr || mlp->layers()->size() == 0) return;
  fb::DenseLayer* layer = mlp->mutable_layers()->GetMutableObject(
      data.ConsumeIntegralInRange<uint32_t>(0, mlp->layers()->size() - 1));
  switch (data.ConsumeIntegralInRange<int>(0, 5)) {
    case 0: layer->mutate_activation(static_cast<fb::Activation>(data.ConsumeIntegralInRange<int>(0, 9))); break;
    case 1: layer->mutate_packed_group(PickCount(data) % 8); break;
    case 2: layer->mutate_packed_column(PickCount(data)); break;
    case 3: MutateTensor(layer->mutable_weight(), data); break;
    case 4: MutateTensor(layer->mutable_bias(), data); break;
    default: MutateTensor(layer->mutable_prelu_slope(), data); break;
  }
}

template <typename T>
T* PickTable(flatbuffers::Vector<flatbuffers::Offset<T>>* tables, FuzzedDataProvider& data) {
  if (tables == nullptr || tables->size() == 0) return nullptr;
  return tables->GetMutableObject(data.ConsumeIntegralInRange<uint32_t>(0, tables->size() - 1));
}

void MutateLevel(fb::Level* level, FuzzedDataProvider& data) {
  if (level == nullptr) return;
  if (data.ConsumeBool()) {
    fb::Expert* expert = PickTable(level->mutable_experts(), data);
    if (expert == nullptr) return;
    if (data.ConsumeBool()) expert->mutate_input_stream(PickCount(data) % 12);
    else MutateMlp(expert->mutable_mlp(), data);
    return;
  }
  fb::Gate* gate = PickTable(level->mutable_gates(), data);
  if (gate == nullptr) return;
  switch (data.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: gate->mutate_input_stream(PickCount(data) % 12); break;
    case 1: gate->mutate_output_stream(PickCount(data) % 12); break;
    case 2:
      if (gate->mutable_experts() != nullptr && gate->experts()->size() > 0) {
        gate->mutable_experts()->Mutate(data.ConsumeIntegralInRange<uint32_t>(0, gate->experts()->size() - 1),
                                        PickCount(data) % 20);
      }
      break;
    default: MutateMlp(gate->mutable_mlp(), data); break;
  }
}

// An encoder's scalars (docs/encoders.md): kind, ids, keys, offsets, bytes, buckets, OOV id,
// boundaries.
void MutateEncoder(fb::Encoder* e, FuzzedDataProvider& data) {
  if (e == nullptr) return;
  auto pick = [&](auto* vector) { return data.ConsumeIntegralInRange<uint32_t>(0, vector->size() - 1); };
  switch (data.ConsumeIntegralInRange<int>(0, 7)) {
    case 0: e->mutate_kind(static_cast<fb::EncoderKind>(data.ConsumeIntegralInRange<int>(0, 6))); break;
    case 1: if (e->ids() && e->ids()->size()) e->mutable_ids()->Mutate(pick(e->ids()), data.ConsumeIntegral<int64_t>()); break;
    case 2: if (e->int_keys() && e->int_keys()->size()) e->mutable_int_keys()->Mutate(pick(e->int_keys()), data.ConsumeIntegral<int64_t>()); break;
    case 3: if (e->string_offsets() && e->string_offsets()->size()) e->mutable_string_offsets()->Mutate(pick(e->string_offsets()), PickCount(data)); break;
    case 4: if (e->string_bytes() && e->string_bytes()->size()) e->mutable_string_bytes()->Mutate(pick(e->string_bytes()), data.ConsumeIntegral<uint8_t>()); break;
    case 5: e->mutate_buckets(data.ConsumeBool() ? PickCount(data) : data.ConsumeIntegral<uint64_t>()); break;
    case 6: e->mutate_has_oov_id(data.ConsumeBool()), e->mutate_oov_id(data.ConsumeIntegral<int64_t>()); break;
    default: if (e->boundaries() && e->boundaries()->size()) e->mutable_boundaries()->Mutate(pick(e->boundaries()), data.ConsumeFloatingPoint<float>()); break;
  }
}

void MutateFeature(fb::Feature* f, FuzzedDataProvider& data) {
  if (f == nullptr) return;
  if (f->encoder() != nullptr && data.ConsumeBool()) return MutateEncoder(f->mutable_encoder(), data);
  switch (data.ConsumeIntegralInRange<int>(0, 9)) {
    case 0: f->mutate_kind(static_cast<fb::FeatureKind>(data.ConsumeIntegralInRange<int>(0, 3))); break;
    case 1: f->mutate_scope(static_cast<fb::Scope>(data.ConsumeIntegralInRange<int>(0, 2))); break;
    case 2: f->mutate_width(PickCount(data)); break;
    case 3: f->mutate_table(PickCount(data) % 8); break;
    case 4: f->mutate_oov_policy(static_cast<fb::OovPolicy>(data.ConsumeIntegralInRange<int>(0, 3))); break;
    case 5: f->mutate_oov_row(PickCount(data)); break;
    case 6: f->mutate_max_length(PickCount(data)); break;
    case 7: f->mutate_pooling(static_cast<fb::Pooling>(data.ConsumeIntegralInRange<int>(0, 2))); break;
    case 8: f->mutate_padding_id(data.ConsumeIntegral<int64_t>()); break;
    default: f->mutate_nan_policy(static_cast<fb::NanPolicy>(data.ConsumeIntegralInRange<int>(0, 2))); break;
  }
}

void MutateOnce(fb::Model* model, FuzzedDataProvider& data) {
  switch (data.ConsumeIntegralInRange<int>(0, 8)) {
    case 0: MutateLevel(PickTable(model->mutable_levels(), data), data); break;
    case 1: {
      fb::Tower* tower = PickTable(model->mutable_towers(), data);
      if (tower == nullptr) break;
      if (data.ConsumeBool()) tower->mutate_input_stream(PickCount(data) % 12);
      else MutateMlp(tower->mutable_mlp(), data);
      break;
    }
    case 2: {
      fb::PackedGroup* g = PickTable(model->mutable_packed_groups(), data);
      if (g == nullptr) break;
      switch (data.ConsumeIntegralInRange<int>(0, 3)) {
        case 0: g->mutate_dtype(static_cast<fb::DType>(data.ConsumeIntegralInRange<int>(0, 4))); break;
        case 1: g->mutate_in(PickCount(data)); break;
        case 2: g->mutate_request_columns(PickCount(data)); break;
        default: g->mutate_columns(PickCount(data)); break;
      }
      break;
    }
    case 3: MutateFeature(PickTable(model->mutable_features(), data), data); break;
    case 4: {
      fb::EmbeddingTable* t = PickTable(model->mutable_tables(), data);
      if (t != nullptr) MutateTensor(t->mutable_rows(), data);
      break;
    }
    case 5: {
      fb::Task* task = PickTable(model->mutable_tasks(), data);
      if (task != nullptr) task->mutate_type(static_cast<fb::TaskType>(data.ConsumeIntegralInRange<int>(0, 2)));
      break;
    }
    case 6: {
      fb::Input* input = PickTable(model->mutable_inputs(), data);
      if (input != nullptr) input->mutate_width(PickCount(data));
      break;
    }
    case 7: {
      fb::Score* score = model->mutable_score();
      if (score != nullptr) score->mutate_transform(static_cast<fb::ScoreTransform>(data.ConsumeIntegralInRange<int>(0, 4)));
      break;
    }
    default: model->mutate_min_reader_version(data.ConsumeIntegralInRange<uint32_t>(0, 5)); break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  FuzzedDataProvider data(bytes, size);
  const auto& seeds = Seeds();
  std::vector<uint8_t> file = seeds[data.ConsumeIntegralInRange<size_t>(0, seeds.size() - 1)];
  fb::Model* model = fb::GetMutableModel(file.data());
  const int mutations = data.ConsumeIntegralInRange<int>(1, 4);
  for (int i = 0; i < mutations; ++i) MutateOnce(model, data);
  ple_model* opened = nullptr;
  if (ple::rt::OpenModelSkippingVerifier(file.data(), file.size(), &opened) != PLE_OK) return 0;
  ple::fuzz::ExerciseModel(opened, data);
  ple_model_close(&opened);
  return 0;
}
