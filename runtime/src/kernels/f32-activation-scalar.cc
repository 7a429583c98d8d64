#include <cmath>

#include "kernels/kernels.h"
#include "kernels/portable-math.h"

namespace ple::rt {
namespace kernels {

float sigmoid(float x) { return Sigmoid(x); }

void f32_activation__scalar(const DenseLayer& layer, size_t rows, size_t width, float* y, size_t y_stride) {
  if (layer.activation == Activation::kIdentity) return;
  for (size_t r = 0; r < rows; ++r) {
    float* row = y + r * y_stride;
    switch (layer.activation) {
      case Activation::kIdentity:
        break;
      case Activation::kRelu:
        for (size_t c = 0; c < width; ++c) row[c] = row[c] > 0.0f ? row[c] : 0.0f;
        break;
      case Activation::kLeakyRelu:
        for (size_t c = 0; c < width; ++c) row[c] = row[c] >= 0.0f ? row[c] : row[c] * layer.negative_slope;
        break;
      case Activation::kPRelu:
        for (size_t c = 0; c < width; ++c) {
          const float slope = layer.prelu_slope[layer.prelu_count == 1 ? 0 : c];
          row[c] = row[c] >= 0.0f ? row[c] : row[c] * slope;
        }
        break;
      case Activation::kSigmoid:
        for (size_t c = 0; c < width; ++c) row[c] = sigmoid(row[c]);
        break;
      case Activation::kTanh:
        for (size_t c = 0; c < width; ++c) row[c] = Tanh(row[c]);
        break;
      case Activation::kSilu:
        for (size_t c = 0; c < width; ++c) row[c] = row[c] * sigmoid(row[c]);
        break;
      case Activation::kDice: {
        // torch-rechub's Dice: statistics over the row's channels.
        float mean = 0.0f;
        for (size_t c = 0; c < width; ++c) mean += row[c];
        mean /= static_cast<float>(width);
        float variance = 0.0f;
        for (size_t c = 0; c < width; ++c) variance += (row[c] - mean) * (row[c] - mean) + layer.dice_epsilon;
        const float scale = std::sqrt(variance);
        for (size_t c = 0; c < width; ++c) {
          const float p = sigmoid((row[c] - mean) / scale);
          row[c] = p * row[c] + (1.0f - p) * layer.dice_alpha * row[c];
        }
        break;
      }
    }
  }
}

}  // namespace kernels
}  // namespace ple::rt
