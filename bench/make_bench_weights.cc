// ple-bench-weights CONFIG OUT.safetensors [--seed N]: every tensor a native config needs,
// drawn as PyTorch initialises a fresh model (bench_weights.h). For timing only
// (docs/performance.md): accuracy is measured on trained models.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "bench_weights.h"
#include "model_config.h"
#include "model_writer.h"

int main(int argc, char** argv) {
  if (argc != 3 && !(argc == 5 && std::string(argv[3]) == "--seed")) {
    std::fprintf(stderr, "usage: %s CONFIG.json OUT.safetensors [--seed N]\n", argv[0]);
    return 2;
  }
  try {
    const ple::convert::ModelConfig config = ple::convert::ReadModelConfig(argv[1]);
    const uint32_t seed = argc == 5 ? static_cast<uint32_t>(std::strtoul(argv[4], nullptr, 10)) : 2026u;
    ple::convert::WriteFileAtomically(argv[2], ple::bench::DrawWeights(config, seed));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ple-bench-weights: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
