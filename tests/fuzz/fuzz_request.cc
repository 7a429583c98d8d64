// Valid models (every kind of feature, float32 and int8), requests of any content: ids out of
// range, NaN and infinite values, empty and over-long sequences, wrong counts, missing
// features, batch 0 and above the prepared maximum, several threads.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <string>
#include <vector>

#include "exercise.h"
#include "ple/ple.h"
#include "test_util.h"

namespace {

struct Models {
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<ple_model*> models;
  Models() {
    const auto int8 = ple::convert::PrecisionPlan::ForName("int8");
    for (const char* name : {"features_mixed", "features_f16_sum", "mmoe"}) {
      bytes.push_back(ple::test::ConvertBundle(name).bytes);
      bytes.push_back(ple::test::ConvertBundle(name, {}, int8).bytes);
    }
    for (const auto& b : bytes) {
      ple_model* model = nullptr;
      if (ple_model_open_buffer_copy(b.data(), b.size(), &model) != PLE_OK) __builtin_trap();
      models.push_back(model);
    }
  }
  ~Models() {
    for (ple_model*& model : models) ple_model_close(&model);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  static Models models;
  FuzzedDataProvider data(bytes, size);
  const ple_model* model = models.models[data.ConsumeIntegralInRange<size_t>(0, models.models.size() - 1)];
  ple::fuzz::ExerciseModel(model, data);
  return 0;
}
