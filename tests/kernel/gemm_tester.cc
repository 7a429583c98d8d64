#include "gemm_tester.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <sstream>

namespace ple::test {
namespace {

using rt::KernelSet;
using rt::kernels::TileOutput;

constexpr float kUntouched = -777.0f;

// REQUIRE without building a message per passing element (Catch2's INFO formats eagerly, which
// would dominate the run time under qemu): the message is streamed only on failure.
#define PLE_EXPECT(condition, message) \
  do {                                  \
    if (!(condition)) FAIL(message);    \
  } while (false)

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

bool SameBits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

size_t AddStride(const GemmTester& s) { return s.per_row_add() ? 16 * s.tiles() : 0; }

// Float inputs of one shape; every weight is a float16 value, so float16 and float32 tiles agree.
struct FloatData {
  std::vector<float> a, w, add;  // add: per tile 16 floats per row (one row when shared)
  std::vector<uint16_t> w_half;
  explicit FloatData(const GemmTester& s) {
    std::mt19937 rng(s.seed());
    std::normal_distribution<float> normal(0.0f, 1.0f);
    a.resize(s.rows() * s.a_stride());
    for (float& v : a) v = normal(rng);
    w.resize(s.tiles() * s.k() * 16);
    w_half.resize(w.size());
    for (size_t i = 0; i < w.size(); ++i) {
      w_half[i] = HalfBits(normal(rng) / std::sqrt(static_cast<float>(s.k())));
      w[i] = rt::kernels::f16_to_f32(w_half[i]);
    }
    add.resize(s.tiles() * (s.per_row_add() ? s.rows() : 1) * 16);
    for (float& v : add) v = normal(rng);
  }
};

// int8 inputs of one shape: uint8 rows of whole 4-value blocks, per-row scales and zero points,
// per-channel scales and the channel sums the converter stores.
struct Int8Data {
  std::vector<uint8_t> a;
  std::vector<int8_t> w;
  std::vector<float> scales, w_scales, add;
  std::vector<int32_t> zero_points, w_sums;
  size_t blocks, a_stride;

  explicit Int8Data(const GemmTester& s) {
    blocks = (s.k() + 3) / 4;
    a_stride = blocks * 4 + (s.a_stride() - s.k());
    std::mt19937 rng(s.seed());
    a.resize(s.rows() * a_stride);
    for (auto& v : a) v = s.extremes() ? 255 : static_cast<uint8_t>(rng() % 256);
    w.resize(s.tiles() * blocks * 64);
    const int limit = s.narrow() ? kNarrowInt8Limit : 127;
    for (auto& v : w) {
      v = static_cast<int8_t>(s.extremes() ? (rng() % 2 ? limit : -limit)
                                           : static_cast<int>(rng() % (2 * limit + 1)) - limit);
    }
    std::uniform_real_distribution<float> unit(0.001f, 0.05f);
    for (size_t r = 0; r < s.rows(); ++r) {
      scales.push_back(unit(rng));
      zero_points.push_back(static_cast<int32_t>(rng() % 256));
    }
    w_sums.assign(16 * s.tiles(), 0);
    for (size_t t = 0; t < s.tiles(); ++t) {
      for (size_t b = 0; b < blocks; ++b) {
        for (size_t c = 0; c < 16; ++c) {
          for (size_t j = 0; j < 4; ++j) w_sums[16 * t + c] += w[(t * blocks + b) * 64 + c * 4 + j];
        }
      }
    }
    for (size_t n = 0; n < 16 * s.tiles(); ++n) w_scales.push_back(unit(rng));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    add.resize(s.tiles() * (s.per_row_add() ? s.rows() : 1) * 16);
    for (auto& v : add) v = normal(rng);
    if (s.denormal_scales()) {  // combined scales 2e-40 to 3e-39, denormal and small normal addends
      for (size_t r = 0; r < s.rows(); ++r) scales[r] = r % 2 ? 1e-20f : 3e-19f;
      for (size_t n = 0; n < w_scales.size(); ++n) w_scales[n] = n % 3 ? 1e-20f : 2e-25f;
      for (float& v : add) v = v * 1e-38f;
    }
  }

  // The exact dot product of row r with channel `col` of tile t.
  int64_t ExactDot(size_t t, size_t r, size_t col) const {
    int64_t acc = 0;
    for (size_t b = 0; b < blocks; ++b) {
      for (size_t j = 0; j < 4; ++j) acc += int64_t{a[r * a_stride + 4 * b + j]} * w[(t * blocks + b) * 64 + col * 4 + j];
    }
    return acc;
  }
};

// One output buffer per tile, rows x out_stride, kUntouched where nothing may be written; the
// tile table of a call over rows [first_row, first_row + rows).
struct Outputs {
  std::vector<std::vector<float>> tiles;
  std::vector<TileOutput> table;
  Outputs(const GemmTester& s, const std::vector<float>& add, size_t first_row) : tiles(s.tiles()) {
    for (size_t t = 0; t < s.tiles(); ++t) {
      tiles[t].assign(s.rows() * s.out_stride(t), kUntouched);
      TileOutput o;
      if (!s.padding(t)) o.out = tiles[t].data() + first_row * s.out_stride(t);
      o.add = add.data() + 16 * t + first_row * AddStride(s);
      o.out_stride = static_cast<uint32_t>(s.out_stride(t));
      o.columns = static_cast<uint32_t>(s.columns(t));
      o.relu = s.relu(t);
      table.push_back(o);
    }
  }
  float at(const GemmTester& s, size_t t, size_t r, size_t c) const { return tiles[t][r * s.out_stride(t) + c]; }
};

Outputs RunF32(const KernelSet& path, const GemmTester& s, const FloatData& d, size_t first_row, size_t rows) {
  Outputs o(s, d.add, first_row);
  path.f32_gemm(rows, s.k(), d.a.data() + first_row * s.a_stride(), s.a_stride(), d.w.data(), s.k() * 16, s.tiles(),
                o.table.data(), AddStride(s));
  return o;
}

Outputs RunF16(const KernelSet& path, const GemmTester& s, const FloatData& d, size_t first_row, size_t rows) {
  Outputs o(s, d.add, first_row);
  path.f16_gemm(rows, s.k(), d.a.data() + first_row * s.a_stride(), s.a_stride(), d.w_half.data(), s.k() * 16,
                s.tiles(), o.table.data(), AddStride(s));
  return o;
}

Outputs RunInt8(const KernelSet& path, const GemmTester& s, const Int8Data& c, size_t first_row, size_t rows) {
  Outputs o(s, c.add, first_row);
  const auto gemm = s.narrow() ? path.qu8s8_gemm_narrow : path.qu8s8_gemm;
  std::vector<int8_t> paired;  // the i8mm path's layout, as the model builds it
  if (path.int8_pair != nullptr) {
    paired.resize(c.w.size());
    path.int8_pair(c.w.data(), c.blocks * 64, s.tiles(), c.blocks, paired.data());
  }
  gemm(rows, c.blocks, c.a.data() + first_row * c.a_stride, c.a_stride, paired.empty() ? c.w.data() : paired.data(),
       c.blocks * 64, s.tiles(),
       c.scales.data() + first_row, c.zero_points.data() + first_row, c.w_scales.data(), c.w_sums.data(),
       o.table.data(), AddStride(s));
  return o;
}

// The exact value (before ReLU) of one output, and the sum of |terms| that bounds its rounding.
void Exact(const GemmTester& s, const FloatData& d, size_t r, size_t t, size_t c, double* value, double* magnitude) {
  double acc = 0.0, mag = 0.0;
  for (size_t i = 0; i < s.k(); ++i) {
    const double term = static_cast<double>(d.a[r * s.a_stride() + i]) * d.w[(t * s.k() + i) * 16 + c];
    acc += term;
    mag += std::fabs(term);
  }
  const double add = d.add[r * AddStride(s) + 16 * t + c];
  *value = acc + add;
  *magnitude = mag + std::fabs(add) + std::fabs(acc);
}

// Nothing may be written past a tile's stored columns, into a padding tile, or outside the
// call's rows [first, first + rows).
void CheckUntouched(const GemmTester& s, const Outputs& o, size_t first, size_t rows, const char* call) {
  for (size_t t = 0; t < s.tiles(); ++t) {
    for (size_t r = 0; r < s.rows(); ++r) {
      for (size_t c = 0; c < s.out_stride(t); ++c) {
        const bool written = !s.padding(t) && c < s.columns(t) && r >= first && r < first + rows;
        if (written) continue;
        PLE_EXPECT(o.at(s, t, r, c) == kUntouched, call << ": written outside the outputs: tile " << t << " row " << r
                                                         << " column " << c << " holds " << o.at(s, t, r, c));
      }
    }
  }
}

// The stored outputs of `got` have the bits of `expected`'s for every row in [first, rows).
void CheckSameBits(const GemmTester& s, const Outputs& got, const Outputs& expected, size_t first, const char* call) {
  for (size_t t = 0; t < s.tiles(); ++t) {
    if (s.padding(t)) continue;
    for (size_t r = first; r < s.rows(); ++r) {
      for (size_t c = 0; c < s.columns(t); ++c) {
        PLE_EXPECT(SameBits(got.at(s, t, r, c), expected.at(s, t, r, c)),
                   call << ": tile " << t << " row " << r << " column " << c << ": " << got.at(s, t, r, c)
                        << " against " << expected.at(s, t, r, c));
      }
    }
  }
}

}  // namespace

std::string GemmTester::Describe() const {
  std::ostringstream text;
  text << "rows=" << rows_ << " k=" << k_ << " tiles=" << tiles_ << " a_stride=" << a_stride()
       << (per_row_add_ ? " per-row add" : " shared add") << " seed=" << seed_ << (extremes_ ? " extreme values" : "")
       << (denormal_scales_ ? " denormal scales" : "") << (narrow_ ? " narrow weights" : "");
  return text.str();
}

void GemmTester::TestFloat(const KernelSet& path) const {
  INFO("kernel path " << path.name << ", " << Describe());
  const FloatData d(*this);
  const bool reference = path.path == PLE_KERNELS_REFERENCE;
  const Outputs got = RunF32(path, *this, d, 0, rows_);
  const Outputs got_half = RunF16(path, *this, d, 0, rows_);
  CheckUntouched(*this, got, 0, rows_, "f32_gemm");
  CheckUntouched(*this, got_half, 0, rows_, "f16_gemm");
  // Within k float32 roundings of every term's magnitude, and off the reference path twice that
  // (fused multiply-adds round less, in another order), from float64 and from the scalar result.
  const double tolerance = (reference ? 1 : 2) * (k_ + 2) * 6e-8;
  const Outputs scalar = reference ? got : RunF32(*rt::FindKernelSet(PLE_KERNELS_REFERENCE), *this, d, 0, rows_);
  for (size_t t = 0; t < tiles_; ++t) {
    if (padding(t)) continue;
    for (size_t r = 0; r < rows_; ++r) {
      for (size_t c = 0; c < columns(t); ++c) {
        double value, magnitude;
        Exact(*this, d, r, t, c, &value, &magnitude);
        if (relu(t)) value = std::max(value, 0.0);
        const float y = got.at(*this, t, r, c), y_scalar = scalar.at(*this, t, r, c);
        PLE_EXPECT(std::fabs(y - value) <= tolerance * magnitude && std::fabs(y - y_scalar) <= tolerance * magnitude &&
                       !(relu(t) && std::signbit(y)),
                   "f32_gemm, tile " << t << " row " << r << " column " << c << ": " << y << " against " << value
                                     << " (float64) and " << y_scalar << " (scalar reference), tolerance "
                                     << tolerance * magnitude << (relu(t) ? ", ReLU" : ""));
      }
    }
  }
  CheckSameBits(*this, got_half, got, 0, "f16_gemm against f32_gemm (widening float16 is exact)");
  if (path.float_exact) CheckSameBits(*this, got, scalar, 0, "f32_gemm against the scalar reference (an exact path)");
  // One row alone, and the call starting at it: the same bits as inside the whole call.
  const size_t r0 = rows_ / 2;
  const Outputs alone = RunF32(path, *this, d, r0, 1);
  const Outputs tail = RunF32(path, *this, d, r0, rows_ - r0);
  CheckUntouched(*this, alone, r0, 1, "f32_gemm of one row");
  CheckUntouched(*this, tail, r0, rows_ - r0, "f32_gemm from the middle row");
  CheckSameBits(*this, tail, got, r0, "f32_gemm from the middle row against the whole call");
  for (size_t t = 0; t < tiles_; ++t) {
    for (size_t c = 0; c < columns(t) && !padding(t); ++c) {
      PLE_EXPECT(SameBits(alone.at(*this, t, r0, c), got.at(*this, t, r0, c)),
                 "f32_gemm of row " << r0 << " alone, tile " << t << " column " << c << ": " << alone.at(*this, t, r0, c)
                                    << " against " << got.at(*this, t, r0, c) << " in the whole call");
    }
  }
}

void GemmTester::TestInt8(const KernelSet& path) const {
  INFO("kernel path " << path.name << ", " << Describe());
  const Int8Data c(*this);
  const Outputs got = RunInt8(path, *this, c, 0, rows_);
  CheckUntouched(*this, got, 0, rows_, "qu8s8_gemm");
  // The scalar reference against kernels.h's definition, (scales[r] * w_scales[n]) *
  // float(acc - zero_point * w_sum) + add, then ReLU, from exact integers; every other path
  // against the scalar reference's bits (with denormal scales: against the definition, within
  // the bound of docs/determinism.md, "Denormals", as armv7 NEON flushes them).
  const bool reference = path.path == PLE_KERNELS_REFERENCE;
  if (!reference && !denormal_scales_) {
    const Outputs scalar = RunInt8(*rt::FindKernelSet(PLE_KERNELS_REFERENCE), *this, c, 0, rows_);
    CheckSameBits(*this, got, scalar, 0, "qu8s8_gemm against the scalar reference");
  }
  for (size_t t = 0; t < tiles_ && (reference || denormal_scales_); ++t) {
    if (padding(t)) continue;
    for (size_t r = 0; r < rows_; ++r) {
      for (size_t col = 0; col < columns(t); ++col) {
        const int64_t acc = c.ExactDot(t, r, col);
        const size_t n = 16 * t + col;
        const float combined = c.scales[r] * c.w_scales[n];
        float expected = combined * static_cast<float>(acc - int64_t{c.zero_points[r]} * c.w_sums[n]) +
                         c.add[r * AddStride(*this) + 16 * t + col];
        if (relu(t) && !(expected > 0.0f)) expected = 0.0f;
        const float y = got.at(*this, t, r, col);
        const double centered = std::fabs(static_cast<double>(acc - int64_t{c.zero_points[r]} * c.w_sums[n]));
        const bool ok = reference ? SameBits(y, expected)
                                  : std::fabs(static_cast<double>(y) - expected) <=
                                        (centered + 1.0) * std::numeric_limits<float>::min();
        PLE_EXPECT(ok, "qu8s8_gemm, tile " << t << " row " << r << " column " << col << ": " << y << " against "
                                           << expected << " (exact dot " << acc << ")");
      }
    }
  }
  if (denormal_scales_) return;  // a flushed denormal may depend on the row block: no bit checks
  const size_t r0 = rows_ / 2;
  const Outputs alone = RunInt8(path, *this, c, r0, 1);
  const Outputs tail = RunInt8(path, *this, c, r0, rows_ - r0);
  CheckUntouched(*this, alone, r0, 1, "qu8s8_gemm of one row");
  CheckUntouched(*this, tail, r0, rows_ - r0, "qu8s8_gemm from the middle row");
  CheckSameBits(*this, tail, got, r0, "qu8s8_gemm from the middle row against the whole call");
  for (size_t t = 0; t < tiles_; ++t) {
    for (size_t col = 0; col < columns(t) && !padding(t); ++col) {
      PLE_EXPECT(SameBits(alone.at(*this, t, r0, col), got.at(*this, t, r0, col)),
                 "qu8s8_gemm of row " << r0 << " alone, tile " << t << " column " << col << ": "
                                      << alone.at(*this, t, r0, col) << " against " << got.at(*this, t, r0, col)
                                      << " in the whole call");
    }
  }
}

std::vector<GemmTester> EdgeShapes() {
  std::vector<GemmTester> shapes;
  uint32_t i = 0;
  for (size_t rows : {1, 2, 3, 5, 7, 8, 12, 13, 16, 17, 25, 31, 128}) {
    // 1037: past a chunk of the AVX2 int8 kernel; 27: 7 blocks, i8mm's step, last pair and odd block
    for (size_t k : {1, 2, 3, 4, 5, 17, 27, 64, 129, 384, 1037}) {
      const size_t tiles = std::vector<size_t>{1, 2, 3, 5, 6, 7}[i % 6];
      shapes.push_back(GemmTester().rows(rows).k(k).tiles(tiles).a_stride(i % 3 == 0 ? k + 5 : k).per_row_add(i % 2 == 0).seed(i));
      ++i;
    }
  }
  return shapes;
}

std::vector<const KernelSet*> PathsUnderTest() {
  const char* only = std::getenv("PLE_TEST_KERNEL_PATHS");
  const std::string wanted = only != nullptr ? "," + std::string(only) + "," : "";
  std::vector<const KernelSet*> sets;
  for (ple_kernel_path path : rt::AvailableKernelPaths()) {
    if (path == PLE_KERNELS_XNNPACK) continue;
    const KernelSet* set = rt::FindKernelSet(path);
    if (!wanted.empty() && wanted.find("," + std::string(set->name) + ",") == std::string::npos) continue;
    sets.push_back(set);
  }
  if (sets.empty()) throw std::runtime_error("PLE_TEST_KERNEL_PATHS=" + std::string(only) + ": no such path here");
  if (sets.size() < 2 && only == nullptr) {
    WARN("no instruction-set kernel path is built or supported here: only the scalar path is tested");
  }
  return sets;
}

std::string RequestedPathsNotRunnable() {
  const char* only = std::getenv("PLE_TEST_KERNEL_PATHS");
  if (only == nullptr) return "";
  std::string unavailable, names = only;
  bool any_runnable = false;
  for (size_t start = 0; start <= names.size();) {
    const size_t end = std::min(names.find(',', start), names.size());
    const std::string name = names.substr(start, end - start);
    ple_kernel_path path;
    if (rt::KernelPathFromName(name.c_str(), &path)) {
      if (rt::FindKernelSet(path) != nullptr) {
        any_runnable = true;
      } else {
        unavailable += (unavailable.empty() ? "" : ",") + name;
      }
    }
    start = end + 1;
  }
  return any_runnable ? "" : unavailable;
}

}  // namespace ple::test
