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
  }
  return "?";
}

double Activate(double v, const DenseCase& c, size_t channel, const std::vector<float>& slopes) {
  switch (c.activation) {
    case Activation::kIdentity: return v;
    case Activation::kRelu: return v > 0 ? v : 0;
    case Activation::kLeakyRelu: return v >= 0 ? v : v * static_cast<double>(0.2f);
    case Activation::kPRelu: return v >= 0 ? v : v * slopes[c.per_channel_prelu ? channel : 0];
    case Activation::kSigmoid: return 1.0 / (1.0 + std::exp(-v));
    case Activation::kTanh: return std::tanh(v);
    case Activation::kSilu: return v / (1.0 + std::exp(-v));
  }
  return 0;
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
  }
};

std::vector<DenseCase> EdgeCases() {
  std::vector<DenseCase> cases;
  const Activation activations[] = {Activation::kIdentity, Activation::kRelu, Activation::kLeakyRelu,
                                    Activation::kPRelu,    Activation::kSigmoid, Activation::kTanh,
                                    Activation::kSilu};
  size_t i = 0;
  for (size_t rows : {1, 2, 3, 7, 16, 17, 128}) {
    for (size_t in : {1, 3, 4, 17, 64, 129}) {
      for (size_t out : {1, 2, 7, 8, 15, 16, 33}) {
        const Activation a = activations[i % 7];
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
  const ple::rt::Status status = ple::rt::CreateDenseKernel(path, data.layer, c.x_stride, c.y_stride, &kernel, &packed);
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
      for (size_t o = 0; o < c.out; ++o) {
        double acc = c.bias ? data.b[o] : 0.0, magnitude = std::fabs(acc);
        for (size_t k = 0; k < c.in; ++k) {
          acc += static_cast<double>(data.x[r * c.x_stride + k]) * data.w[o * c.in + k];
          magnitude += std::fabs(static_cast<double>(data.x[r * c.x_stride + k]) * data.w[o * c.in + k]);
        }
        const double expected = Activate(acc, c, o, data.slopes);
        // float32 accumulation of `in` products: |error| <= in * 2^-24 * sum |terms| (+ the activation's rounding).
        const double bound = (c.in + 2) * 6e-8 * (magnitude + 1.0);
        INFO("row " << r << " channel " << o);
        REQUIRE(std::fabs(y[r * c.y_stride + o] - expected) <= bound);
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
