// Any bytes as a model file: open (size, identifier, verifier, semantic checks), describe
// it, and when it is accepted, prepare sessions and run them. The run's inputs are drawn from
// the same bytes (FuzzedDataProvider takes numbers from the end), so seeds are plain model
// files.
#include <cstdint>

#include "exercise.h"
#include "ple/ple.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  ple_model* model = nullptr;
  if (ple_model_open_buffer_copy(bytes, size, &model) != PLE_OK) return 0;
  for (size_t i = 0; i < ple_model_num_features(model); ++i) ple_model_feature_name(model, i);
  for (size_t i = 0; i < ple_model_num_tasks(model); ++i) ple_model_task_name(model, i);
  for (size_t i = 0; i < ple_model_num_inputs(model); ++i) ple_model_input_name(model, i);
  ple_model_metadata(model, "name");
  ple_score_params score{};
  score.struct_size = sizeof score;
  ple_model_get_score(model, &score);
  FuzzedDataProvider data(bytes, size);
  ple::fuzz::ExerciseModel(model, data);
  ple_model_close(&model);
  return 0;
}
