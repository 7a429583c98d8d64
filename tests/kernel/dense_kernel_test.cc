// Kernel tests: the scalar reference against a float64 computation, and every other kernel
// path against the scalar reference, over edge shapes (rows below and above the tile, k = 1,
// widths that are not multiples of any SIMD width, odd strides) and every activation.
#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
#include <random>

#include "dense_kernel.h"
#include "kernels/kernels.h"

using ple::rt::Activation;
using ple::rt::DenseLayer;

namespace {

struct DenseCase {
  size_t rows, in, out, x_stride, y_stride;
  Activation activation;
  bool bias;
  bool per_channel_prelu;
};

const char* ActivationName(Activation a) {
  switch (a) {
    case Activation::kIdentity: return "identity";
    case Activation::kRelu: return "relu";
    case Activation::kLeakyRelu: return "leaky_relu";
    case Activation::kPRelu: return "prelu";
    case Activation::kSigmoid: return "sigmoid";
    case Activation::kTanh: return "tanh";
    case Activation::kSilu: return "silu";
    case Activation::kDice: return "dice";
  }
  return "?";
}

// The activation of a whole row of pre-activations, in float64.
std::vector<double> Activate(const std::vector<double>& v, const DenseCase& c, const std::vector<float>& slopes,
                             float dice_alpha) {
  std::vector<double> out(v.size());
  double mean = 0.0, variance = 0.0;
  if (c.activation == Activation::kDice) {  // torch-rechub's Dice, eps 1e-3
    for (double x : v) mean += x;
    mean /= static_cast<double>(v.size());
    for (double x : v) variance += (x - mean) * (x - mean) + static_cast<double>(1e-3f);
  }
  for (size_t o = 0; o < v.size(); ++o) {
    const double x = v[o];
    switch (c.activation) {
      case Activation::kIdentity: out[o] = x; break;
      case Activation::kRelu: out[o] = x > 0 ? x : 0; break;
      case Activation::kLeakyRelu: out[o] = x >= 0 ? x : x * static_cast<double>(0.2f); break;
      case Activation::kPRelu: out[o] = x >= 0 ? x : x * slopes[c.per_channel_prelu ? o : 0]; break;
      case Activation::kSigmoid: out[o] = 1.0 / (1.0 + std::exp(-x)); break;
      case Activation::kTanh: out[o] = std::tanh(x); break;
      case Activation::kSilu: out[o] = x / (1.0 + std::exp(-x)); break;
      case Activation::kDice: {
        const double p = 1.0 / (1.0 + std::exp(-(x - mean) / std::sqrt(variance)));
        out[o] = p * x + (1.0 - p) * dice_alpha * x;
        break;
      }
    }
  }
  return out;
}

// The data of one case, with the layer pointing into it.
struct DenseData {
  std::vector<float> x, w, b, slopes;
  DenseLayer layer;

  explicit DenseData(const DenseCase& c, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    x.resize(c.rows * c.x_stride);
    for (auto& v : x) v = normal(rng);
    w.resize(c.out * c.in);
    for (auto& v : w) v = normal(rng) / std::sqrt(static_cast<float>(c.in));
    b.resize(c.out);
    for (auto& v : b) v = normal(rng) * 0.5f;
    slopes.resize(c.per_channel_prelu ? c.out : 1);
    for (auto& v : slopes) v = 0.1f + 0.2f * std::abs(normal(rng));
    layer.weight = w.data();
    layer.bias = c.bias ? b.data() : nullptr;
    layer.in = static_cast<uint32_t>(c.in);
    layer.out = static_cast<uint32_t>(c.out);
    layer.activation = c.activation;
    layer.negative_slope = 0.2f;
    layer.prelu_slope = slopes.data();
    layer.prelu_count = static_cast<uint32_t>(slopes.size());
    layer.dice_alpha = 0.3f;
    layer.dice_epsilon = 1e-3f;
  }
};

std::vector<DenseCase> EdgeCases() {
  std::vector<DenseCase> cases;
  const Activation activations[] = {Activation::kIdentity, Activation::kRelu, Activation::kLeakyRelu,
                                    Activation::kPRelu,    Activation::kSigmoid, Activation::kTanh,
                                    Activation::kSilu,     Activation::kDice};
  size_t i = 0;
  for (size_t rows : {1, 2, 3, 7, 16, 17, 128}) {
    for (size_t in : {1, 3, 4, 17, 64, 129}) {
      for (size_t out : {1, 2, 7, 8, 15, 16, 33}) {
        const Activation a = activations[i % 8];
        const bool strided = i % 3 == 0;
        cases.push_back({rows, in, out, strided ? in + 5 : in, strided ? out + 3 : out, a, i % 4 != 1, i % 2 == 0});
        ++i;
      }
    }
  }
  cases.push_back({64, 384, 256, 384, 256, Activation::kRelu, true, false});  // bench-m level 1 expert
  return cases;
}

std::vector<float> RunKernel(ple_kernel_path path, const DenseCase& c, const DenseData& data) {
  std::unique_ptr<ple::rt::DenseKernel> kernel;
  size_t packed = 0;
  const ple::rt::Status status = ple::rt::CreateDenseKernel(
      path, ple::rt::DenseSpec::Whole(data.layer, c.x_stride, c.y_stride), &kernel, &packed);
  REQUIRE(status.ok());
  std::vector<float> y(c.rows * c.y_stride, -777.0f);
  REQUIRE(kernel->Run(c.rows, data.x.data(), y.data()));
  return y;
}

std::string Describe(const DenseCase& c) {
  return "rows=" + std::to_string(c.rows) + " in=" + std::to_string(c.in) + " out=" + std::to_string(c.out) +
         " x_stride=" + std::to_string(c.x_stride) + " y_stride=" + std::to_string(c.y_stride) +
         " activation=" + ActivationName(c.activation) + (c.bias ? " bias" : " no-bias") +
         (c.per_channel_prelu ? " per-channel-prelu" : "");
}

}  // namespace

TEST_CASE("kernels: scalar f32 dense matches a float64 computation", "[kernel]") {
  uint32_t seed = 1;
  for (const DenseCase& c : EdgeCases()) {
    INFO("kernel path reference, " << Describe(c));
    const DenseData data(c, seed++);
    const std::vector<float> y = RunKernel(PLE_KERNELS_REFERENCE, c, data);
    for (size_t r = 0; r < c.rows; ++r) {
      std::vector<double> acc(c.out), magnitude(c.out);
      for (size_t o = 0; o < c.out; ++o) {
        acc[o] = c.bias ? data.b[o] : 0.0;
        magnitude[o] = std::fabs(acc[o]);
        for (size_t k = 0; k < c.in; ++k) {
          acc[o] += static_cast<double>(data.x[r * c.x_stride + k]) * data.w[o * c.in + k];
          magnitude[o] += std::fabs(static_cast<double>(data.x[r * c.x_stride + k]) * data.w[o * c.in + k]);
        }
      }
      const std::vector<double> expected = Activate(acc, c, data.slopes, data.layer.dice_alpha);
      double row_magnitude = 0.0;  // Dice mixes a row's channels: its error follows the whole row
      for (double m : magnitude) row_magnitude = std::max(row_magnitude, m);
      for (size_t o = 0; o < c.out; ++o) {
        // float32 accumulation of `in` products: |error| <= in * 2^-24 * sum |terms| (+ the activation's rounding).
        const double scale = c.activation == Activation::kDice ? row_magnitude * c.out : magnitude[o];
        const double bound = (c.in + 8) * 6e-8 * (scale + 1.0);
        INFO("row " << r << " channel " << o);
        REQUIRE(std::fabs(y[r * c.y_stride + o] - expected[o]) <= bound);
      }
      // Padding between rows is never written.
      for (size_t o = c.out; o < c.y_stride; ++o) REQUIRE(y[r * c.y_stride + o] == -777.0f);
    }
  }
}

TEST_CASE("kernels: every available path matches the scalar reference", "[kernel]") {
  for (ple_kernel_path path : {PLE_KERNELS_XNNPACK}) {
    if (!ple::rt::KernelPathAvailable(path)) {
      WARN("kernel path " << path << " not built or not supported here: skipped");
      continue;
    }
    uint32_t seed = 1000;
    for (const DenseCase& c : EdgeCases()) {
      INFO("kernel path " << (path == PLE_KERNELS_XNNPACK ? "xnnpack" : "?") << ", " << Describe(c));
      const DenseData data(c, seed++);
      const std::vector<float> expected = RunKernel(PLE_KERNELS_REFERENCE, c, data);
      const std::vector<float> got = RunKernel(path, c, data);
      for (size_t r = 0; r < c.rows; ++r) {
        for (size_t o = 0; o < c.out; ++o) {
          double magnitude = 1.0 + (c.bias ? std::fabs(data.b[o]) : 0.0);
          for (size_t k = 0; k < c.in; ++k) {
            magnitude += std::fabs(static_cast<double>(data.x[r * c.x_stride + k]) * data.w[o * c.in + k]);
          }
          if (c.activation == Activation::kDice) magnitude *= 4 * c.out;  // mixes the row's channels
          INFO("row " << r << " channel " << o);
          // Both sum the same float32 products in different orders (XNNPACK may also fuse
          // multiply-adds): each is within in * 2^-24 * sum |terms| of the exact value.
          const double difference = std::fabs(static_cast<double>(got[r * c.y_stride + o]) - expected[r * c.y_stride + o]);
          INFO("difference " << difference << ", magnitude " << magnitude);
          REQUIRE(difference <= (2 * c.in + 4) * 6e-8 * magnitude);
        }
        for (size_t o = c.out; o < c.y_stride; ++o) REQUIRE(got[r * c.y_stride + o] == -777.0f);
      }
    }
  }
}

TEST_CASE("kernels: a layer split into request and candidate columns adds up to the whole", "[kernel]") {
  // What a session does for a first layer: (request columns + bias) + candidate columns, then
  // the activation. Each path against its own whole-layer result, within float rounding.
  std::vector<ple_kernel_path> paths = {PLE_KERNELS_REFERENCE};
  if (ple::rt::KernelPathAvailable(PLE_KERNELS_XNNPACK)) paths.push_back(PLE_KERNELS_XNNPACK);
  for (ple_kernel_path path : paths) {
    for (uint32_t split : {1u, 5u, 16u, 63u}) {
      const DenseCase c{9, 64, 24, 64, 24, Activation::kRelu, true, false};
      INFO("kernel path " << path << ", request columns " << split);
      const DenseData data(c, 77 + split);
      const std::vector<float> whole = RunKernel(path, c, data);
      std::unique_ptr<ple::rt::DenseKernel> request, candidate;
      size_t packed = 0;
      REQUIRE(ple::rt::CreateDenseKernel(path, {&data.layer, 0, split, true, false, 64, 24}, &request, &packed).ok());
      REQUIRE(ple::rt::CreateDenseKernel(path, {&data.layer, split, 64, false, false, 64, 24}, &candidate, &packed).ok());
      std::vector<float> partial(c.rows * 24), y(c.rows * 24);
      REQUIRE(request->Run(c.rows, data.x.data(), partial.data()));
      REQUIRE(candidate->Run(c.rows, data.x.data() + split, y.data()));
      for (size_t i = 0; i < y.size(); ++i) {
        const float value = std::max(0.0f, y[i] + partial[i]);
        REQUIRE(std::fabs(value - whole[i]) <= 64 * 6e-8 * (std::fabs(whole[i]) + 8.0));
      }
    }
  }
}

TEST_CASE("kernels: float16 conversion is exact", "[kernel]") {
  CHECK(ple::rt::kernels::f16_to_f32(0x3C00) == 1.0f);
  CHECK(ple::rt::kernels::f16_to_f32(0xC100) == -2.5f);
  CHECK(ple::rt::kernels::f16_to_f32(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(ple::rt::kernels::f16_to_f32(0x7BFF) == 65504.0f);              // largest normal
  CHECK(std::isinf(ple::rt::kernels::f16_to_f32(0x7C00)));
  CHECK(std::isnan(ple::rt::kernels::f16_to_f32(0x7E00)));
  CHECK(std::signbit(ple::rt::kernels::f16_to_f32(0x8000)));
}

TEST_CASE("kernels: softmax and gate sum", "[kernel]") {
  std::vector<float> logits = {1.0f, 2.0f, 3.0f, 0.0f, /*row 2*/ 1000.0f, 1000.0f, -1000.0f, 0.0f};
  ple::rt::kernels::f32_softmax__scalar(2, 3, logits.data(), 4);
  const double e1 = std::exp(-2.0), e2 = std::exp(-1.0), sum = e1 + e2 + 1.0;
  CHECK(logits[0] == Approx(e1 / sum).epsilon(1e-6));
  CHECK(logits[2] == Approx(1.0 / sum).epsilon(1e-6));
  CHECK(logits[3] == 0.0f);  // the stride's padding is untouched
  CHECK(logits[4] == 0.5f);  // large logits do not overflow
  CHECK(logits[6] == 0.0f);

  const std::vector<float> weights = {0.25f, 0.75f};
  const std::vector<float> a = {1, 2, 3}, b = {5, 6, 7};
  const float* experts[] = {a.data(), b.data()};
  std::vector<float> out(3);
  ple::rt::kernels::f32_gate_sum__scalar(1, 2, 3, weights.data(), 2, experts, 3, out.data(), 3);
  CHECK(out == std::vector<float>{4.0f, 5.0f, 6.0f});
}
