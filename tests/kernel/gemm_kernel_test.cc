// The kernels every path implements, against their definitions: GEMMs on packed weights through
// GemmTester (gemm_tester.h: float64 or exact-integer references, bit-exact int8, rows
// independent, nothing written outside the outputs), per-row uint8 quantization, the fused gate
// softmax and sum; then the scalar-only helpers. Every test takes the paths from
// PathsUnderTest() through GENERATE: a new kernel path gets every test without a line here,
// and a failure names the path and the shape.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "gemm_tester.h"
#include "kernels/kernel_set.h"
#include "kernels/kernels.h"
#include "kernels/softmax-weights.h"

using ple::rt::KernelSet;
using ple::test::GemmTester;
using ple::test::PathsUnderTest;

TEST_CASE("kernels: float32 and float16 GEMMs within float32 rounding of float64, float16 = float32 bits",
          "[kernel][paths]") {
  const KernelSet* path = GENERATE(Catch::Generators::from_range(PathsUnderTest()));
  const GemmTester shape = GENERATE(Catch::Generators::from_range(ple::test::EdgeShapes()));
  shape.TestFloat(*path);
}

TEST_CASE("kernels: int8 GEMMs compute exact integers and one epilogue, bit for bit", "[kernel][paths]") {
  const KernelSet* path = GENERATE(Catch::Generators::from_range(PathsUnderTest()));
  const GemmTester shape = GENERATE(Catch::Generators::from_range(ple::test::EdgeShapes()));
  const bool extremes = GENERATE(false, true);  // 255 x +-127 everywhere: the int16 saturation trap
  GemmTester(shape).extremes(extremes).TestInt8(*path);
}

// Narrow weights ([-64, 64]): the paths with a narrow kernel (AVX2's vpmaddubsw) and those that
// reuse their usual one give the scalar reference's bits; with extremes every int16 pair sum is
// 255 x 64 x 2 = 32,640, one step from saturation.
TEST_CASE("kernels: narrow int8 GEMMs give the scalar reference's bits", "[kernel][paths]") {
  const KernelSet* path = GENERATE(Catch::Generators::from_range(PathsUnderTest()));
  const GemmTester shape = GENERATE(Catch::Generators::from_range(ple::test::EdgeShapes()));
  const bool extremes = GENERATE(false, true);
  GemmTester(shape).narrow(true).extremes(extremes).TestInt8(*path);
}

// The one float step of the int8 path whose bits can differ between platforms
// (docs/determinism.md, "Denormals"): armv7 NEON flushes denormal inputs and results of its
// float instructions to zero. With a combined scale below the smallest normal float, the
// epilogue's product may then differ from the definition by at most
// |acc - zero_point * channel_sum| * FLT_MIN, and the addend step by FLT_MIN.
TEST_CASE("kernels: int8 epilogue with denormal scales stays within the documented bound", "[kernel][paths]") {
  const KernelSet* path = GENERATE(Catch::Generators::from_range(PathsUnderTest()));
  GemmTester().rows(7).k(64).tiles(2).seed(99).denormal_scales(true).TestInt8(*path);
}

namespace {

struct QuantizedRows {
  std::vector<uint8_t> q;
  std::vector<float> scales;
  std::vector<int32_t> zero_points;
  bool all_finite = false;
};

QuantizedRows Quantize(decltype(&ple::rt::kernels::f32_qu8_quantize__scalar) kernel, const std::vector<float>& x,
                       size_t rows, size_t k, size_t x_stride, size_t k_padded) {
  QuantizedRows out;
  out.q.assign(rows * (k_padded + 3), 0xAA);  // q_stride k_padded + 3: the gap must stay untouched
  out.scales.assign(rows, -1.0f);
  out.zero_points.assign(rows, -1);
  out.all_finite =
      kernel(rows, k, x.data(), x_stride, out.q.data(), k_padded + 3, k_padded, out.scales.data(), out.zero_points.data());
  return out;
}

// Rows with a mix of signs, all-positive (ReLU outputs), all-zero and a large outlier.
std::vector<float> QuantizeInput(size_t rows, size_t k, size_t stride, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(rows * stride, 12345.0f);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t i = 0; i < k; ++i) {
      float v = normal(rng);
      if (r % 4 == 1) v = std::fabs(v);
      if (r % 4 == 2) v = 0.0f;
      if (r % 4 == 3 && i == k / 2) v = 40.0f;
      x[r * stride + i] = v;
    }
  }
  return x;
}

}  // namespace

TEST_CASE("kernels: per-row uint8 quantization follows its definition, every path bit-exact", "[kernel][paths]") {
  const KernelSet* set = GENERATE(Catch::Generators::from_range(PathsUnderTest()));
  for (size_t rows : {1, 2, 5, 16, 33}) {
    for (size_t k : {1, 3, 4, 7, 16, 31, 64, 100, 385}) {
      const size_t k_padded = (k + 3) / 4 * 4, stride = k + 2;
      INFO("rows " << rows << " k " << k);
      const std::vector<float> x = QuantizeInput(rows, k, stride, static_cast<uint32_t>(rows * 1000 + k));
      const QuantizedRows ref = Quantize(ple::rt::kernels::f32_qu8_quantize__scalar, x, rows, k, stride, k_padded);
      for (size_t r = 0; r < rows; ++r) {
        float lo = 0.0f, hi = 0.0f;
        for (size_t i = 0; i < k; ++i) {
          lo = std::min(lo, x[r * stride + i]);
          hi = std::max(hi, x[r * stride + i]);
        }
        const float range_scale = (hi - lo) / 255.0f;
        const float scale = range_scale >= std::numeric_limits<float>::min() ? range_scale : 1.0f;
        REQUIRE(ref.scales[r] == scale);
        REQUIRE(ref.zero_points[r] == static_cast<int32_t>(std::nearbyint(-lo / scale)));
        for (size_t i = 0; i < k; ++i) {
          // Dequantized, each value is within half a step (a clamped end within one step).
          const float back = (static_cast<float>(ref.q[r * (k_padded + 3) + i]) - ref.zero_points[r]) * scale;
          REQUIRE(std::fabs(back - x[r * stride + i]) <= scale * 1.0001f);
        }
        for (size_t i = k; i < k_padded; ++i) REQUIRE(ref.q[r * (k_padded + 3) + i] == 0);
        for (size_t i = k_padded; i < k_padded + 3; ++i) REQUIRE(ref.q[r * (k_padded + 3) + i] == 0xAA);
      }
      INFO("kernel path " << set->name);
      const QuantizedRows got = Quantize(set->f32_qu8_quantize, x, rows, k, stride, k_padded);
      REQUIRE(got.q == ref.q);
      REQUIRE(got.zero_points == ref.zero_points);
      REQUIRE(std::memcmp(got.scales.data(), ref.scales.data(), rows * sizeof(float)) == 0);
      REQUIRE(got.all_finite);
    }
  }
}

TEST_CASE("kernels: a row with a NaN or an infinity is refused the same way on every path", "[kernel][paths]") {
  const KernelSet* set = GENERATE(Catch::Generators::from_range(PathsUnderTest()));
  INFO("kernel path " << set->name);
  const float specials[] = {std::nanf(""), INFINITY, -INFINITY};
  SECTION("tiny ranges: scale 1 on every path, no infinite inverse") {
    for (float tiny : {1e-40f, -1e-40f, 1e-38f, std::numeric_limits<float>::denorm_min()}) {
      INFO("a row of zeros and " << tiny);
      std::vector<float> x(17, 0.0f);
      x[5] = tiny;
      const QuantizedRows got = Quantize(set->f32_qu8_quantize, x, 1, 17, 17, 20);
      CHECK(got.all_finite);
      CHECK(got.scales[0] == 1.0f);
      CHECK(got.zero_points[0] == 0);
      for (size_t i = 0; i < 20; ++i) CHECK(got.q[i] == 0);
    }
  }
  SECTION("a range that overflows float is refused") {
    std::vector<float> x(9, 0.0f);
    x[0] = 3e38f;
    x[8] = -3e38f;
    const QuantizedRows got = Quantize(set->f32_qu8_quantize, x, 1, 9, 9, 12);
    CHECK_FALSE(got.all_finite);
    CHECK(got.scales[0] == 0.0f);
  }
  for (size_t k : {1, 5, 16, 64, 100, 385}) {
    for (size_t at : {size_t{0}, k / 2, k - 1}) {  // in the vector body and in the scalar tail
      for (float special : specials) {
        const size_t rows = 3, k_padded = (k + 3) / 4 * 4, stride = k + 2;
        INFO("k " << k << ", value " << special << " at " << at);
        std::vector<float> x = QuantizeInput(rows, k, stride, static_cast<uint32_t>(k));
        x[1 * stride + at] = special;  // row 1 only
        const QuantizedRows got = Quantize(set->f32_qu8_quantize, x, rows, k, stride, k_padded);
        CHECK_FALSE(got.all_finite);
        CHECK(got.scales[1] == 0.0f);
        CHECK(got.zero_points[1] == 0);
        for (size_t i = 0; i < k_padded; ++i) REQUIRE(got.q[1 * (k_padded + 3) + i] == 0);
        CHECK(got.scales[0] > 0.0f);  // the other rows as usual
        CHECK(got.scales[2] == 1.0f);  // row 2 is all zeros
      }
    }
  }
}

TEST_CASE("kernels: float16 conversion is exact", "[kernel]") {
  CHECK(ple::rt::kernels::f16_to_f32(0x3C00) == 1.0f);
  CHECK(ple::rt::kernels::f16_to_f32(0xC100) == -2.5f);
  CHECK(ple::rt::kernels::f16_to_f32(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(ple::rt::kernels::f16_to_f32(0x7BFF) == 65504.0f);              // largest normal
  // Every finite half against its definition, (-1)^s x 2^(e-15) x (1 + m/1024) or m x 2^-24.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint32_t s = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 31) {
      CHECK((m == 0 ? std::isinf(ple::rt::kernels::f16_to_f32(static_cast<uint16_t>(h)))
                    : std::isnan(ple::rt::kernels::f16_to_f32(static_cast<uint16_t>(h)))));
      continue;
    }
    const double magnitude = e == 0 ? std::ldexp(static_cast<double>(m), -24)
                                    : std::ldexp(1.0 + m / 1024.0, static_cast<int>(e) - 15);
    const float got = ple::rt::kernels::f16_to_f32(static_cast<uint16_t>(h));
    if (got != static_cast<float>(s ? -magnitude : magnitude) || std::signbit(got) != (s == 1)) {
      FAIL_CHECK("half " << h << " gave " << got);
    }
  }
  CHECK(std::isinf(ple::rt::kernels::f16_to_f32(0x7C00)));
  CHECK(std::isnan(ple::rt::kernels::f16_to_f32(0x7E00)));
  CHECK(std::signbit(ple::rt::kernels::f16_to_f32(0x8000)));
}

TEST_CASE("kernels: every path's float16 GEMM widens every float16 value as f16_to_f32 does", "[kernel][paths]") {
  // k = 1, a = 1, add = -0: every output is (0 + 1 x widened weight) + -0, the widened weight
  // itself but for -0 (the accumulator starts at +0), 16 halves a call; NaNs compared as NaNs.
  const KernelSet* set = GENERATE(Catch::Generators::from_range(PathsUnderTest()));
  INFO("kernel path " << set->name);
  const float one = 1.0f;
  float add[16], out[16];
  for (float& v : add) v = -0.0f;
  size_t mismatches = 0;
  for (uint32_t first = 0; first < 0x10000; first += 16) {
    uint16_t halves[16];
    for (uint32_t c = 0; c < 16; ++c) halves[c] = static_cast<uint16_t>(first + c);
    ple::rt::kernels::TileOutput tile;
    tile.out = out;
    tile.add = add;
    tile.columns = 16;
    set->f16_gemm(1, 1, &one, 1, halves, 16, 1, &tile, 0);
    for (uint32_t c = 0; c < 16; ++c) {
      const float expected = (0.0f + one * ple::rt::kernels::f16_to_f32(halves[c])) + add[c];
      const bool same = std::isnan(expected) ? std::isnan(out[c]) : std::memcmp(&expected, &out[c], sizeof(float)) == 0;
      if (!same && ++mismatches <= 5) FAIL_CHECK("half " << halves[c] << " gave " << out[c] << ", f16_to_f32 " << expected);
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("kernels: the softmax's exp is within 2 ulp on [-87, 0], exact at 0, NaN kept, 0 below", "[kernel]") {
  using ple::rt::kernels::ExpNonPositive;
  CHECK(ExpNonPositive(0.0f) == 1.0f);
  CHECK(ExpNonPositive(-0.0f) == 1.0f);
  CHECK(std::isnan(ExpNonPositive(NAN)));
  CHECK(ExpNonPositive(-INFINITY) == 0.0f);
  CHECK(ExpNonPositive(-87.5f) == 0.0f);
  double worst_ulps = 0.0;
  // Every float in [-1, 0] with a 2^-16 step, then [-87, -1] with a 2^-10 step.
  auto check = [&](float x) {
    const double want = std::exp(static_cast<double>(x));
    const double ulp = std::ldexp(1.0, std::ilogb(want) - 23);
    worst_ulps = std::max(worst_ulps, std::fabs(ExpNonPositive(x) - want) / ulp);
  };
  for (int i = 0; i <= (1 << 16); ++i) check(-static_cast<float>(i) / 65536.0f);
  for (int i = 1024; i <= 87 * 1024; ++i) check(-static_cast<float>(i) / 1024.0f);
  INFO("worst error " << worst_ulps << " ulp");
  CHECK(worst_ulps <= 2.0);
}

TEST_CASE("kernels: fused gate softmax and weighted expert sum", "[kernel]") {
  const std::vector<float> logits = {1.0f, 2.0f, 3.0f, 0.0f, /*row 2*/ 1000.0f, 1000.0f, -1000.0f, 0.0f};
  const std::vector<float> a = {1, 2, 3, 10, 20, 30}, b = {5, 6, 7, 50, 60, 70}, c = {0, 0, 0, 1, 1, 1};
  const float* experts[] = {a.data(), b.data(), c.data()};
  std::vector<float> weights(2 * 3, -1.0f), out(2 * 3);
  ple::rt::kernels::f32_gate_softmax_sum__scalar(2, 3, 3, logits.data(), 4, experts, 3, weights.data(), 3, out.data(), 3);
  const double e1 = std::exp(-2.0), e2 = std::exp(-1.0), sum = e1 + e2 + 1.0;
  CHECK(weights[0] == Approx(e1 / sum).epsilon(1e-6));
  CHECK(weights[2] == Approx(1.0 / sum).epsilon(1e-6));
  CHECK(out[0] == Approx((1 * e1 + 5 * e2 + 0) / sum).epsilon(1e-6));
  CHECK(weights[3] == 0.5f);  // large logits do not overflow
  CHECK(weights[5] == 0.0f);
  CHECK(out[3] == 30.0f);
  CHECK(out[5] == 50.0f);
  // Stride 0: one scratch row reused, same results.
  std::vector<float> scratch(3), out2(2 * 3);
  ple::rt::kernels::f32_gate_softmax_sum__scalar(2, 3, 3, logits.data(), 4, experts, 3, scratch.data(), 0, out2.data(), 3);
  CHECK(out2 == out);
}

TEST_CASE("kernels: every path's fused gate gives the scalar reference's bits", "[kernel][paths]") {
  const KernelSet* set = GENERATE(Catch::Generators::from_range(PathsUnderTest()));
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (size_t count : {1, 2, 3, 6, 16}) {
    for (size_t width : {1, 7, 8, 15, 16, 17, 64, 256, 257}) {
      const size_t rows = 9, stride = width + 3;
      std::vector<float> logits(rows * 17), weights(rows * count);
      for (float& v : logits) v = normal(rng);
      std::vector<std::vector<float>> experts(count, std::vector<float>(rows * stride));
      std::vector<const float*> pointers;
      for (auto& e : experts) {
        for (float& v : e) v = normal(rng);
        pointers.push_back(e.data());
      }
      std::vector<float> ref(rows * stride, -777.0f), ref_weights(rows * count);
      ple::rt::kernels::f32_gate_softmax_sum__scalar(rows, count, width, logits.data(), 17, pointers.data(), stride,
                                                     ref_weights.data(), count, ref.data(), stride);
      INFO("kernel path " << set->name << " count " << count << " width " << width);
      std::vector<float> got(rows * stride, -777.0f), got_weights(rows * count);
      set->f32_gate_softmax_sum(rows, count, width, logits.data(), 17, pointers.data(), stride, got_weights.data(),
                                count, got.data(), stride);
      REQUIRE(std::memcmp(got.data(), ref.data(), got.size() * sizeof(float)) == 0);
      REQUIRE(std::memcmp(got_weights.data(), ref_weights.data(), got_weights.size() * sizeof(float)) == 0);
    }
  }
}
