// Random weights for a native model config, as PyTorch initialises a fresh model (Linear
// weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)), Embedding ~ N(0, 1), BatchNorm at identity):
// the bench models' weights (ple-bench-weights) and the determinism tests' random models.
// Deterministic for a seed with this standard library (std::mt19937 and its distributions).
#ifndef PLE_BENCH_BENCH_WEIGHTS_H_
#define PLE_BENCH_BENCH_WEIGHTS_H_

#include <cstdint>
#include <vector>

#include "model_config.h"

namespace ple::bench {

// Every tensor `config` needs (docs/config-format.md, "Native weight naming"), as a
// safetensors file image.
std::vector<uint8_t> DrawWeights(const ple::convert::ModelConfig& config, uint32_t seed);

}  // namespace ple::bench

#endif  // PLE_BENCH_BENCH_WEIGHTS_H_
