// Activations against float64, every kind, per-channel PReLU slopes and strided rows.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "kernels/kernels.h"

using ple::rt::Activation;

TEST_CASE("kernels: every activation matches float64", "[kernel]") {
  const Activation kinds[] = {Activation::kIdentity, Activation::kRelu, Activation::kLeakyRelu, Activation::kPRelu,
                              Activation::kSigmoid,  Activation::kTanh, Activation::kSilu,      Activation::kDice};
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (Activation kind : kinds) {
    for (bool per_channel : {false, true}) {
      const size_t rows = 5, width = 37, stride = 41;
      std::vector<float> y(rows * stride, -777.0f), slopes(per_channel ? width : 1);
      for (float& s : slopes) s = 0.05f + std::fabs(normal(rng)) * 0.1f;
      for (size_t r = 0; r < rows; ++r) {
        for (size_t c = 0; c < width; ++c) y[r * stride + c] = normal(rng);
      }
      const std::vector<float> x = y;
      ple::rt::DenseLayer layer;
      layer.out = width;
      layer.activation = kind;
      layer.negative_slope = 0.2f;
      layer.prelu_slope = slopes.data();
      layer.prelu_count = static_cast<uint32_t>(slopes.size());
      layer.dice_alpha = 0.3f;
      layer.dice_epsilon = 1e-3f;
      ple::rt::kernels::f32_activation__scalar(layer, rows, width, y.data(), stride);
      for (size_t r = 0; r < rows; ++r) {
        double mean = 0.0, variance = 0.0;  // torch-rechub's Dice: statistics over the row
        for (size_t c = 0; c < width; ++c) mean += x[r * stride + c];
        mean /= width;
        for (size_t c = 0; c < width; ++c) {
          variance += (x[r * stride + c] - mean) * (x[r * stride + c] - mean) + static_cast<double>(1e-3f);
        }
        for (size_t c = 0; c < stride; ++c) {
          const size_t at = r * stride + c;
          if (c >= width) {
            REQUIRE(y[at] == -777.0f);
            continue;
          }
          const double v = x[at];
          double expected = v;
          switch (kind) {
            case Activation::kIdentity: break;
            case Activation::kRelu: expected = v > 0 ? v : 0; break;
            case Activation::kLeakyRelu: expected = v >= 0 ? v : v * static_cast<double>(0.2f); break;
            case Activation::kPRelu: expected = v >= 0 ? v : v * slopes[per_channel ? c : 0]; break;
            case Activation::kSigmoid: expected = 1.0 / (1.0 + std::exp(-v)); break;
            case Activation::kTanh: expected = std::tanh(v); break;
            case Activation::kSilu: expected = v / (1.0 + std::exp(-v)); break;
            case Activation::kDice: {
              const double p = 1.0 / (1.0 + std::exp(-(v - mean) / std::sqrt(variance)));
              expected = p * v + (1.0 - p) * static_cast<double>(0.3f) * v;
              break;
            }
          }
          INFO("activation " << static_cast<int>(kind) << " row " << r << " column " << c);
          REQUIRE(std::fabs(y[at] - expected) <= 1e-6 * (1.0 + std::fabs(expected)) * (kind == Activation::kDice ? 8 : 1));
        }
      }
    }
  }
}
