// GEMM kernels on packed weights: the scalar reference against float64 (float32 and float16
// weights) or exact integer arithmetic (int8), then every kernel path built and supported here
// against the scalar reference over edge shapes: rows below, at and above every row block, k = 1
// and odd k, 1 to 7 tiles (groups of four, pairs and single tiles, a padding tile), 1 to 16 stored columns,
// ReLU fused or not, strided inputs and outputs, a shared or per-row addend. int8 paths must
// match bit for bit; float paths within float32 rounding. A row's result must not depend on
// the other rows of the call (the determinism promise); nothing outside the outputs is written.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "kernels/kernel_set.h"
#include "kernels/softmax-weights.h"
#include "kernels/kernels.h"

namespace {

using ple::rt::KernelSet;
using ple::rt::kernels::TileOutput;

struct Shape {
  size_t rows, k, tiles, a_stride;
  bool per_row_add;
  uint32_t seed;
  // Tile t stores 1 + (seed + 7 t) % 16 columns, ReLU on odd tiles; with 5 or more tiles, tile
  // 2 is padding (no output).
  size_t columns(size_t t) const { return 1 + (seed + 7 * t) % 16; }
  bool relu(size_t t) const { return t % 2 == 1; }
  bool padding(size_t t) const { return tiles >= 5 && t == 2; }
  size_t out_stride(size_t t) const { return columns(t) + 3; }
};

std::vector<Shape> EdgeShapes() {
  std::vector<Shape> shapes;
  uint32_t i = 0;
  for (size_t rows : {1, 2, 3, 5, 7, 8, 12, 13, 16, 17, 25, 31, 128}) {
    for (size_t k : {1, 2, 3, 4, 5, 17, 64, 129, 384, 1037}) {  // 1037: past a chunk of the AVX2 int8 kernel
      const size_t tiles = std::vector<size_t>{1, 2, 3, 5, 6, 7}[i % 6];
      shapes.push_back({rows, k, tiles, i % 3 == 0 ? k + 5 : k, i % 2 == 0, i});
      ++i;
    }
  }
  return shapes;
}

std::string Describe(const Shape& s) {
  return "rows=" + std::to_string(s.rows) + " k=" + std::to_string(s.k) + " tiles=" + std::to_string(s.tiles) +
         " a_stride=" + std::to_string(s.a_stride) + (s.per_row_add ? " per-row add" : " shared add") +
         " seed=" + std::to_string(s.seed);
}

// The nearest float16 (normal range; smaller magnitudes become 0).
uint16_t HalfBits(float value) {
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

// Inputs of one shape; every weight is a float16 value, so float16 and float32 tiles agree.
struct Data {
  std::vector<float> a, w, add;  // add: per tile 16 floats per row (one row when shared)
  std::vector<uint16_t> w_half;
  Data(const Shape& s) {
    std::mt19937 rng(s.seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    a.resize(s.rows * s.a_stride);
    for (float& v : a) v = normal(rng);
    w.resize(s.tiles * s.k * 16);
    w_half.resize(w.size());
    for (size_t i = 0; i < w.size(); ++i) {
      w_half[i] = HalfBits(normal(rng) / std::sqrt(static_cast<float>(s.k)));
      w[i] = ple::rt::kernels::f16_to_f32(w_half[i]);
    }
    add.resize(s.tiles * (s.per_row_add ? s.rows : 1) * 16);
    for (float& v : add) v = normal(rng);
  }
  size_t add_stride(const Shape& s) const { return s.per_row_add ? 16 * s.tiles : 0; }
};

// One output buffer per tile (rows x out_stride, -777 where nothing may be written).
struct Outputs {
  std::vector<std::vector<float>> tiles;
  std::vector<TileOutput> table;
  Outputs(const Shape& s, const Data& d, size_t first_row) : tiles(s.tiles) {
    for (size_t t = 0; t < s.tiles; ++t) {
      tiles[t].assign(s.rows * s.out_stride(t), -777.0f);
      TileOutput o;
      if (!s.padding(t)) o.out = tiles[t].data() + first_row * s.out_stride(t);
      o.add = d.add.data() + 16 * t + first_row * d.add_stride(s);
      o.out_stride = static_cast<uint32_t>(s.out_stride(t));
      o.columns = static_cast<uint32_t>(s.columns(t));
      o.relu = s.relu(t);
      table.push_back(o);
    }
  }
};

Outputs RunF32(decltype(&ple::rt::kernels::f32_gemm__scalar) kernel, const Shape& s, const Data& d, size_t first_row,
               size_t rows) {
  Outputs o(s, d, first_row);
  kernel(rows, s.k, d.a.data() + first_row * s.a_stride, s.a_stride, d.w.data(), s.k * 16, s.tiles, o.table.data(),
         d.add_stride(s));
  return o;
}

Outputs RunF16(decltype(&ple::rt::kernels::f16_gemm__scalar) kernel, const Shape& s, const Data& d, size_t first_row,
               size_t rows) {
  Outputs o(s, d, first_row);
  kernel(rows, s.k, d.a.data() + first_row * s.a_stride, s.a_stride, d.w_half.data(), s.k * 16, s.tiles,
         o.table.data(), d.add_stride(s));
  return o;
}

// The exact value (before ReLU) and the sum of |terms| of one output.
void Exact(const Shape& s, const Data& d, size_t r, size_t t, size_t c, double* value, double* magnitude) {
  double acc = 0.0, mag = 0.0;
  for (size_t i = 0; i < s.k; ++i) {
    const double term = static_cast<double>(d.a[r * s.a_stride + i]) * d.w[(t * s.k + i) * 16 + c];
    acc += term;
    mag += std::fabs(term);
  }
  const double add = d.add[r * d.add_stride(s) + 16 * t + c];
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

// The scalar reference and every other path.
std::vector<const KernelSet*> AllPaths() {
  std::vector<const KernelSet*> sets = {ple::rt::FindKernelSet(PLE_KERNELS_REFERENCE)};
  for (const KernelSet* set : OtherPaths()) sets.push_back(set);
  return sets;
}

bool SameBits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

// Checks the parts of the output buffers no kernel may write: past `columns`, padding tiles,
// and rows outside [first, first + rows).
void CheckUntouched(const Shape& s, const Outputs& o, size_t first, size_t rows) {
  for (size_t t = 0; t < s.tiles; ++t) {
    for (size_t r = 0; r < s.rows; ++r) {
      for (size_t c = 0; c < s.out_stride(t); ++c) {
        const bool written = !s.padding(t) && c < s.columns(t) && r >= first && r < first + rows;
        if (!written) REQUIRE(o.tiles[t][r * s.out_stride(t) + c] == -777.0f);
      }
    }
  }
}

}  // namespace

TEST_CASE("kernels: scalar float32 and float16 GEMMs match float64", "[kernel]") {
  for (const Shape& s : EdgeShapes()) {
    INFO(Describe(s));
    const Data d(s);
    const Outputs f32 = RunF32(ple::rt::kernels::f32_gemm__scalar, s, d, 0, s.rows);
    const Outputs f16 = RunF16(ple::rt::kernels::f16_gemm__scalar, s, d, 0, s.rows);
    CheckUntouched(s, f32, 0, s.rows);
    CheckUntouched(s, f16, 0, s.rows);
    for (size_t t = 0; t < s.tiles; ++t) {
      if (s.padding(t)) continue;
      for (size_t r = 0; r < s.rows; ++r) {
        for (size_t c = 0; c < s.columns(t); ++c) {
          double value, magnitude;
          Exact(s, d, r, t, c, &value, &magnitude);
          if (s.relu(t)) value = std::max(value, 0.0);
          const float got = f32.tiles[t][r * s.out_stride(t) + c];
          INFO("tile " << t << " row " << r << " column " << c);
          REQUIRE(std::fabs(got - value) <= (s.k + 2) * 6e-8 * magnitude);  // float32 accumulation of k terms
          REQUIRE(SameBits(f16.tiles[t][r * s.out_stride(t) + c], got));     // widening float16 is exact
          if (s.relu(t)) REQUIRE_FALSE(std::signbit(got));
        }
      }
    }
  }
}

TEST_CASE("kernels: every path's float GEMMs match the scalar reference, rows independent", "[kernel]") {
  for (const KernelSet* set : OtherPaths()) {
    for (const Shape& s : EdgeShapes()) {
      INFO("kernel path " << set->name << ", " << Describe(s));
      const Data d(s);
      const Outputs expected = RunF32(ple::rt::kernels::f32_gemm__scalar, s, d, 0, s.rows);
      const Outputs got = RunF32(set->f32_gemm, s, d, 0, s.rows);
      const Outputs got_half = RunF16(set->f16_gemm, s, d, 0, s.rows);
      CheckUntouched(s, got, 0, s.rows);
      CheckUntouched(s, got_half, 0, s.rows);
      // One row alone and the call starting at it: the same bits as inside the whole call.
      const size_t r0 = s.rows / 2;
      const Outputs alone = RunF32(set->f32_gemm, s, d, r0, 1);
      const Outputs tail = RunF32(set->f32_gemm, s, d, r0, s.rows - r0);
      CheckUntouched(s, alone, r0, 1);
      for (size_t t = 0; t < s.tiles; ++t) {
        if (s.padding(t)) continue;
        for (size_t r = 0; r < s.rows; ++r) {
          for (size_t c = 0; c < s.columns(t); ++c) {
            const size_t at = r * s.out_stride(t) + c;
            double value, magnitude;
            Exact(s, d, r, t, c, &value, &magnitude);
            INFO("tile " << t << " row " << r << " column " << c);
            // Both within k * 2^-24 * sum |terms| of the exact value (fused multiply-adds round less).
            REQUIRE(std::fabs(got.tiles[t][at] - expected.tiles[t][at]) <= 2 * (s.k + 2) * 6e-8 * magnitude);
            REQUIRE(SameBits(got_half.tiles[t][at], got.tiles[t][at]));
            if (r == r0) REQUIRE(SameBits(alone.tiles[t][at], got.tiles[t][at]));
            if (r >= r0) REQUIRE(SameBits(tail.tiles[t][at], got.tiles[t][at]));
          }
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

TEST_CASE("kernels: per-row uint8 quantization follows its definition, every path bit-exact", "[kernel]") {
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
      for (const KernelSet* set : OtherPaths()) {
        INFO("kernel path " << set->name);
        const QuantizedRows got = Quantize(set->f32_qu8_quantize, x, rows, k, stride, k_padded);
        REQUIRE(got.q == ref.q);
        REQUIRE(got.zero_points == ref.zero_points);
        REQUIRE(std::memcmp(got.scales.data(), ref.scales.data(), rows * sizeof(float)) == 0);
        REQUIRE(got.all_finite);
      }
    }
  }
}

TEST_CASE("kernels: a row with a NaN or an infinity is refused the same way on every path", "[kernel]") {
  const float specials[] = {std::nanf(""), INFINITY, -INFINITY};
  SECTION("tiny ranges: scale 1 on every path, no infinite inverse") {
    for (float tiny : {1e-40f, -1e-40f, 1e-38f, std::numeric_limits<float>::denorm_min()}) {
      INFO("a row of zeros and " << tiny);
      std::vector<float> x(17, 0.0f);
      x[5] = tiny;
      for (const KernelSet* set : AllPaths()) {
        INFO("kernel path " << set->name);
        const QuantizedRows got = Quantize(set->f32_qu8_quantize, x, 1, 17, 17, 20);
        CHECK(got.all_finite);
        CHECK(got.scales[0] == 1.0f);
        CHECK(got.zero_points[0] == 0);
        for (size_t i = 0; i < 20; ++i) CHECK(got.q[i] == 0);
      }
    }
  }
  SECTION("a range that overflows float is refused") {
    std::vector<float> x(9, 0.0f);
    x[0] = 3e38f;
    x[8] = -3e38f;
    for (const KernelSet* set : AllPaths()) {
      INFO("kernel path " << set->name);
      const QuantizedRows got = Quantize(set->f32_qu8_quantize, x, 1, 9, 9, 12);
      CHECK_FALSE(got.all_finite);
      CHECK(got.scales[0] == 0.0f);
    }
  }
  for (size_t k : {1, 5, 16, 64, 100, 385}) {
    for (size_t at : {size_t{0}, k / 2, k - 1}) {  // in the vector body and in the scalar tail
      for (float special : specials) {
        const size_t rows = 3, k_padded = (k + 3) / 4 * 4, stride = k + 2;
        INFO("k " << k << ", value " << special << " at " << at);
        std::vector<float> x = QuantizeInput(rows, k, stride, static_cast<uint32_t>(k));
        x[1 * stride + at] = special;  // row 1 only
        for (const KernelSet* set : AllPaths()) {
          INFO("kernel path " << set->name);
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
}

namespace {

struct Int8Data {
  std::vector<uint8_t> a;
  std::vector<int8_t> w;
  std::vector<float> scales, w_scales, add;
  std::vector<int32_t> zero_points, w_sums;
  size_t blocks, a_stride;

  Int8Data(const Shape& s, bool extremes) {
    blocks = (s.k + 3) / 4;
    a_stride = blocks * 4 + (s.a_stride - s.k);  // uint8 rows hold whole blocks
    std::mt19937 rng(s.seed);
    a.resize(s.rows * a_stride);
    for (auto& v : a) v = extremes ? 255 : static_cast<uint8_t>(rng() % 256);
    w.resize(s.tiles * blocks * 64);
    for (auto& v : w) {
      v = extremes ? (rng() % 2 ? 127 : -127) : static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
    }
    std::uniform_real_distribution<float> unit(0.001f, 0.05f);
    for (size_t r = 0; r < s.rows; ++r) {
      scales.push_back(unit(rng));
      zero_points.push_back(static_cast<int32_t>(rng() % 256));
    }
    w_sums.assign(16 * s.tiles, 0);
    for (size_t t = 0; t < s.tiles; ++t) {
      for (size_t b = 0; b < blocks; ++b) {
        for (size_t c = 0; c < 16; ++c) {
          for (size_t j = 0; j < 4; ++j) w_sums[16 * t + c] += w[(t * blocks + b) * 64 + c * 4 + j];
        }
      }
    }
    for (size_t n = 0; n < 16 * s.tiles; ++n) w_scales.push_back(unit(rng));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    add.resize(s.tiles * (s.per_row_add ? s.rows : 1) * 16);
    for (auto& v : add) v = normal(rng);
  }
};

// The exact dot product of row r with channel `col` of tile t, in 64 bits.
int64_t ExactDot(const Int8Data& c, size_t t, size_t r, size_t col) {
  int64_t acc = 0;
  for (size_t b = 0; b < c.blocks; ++b) {
    for (size_t j = 0; j < 4; ++j) {
      acc += int64_t{c.a[r * c.a_stride + 4 * b + j]} * c.w[(t * c.blocks + b) * 64 + col * 4 + j];
    }
  }
  return acc;
}

Outputs RunInt8(decltype(&ple::rt::kernels::qu8s8_gemm__scalar) kernel, const Shape& s, const Int8Data& c,
                size_t first_row, size_t rows) {
  Data shape_only = Data(Shape{1, 1, s.tiles, 1, s.per_row_add, s.seed});
  shape_only.add = c.add;
  Outputs o(s, shape_only, first_row);
  for (size_t t = 0; t < s.tiles; ++t) o.table[t].add = c.add.data() + 16 * t + first_row * (s.per_row_add ? 16 * s.tiles : 0);
  kernel(rows, c.blocks, c.a.data() + first_row * c.a_stride, c.a_stride, c.w.data(), c.blocks * 64, s.tiles,
         c.scales.data() + first_row, c.zero_points.data() + first_row, c.w_scales.data(), c.w_sums.data(),
         o.table.data(), s.per_row_add ? 16 * s.tiles : 0);
  return o;
}

}  // namespace

TEST_CASE("kernels: int8 GEMMs compute exact integers and one epilogue, every path bit-exact", "[kernel]") {
  for (bool extremes : {false, true}) {  // extremes: 255 x +-127 everywhere, the int16 saturation trap
    for (const Shape& s : EdgeShapes()) {
      INFO(Describe(s) << (extremes ? " extreme values" : ""));
      const Int8Data c(s, extremes);
      const Outputs ref = RunInt8(ple::rt::kernels::qu8s8_gemm__scalar, s, c, 0, s.rows);
      CheckUntouched(s, ref, 0, s.rows);
      const size_t add_stride = s.per_row_add ? 16 * s.tiles : 0;
      for (size_t t = 0; t < s.tiles; ++t) {
        if (s.padding(t)) continue;
        for (size_t r = 0; r < s.rows; ++r) {
          for (size_t col = 0; col < s.columns(t); ++col) {
            const int64_t acc = ExactDot(c, t, r, col);
            const size_t n = 16 * t + col;
            const float combined = c.scales[r] * c.w_scales[n];
            float expected = combined * static_cast<float>(acc - int64_t{c.zero_points[r]} * c.w_sums[n]) +
                             c.add[r * add_stride + 16 * t + col];
            if (s.relu(t) && !(expected > 0.0f)) expected = 0.0f;
            REQUIRE(SameBits(ref.tiles[t][r * s.out_stride(t) + col], expected));
          }
        }
      }
      for (const KernelSet* set : OtherPaths()) {
        INFO("kernel path " << set->name);
        const Outputs got = RunInt8(set->qu8s8_gemm, s, c, 0, s.rows);
        for (size_t t = 0; t < s.tiles; ++t) REQUIRE(got.tiles[t] == ref.tiles[t]);
        const size_t r0 = s.rows / 2;  // one row alone, and the call starting at it
        const Outputs alone = RunInt8(set->qu8s8_gemm, s, c, r0, 1);
        const Outputs tail = RunInt8(set->qu8s8_gemm, s, c, r0, s.rows - r0);
        CheckUntouched(s, alone, r0, 1);
        for (size_t t = 0; t < s.tiles; ++t) {
          for (size_t col = 0; col < s.columns(t) && !s.padding(t); ++col) {
            const size_t at = r0 * s.out_stride(t) + col;
            REQUIRE(SameBits(alone.tiles[t][at], ref.tiles[t][at]));
          }
          for (size_t r = r0; r < s.rows && !s.padding(t); ++r) {
            for (size_t col = 0; col < s.columns(t); ++col) {
              REQUIRE(SameBits(tail.tiles[t][r * s.out_stride(t) + col], ref.tiles[t][r * s.out_stride(t) + col]));
            }
          }
        }
      }
    }
  }
}

// The one float step of the int8 path whose bits can differ between platforms
// (docs/determinism.md, "Denormals"): armv7 NEON flushes denormal inputs and results of its
// float instructions to zero. With a combined scale below the smallest normal float, the
// epilogue's product may then differ from the scalar reference, by at most
// |acc - zero_point * channel_sum| * FLT_MIN, and the addend step by FLT_MIN. Every other
// platform gives the same bits.
TEST_CASE("kernels: int8 epilogue with denormal scales stays within the documented bound", "[kernel]") {
  const Shape s{7, 64, 2, 64, false, 99};
  Int8Data c(s, false);
  for (size_t r = 0; r < s.rows; ++r) c.scales[r] = r % 2 ? 1e-20f : 3e-19f;
  for (size_t n = 0; n < c.w_scales.size(); ++n) c.w_scales[n] = n % 3 ? 1e-20f : 2e-25f;  // products 2e-40..3e-39
  for (float& v : c.add) v = v * 1e-38f;  // denormal and small normal addends
  const Outputs ref = RunInt8(ple::rt::kernels::qu8s8_gemm__scalar, s, c, 0, s.rows);
  for (const KernelSet* set : OtherPaths()) {
    INFO("kernel path " << set->name);
    const Outputs got = RunInt8(set->qu8s8_gemm, s, c, 0, s.rows);
    double worst = 0.0, bound_used = 0.0;
    for (size_t t = 0; t < s.tiles; ++t) {
      for (size_t r = 0; r < s.rows; ++r) {
        for (size_t col = 0; col < s.columns(t); ++col) {
          const int64_t acc = ExactDot(c, t, r, col);
          const size_t n = 16 * t + col;
          const double centered = std::fabs(static_cast<double>(acc - int64_t{c.zero_points[r]} * c.w_sums[n]));
          const double bound = (centered + 1.0) * std::numeric_limits<float>::min();
          const size_t at = r * s.out_stride(t) + col;
          const double diff = std::fabs(static_cast<double>(got.tiles[t][at]) - ref.tiles[t][at]);
          REQUIRE(diff <= bound);
          worst = std::max(worst, diff);
          bound_used = std::max(bound_used, diff / bound);
        }
      }
    }
    INFO("worst difference " << worst << " (" << bound_used << " of the bound)");
    SUCCEED();
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

TEST_CASE("kernels: every path's fused gate gives the scalar reference's bits", "[kernel]") {
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
      for (const KernelSet* set : OtherPaths()) {
        INFO("kernel path " << set->name << " count " << count << " width " << width);
        std::vector<float> got(rows * stride, -777.0f), got_weights(rows * count);
        set->f32_gate_softmax_sum(rows, count, width, logits.data(), 17, pointers.data(), stride, got_weights.data(),
                                  count, got.data(), stride);
        REQUIRE(std::memcmp(got.data(), ref.data(), got.size() * sizeof(float)) == 0);
        REQUIRE(std::memcmp(got_weights.data(), ref_weights.data(), got_weights.size() * sizeof(float)) == 0);
      }
    }
  }
}
