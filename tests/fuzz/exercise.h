// Drives a loaded model the way an app would, with values a fuzzer chooses: a session
// (kernel path, batch and thread count from the input), a request context, candidate
// features of every kind (NaN, infinities, ids out of range, sequences empty or over-long),
// scores, top-K. Every call must return a status; the sanitizers catch the rest.
#ifndef PLE_TESTS_FUZZ_EXERCISE_H_
#define PLE_TESTS_FUZZ_EXERCISE_H_

#include <fuzzer/FuzzedDataProvider.h>

#include "ple/ple.h"

namespace ple::fuzz {

// Runs `model` on inputs drawn from `data`. The model stays the caller's.
void ExerciseModel(const ple_model* model, FuzzedDataProvider& data);

}  // namespace ple::fuzz

#endif  // PLE_TESTS_FUZZ_EXERCISE_H_
