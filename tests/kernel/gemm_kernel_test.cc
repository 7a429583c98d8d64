// GEMM tile kernels on packed weights: the scalar reference against float64 (float32 and
// float16 weights) or exact integer arithmetic (int8), then every kernel path built and
// supported here against the scalar reference over edge shapes: rows below, at and above every
// row block, k = 1 and odd k, columns < 16, strided inputs and outputs, a shared or per-row
// addend. int8 paths must match bit for bit; float paths within float32 rounding. A row's
// result must not depend on the other rows of the call (the determinism promise).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>

#include "kernels/kernel_set.h"
#include "kernels/kernels.h"

namespace {

using ple::rt::KernelSet;

struct Shape {
  size_t rows, k, columns, a_stride, out_stride;
  bool per_row_add;
};

std::vector<Shape> EdgeShapes() {
  std::vector<Shape> shapes;
  size_t i = 0;
  for (size_t rows : {1, 2, 3, 5, 7, 8, 13, 16, 17, 31, 128}) {
    for (size_t k : {1, 2, 3, 4, 5, 17, 64, 129, 384}) {
      const size_t columns = 1 + (i * 7) % 16;
      const bool strided = i % 3 == 0;
      shapes.push_back({rows, k, columns, strided ? k + 5 : k, strided ? columns + 3 : columns, i % 2 == 0});
      ++i;
    }
  }
  return shapes;
}

std::string Describe(const Shape& s) {
  return "rows=" + std::to_string(s.rows) + " k=" + std::to_string(s.k) + " columns=" + std::to_string(s.columns) +
         " a_stride=" + std::to_string(s.a_stride) + " out_stride=" + std::to_string(s.out_stride) +
         (s.per_row_add ? " per-row add" : " shared add");
}

// Random inputs for one shape; `add` has 16 floats per row (or one row when shared).
struct Data {
  std::vector<float> a, w, add;
  std::vector<uint16_t> w_half;
  Data(const Shape& s, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    a.resize(s.rows * s.a_stride);
    for (float& v : a) v = normal(rng);
    w.resize(s.k * 16);
    for (float& v : w) v = normal(rng) / std::sqrt(static_cast<float>(s.k));
    w_half.resize(w.size());
    for (size_t i = 0; i < w.size(); ++i) {  // make every weight a float16 value
      w_half[i] = HalfBits(w[i]);
      w[i] = ple::rt::kernels::f16_to_f32(w_half[i]);
    }
    add.resize((s.per_row_add ? s.rows : 1) * 16);
    for (float& v : add) v = normal(rng);
  }
  // The nearest float16 (normal range; smaller magnitudes become 0).
  static uint16_t HalfBits(float value) {
    const uint16_t sign = value < 0 ? 0x8000 : 0;
    const float magnitude = std::fabs(value);
    if (magnitude < std::ldexp(1.0f, -14)) return sign;
    int exponent = std::ilogb(magnitude);
    int mantissa = static_cast<int>(std::nearbyint(std::ldexp(magnitude, 10 - exponent)));
    if (mantissa == 2048) {
      mantissa = 1024;
      ++exponent;
    }
    return static_cast<uint16_t>(sign | ((exponent + 15) << 10) | (mantissa - 1024));
  }
};

std::vector<float> RunF32(decltype(&ple::rt::kernels::f32_gemm_tile__scalar) kernel, const Shape& s, const Data& d,
                          size_t first_row, size_t rows) {
  std::vector<float> out(s.rows * s.out_stride, -777.0f);
  const size_t add_stride = s.per_row_add ? 16 : 0;
  kernel(rows, s.k, d.a.data() + first_row * s.a_stride, s.a_stride, d.w.data(), d.add.data() + first_row * add_stride,
         add_stride, out.data() + first_row * s.out_stride, s.out_stride, s.columns);
  return out;
}

std::vector<float> RunF16(decltype(&ple::rt::kernels::f16_gemm_tile__scalar) kernel, const Shape& s, const Data& d,
                          size_t first_row, size_t rows) {
  std::vector<float> out(s.rows * s.out_stride, -777.0f);
  const size_t add_stride = s.per_row_add ? 16 : 0;
  kernel(rows, s.k, d.a.data() + first_row * s.a_stride, s.a_stride, d.w_half.data(),
         d.add.data() + first_row * add_stride, add_stride, out.data() + first_row * s.out_stride, s.out_stride,
         s.columns);
  return out;
}

// The exact value and the sum of |terms| of one output.
void Exact(const Shape& s, const Data& d, size_t r, size_t c, double* value, double* magnitude) {
  const size_t add_stride = s.per_row_add ? 16 : 0;
  double acc = 0.0, mag = 0.0;
  for (size_t i = 0; i < s.k; ++i) {
    const double term = static_cast<double>(d.a[r * s.a_stride + i]) * d.w[i * 16 + c];
    acc += term;
    mag += std::fabs(term);
  }
  const double add = d.add[r * add_stride + c];
  *value = acc + add;
  *magnitude = mag + std::fabs(add) + std::fabs(acc);
}

std::vector<const KernelSet*> OtherPaths() {
  std::vector<const KernelSet*> sets;
  for (ple_kernel_path path : ple::rt::AvailableKernelPaths()) {
    if (path == PLE_KERNELS_REFERENCE || path == PLE_KERNELS_XNNPACK) continue;
    sets.push_back(ple::rt::FindKernelSet(path));
  }
  if (sets.empty()) WARN("no instruction-set kernel path is built or supported here: only the scalar path is tested");
  return sets;
}

bool SameBits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

}  // namespace

TEST_CASE("kernels: scalar float32 and float16 tiles match float64", "[kernel]") {
  uint32_t seed = 1;
  for (const Shape& s : EdgeShapes()) {
    INFO(Describe(s));
    const Data d(s, seed++);
    const std::vector<float> f32 = RunF32(ple::rt::kernels::f32_gemm_tile__scalar, s, d, 0, s.rows);
    const std::vector<float> f16 = RunF16(ple::rt::kernels::f16_gemm_tile__scalar, s, d, 0, s.rows);
    for (size_t r = 0; r < s.rows; ++r) {
      for (size_t c = 0; c < s.out_stride; ++c) {
        const size_t at = r * s.out_stride + c;
        if (c >= s.columns) {  // never written
          REQUIRE(f32[at] == -777.0f);
          REQUIRE(f16[at] == -777.0f);
          continue;
        }
        double value, magnitude;
        Exact(s, d, r, c, &value, &magnitude);
        const double bound = (s.k + 2) * 6e-8 * magnitude;  // float32 accumulation of k terms
        INFO("row " << r << " column " << c);
        REQUIRE(std::fabs(f32[at] - value) <= bound);
        REQUIRE(SameBits(f16[at], f32[at]));  // the weights are float16 values: widening is exact
      }
    }
  }
}

TEST_CASE("kernels: every path's float tiles match the scalar reference, rows independent", "[kernel]") {
  for (const KernelSet* set : OtherPaths()) {
    uint32_t seed = 100;
    for (const Shape& s : EdgeShapes()) {
      INFO("kernel path " << set->name << ", " << Describe(s));
      const Data d(s, seed++);
      const std::vector<float> expected = RunF32(ple::rt::kernels::f32_gemm_tile__scalar, s, d, 0, s.rows);
      const std::vector<float> got = RunF32(set->f32_gemm_tile, s, d, 0, s.rows);
      const std::vector<float> got_half = RunF16(set->f16_gemm_tile, s, d, 0, s.rows);
      for (size_t r = 0; r < s.rows; ++r) {
        // The same row alone, and inside a call starting at it: the same bits.
        const std::vector<float> alone = RunF32(set->f32_gemm_tile, s, d, r, 1);
        const std::vector<float> tail = RunF32(set->f32_gemm_tile, s, d, r, s.rows - r);
        for (size_t c = 0; c < s.out_stride; ++c) {
          const size_t at = r * s.out_stride + c;
          INFO("row " << r << " column " << c);
          if (c >= s.columns) {
            REQUIRE(got[at] == -777.0f);
            REQUIRE(got_half[at] == -777.0f);
            continue;
          }
          double value, magnitude;
          Exact(s, d, r, c, &value, &magnitude);
          // Both within k * 2^-24 * sum |terms| of the exact value (fused multiply-adds round less).
          REQUIRE(std::fabs(got[at] - expected[at]) <= 2 * (s.k + 2) * 6e-8 * magnitude);
          REQUIRE(SameBits(got_half[at], got[at]));
          REQUIRE(SameBits(alone[at], got[at]));
          REQUIRE(SameBits(tail[at], got[at]));
        }
      }
    }
  }
}

namespace {

struct QuantizedRows {
  std::vector<uint8_t> q;
  std::vector<float> scales;
  std::vector<int32_t> zero_points;
};

QuantizedRows Quantize(decltype(&ple::rt::kernels::f32_qu8_quantize__scalar) kernel, const std::vector<float>& x,
                       size_t rows, size_t k, size_t x_stride, size_t k_padded) {
  QuantizedRows out;
  out.q.assign(rows * (k_padded + 3), 0xAA);  // q_stride k_padded + 3: the gap must stay untouched
  out.scales.assign(rows, -1.0f);
  out.zero_points.assign(rows, -1);
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

TEST_CASE("kernels: per-row uint8 quantization follows its definition; every path bit-exact", "[kernel]") {
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
        const float scale = hi > lo ? (hi - lo) / 255.0f : 1.0f;
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
      for (const KernelSet* set : OtherPaths()) {
        INFO("kernel path " << set->name);
        const QuantizedRows got = Quantize(set->f32_qu8_quantize, x, rows, k, stride, k_padded);
        REQUIRE(got.q == ref.q);
        REQUIRE(got.zero_points == ref.zero_points);
        REQUIRE(std::memcmp(got.scales.data(), ref.scales.data(), rows * sizeof(float)) == 0);
      }
    }
  }
}

namespace {

struct Int8Case {
  std::vector<uint8_t> a;
  std::vector<int8_t> w;
  std::vector<float> scales, w_scales, add;
  std::vector<int32_t> zero_points, w_sums;
};

Int8Case MakeInt8Case(const Shape& s, size_t blocks, uint32_t seed, bool extremes) {
  std::mt19937 rng(seed);
  Int8Case c;
  c.a.resize(s.rows * s.a_stride);
  for (auto& v : c.a) v = extremes ? 255 : static_cast<uint8_t>(rng() % 256);
  c.w.resize(blocks * 64);
  for (auto& v : c.w) v = extremes ? (rng() % 2 ? 127 : -127) : static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  std::uniform_real_distribution<float> unit(0.001f, 0.05f);
  for (size_t r = 0; r < s.rows; ++r) {
    c.scales.push_back(unit(rng));
    c.zero_points.push_back(static_cast<int32_t>(rng() % 256));
  }
  c.w_sums.assign(16, 0);
  for (size_t b = 0; b < blocks; ++b) {
    for (size_t col = 0; col < 16; ++col) {
      for (size_t j = 0; j < 4; ++j) c.w_sums[col] += c.w[b * 64 + col * 4 + j];
    }
  }
  for (size_t col = 0; col < 16; ++col) c.w_scales.push_back(unit(rng));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  c.add.resize((s.per_row_add ? s.rows : 1) * 16);
  for (auto& v : c.add) v = normal(rng);
  return c;
}

std::vector<float> RunInt8(decltype(&ple::rt::kernels::qu8s8_gemm_tile__scalar) kernel, const Shape& s,
                           size_t blocks, const Int8Case& c, size_t first_row, size_t rows) {
  std::vector<float> out(s.rows * s.out_stride, -777.0f);
  const size_t add_stride = s.per_row_add ? 16 : 0;
  kernel(rows, blocks, c.a.data() + first_row * s.a_stride, s.a_stride, c.w.data(), c.scales.data() + first_row,
         c.zero_points.data() + first_row, c.w_scales.data(), c.w_sums.data(), c.add.data() + first_row * add_stride,
         add_stride, out.data() + first_row * s.out_stride, s.out_stride, s.columns);
  return out;
}

}  // namespace

TEST_CASE("kernels: int8 tiles compute exact integers and one epilogue; every path bit-exact", "[kernel]") {
  uint32_t seed = 7;
  for (bool extremes : {false, true}) {  // extremes: 255 x +-127 everywhere, the int16 saturation trap
    for (const Shape& shape : EdgeShapes()) {
      const size_t blocks = (shape.k + 3) / 4;
      Shape s = shape;
      s.a_stride = blocks * 4 + (shape.a_stride - shape.k);  // uint8 rows hold whole blocks
      INFO(Describe(s) << " blocks " << blocks << (extremes ? " extreme values" : ""));
      const Int8Case c = MakeInt8Case(s, blocks, seed++, extremes);
      const std::vector<float> ref = RunInt8(ple::rt::kernels::qu8s8_gemm_tile__scalar, s, blocks, c, 0, s.rows);
      const size_t add_stride = s.per_row_add ? 16 : 0;
      for (size_t r = 0; r < s.rows; ++r) {
        for (size_t col = 0; col < s.columns; ++col) {
          int64_t acc = 0;
          for (size_t b = 0; b < blocks; ++b) {
            for (size_t j = 0; j < 4; ++j) acc += int64_t{c.a[r * s.a_stride + 4 * b + j]} * c.w[b * 64 + col * 4 + j];
          }
          const float combined = c.scales[r] * c.w_scales[col];
          const float expected =
              combined * static_cast<float>(acc - int64_t{c.zero_points[r]} * c.w_sums[col]) + c.add[r * add_stride + col];
          REQUIRE(SameBits(ref[r * s.out_stride + col], expected));
        }
      }
      for (const KernelSet* set : OtherPaths()) {
        INFO("kernel path " << set->name);
        const std::vector<float> got = RunInt8(set->qu8s8_gemm_tile, s, blocks, c, 0, s.rows);
        REQUIRE(std::memcmp(got.data(), ref.data(), got.size() * sizeof(float)) == 0);
        const size_t r = s.rows / 2;  // one row alone, and the call starting at it
        const std::vector<float> alone = RunInt8(set->qu8s8_gemm_tile, s, blocks, c, r, 1);
        const std::vector<float> tail = RunInt8(set->qu8s8_gemm_tile, s, blocks, c, r, s.rows - r);
        for (size_t col = 0; col < s.columns; ++col) {
          REQUIRE(SameBits(alone[r * s.out_stride + col], ref[r * s.out_stride + col]));
          REQUIRE(SameBits(tail[r * s.out_stride + col], ref[r * s.out_stride + col]));
        }
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
