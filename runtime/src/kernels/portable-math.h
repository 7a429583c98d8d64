// exp, expm1, log, log1p, pow, tanh and the logistic function by plain float operations in a
// fixed order: the same bits on every platform (libm's versions differ between glibc x86-64,
// glibc aarch64, glibc armv7 and emscripten, so a candidate's score would too). Scalar code,
// compiled with -ffp-contract=off like the rest of the runtime; armv7's scalar VFP keeps
// denormals as x86 does. Accuracy against double precision is tested in
// tests/kernel/portable_math_test.cc (a few ulp). Internal linkage: see quantize-params.h.
#ifndef PLE_RUNTIME_KERNELS_PORTABLE_MATH_H_
#define PLE_RUNTIME_KERNELS_PORTABLE_MATH_H_

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace ple::rt {
namespace kernels {
namespace {

constexpr float kLog2e = 1.44269504f;
// ln 2 split so that n * kLn2High is exact for |n| <= 255.
constexpr float kLn2High = 0.693145751953125f, kLn2Low = 1.42860677e-6f;

// 2^n for n in [-126, 127], exactly.
inline float Pow2(int n) {
  const uint32_t bits = static_cast<uint32_t>(n + 127) << 23;
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// e^r for |r| <= ln2 / 2 by its Taylor series to r^7 (remainder < 1e-8), Horner's order.
inline float ExpReduced(float r) {
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  return p;
}

// exp(x) for x <= 0 (a shifted logit), within 2 ulp: the softmax's. exp(0) is exactly 1; NaN
// stays NaN; x < -87 gives 0 (the true value is below float's normal range: such an
// expert's softmax weight is under 1e-38).
inline float ExpNonPositive(float x) {
  if (x != x) return x;
  if (x < -87.0f) return 0.0f;
  const float n = std::nearbyint(x * kLog2e);  // x = n ln2 + r, |r| <= ln2 / 2
  const float r = (x - n * kLn2High) - n * kLn2Low;
  return ExpReduced(r) * Pow2(static_cast<int>(n));  // 2^n, n in [-126, 0]
}

// exp(x) for every x: +inf above float's range, denormals and then 0 below it.
inline float Exp(float x) {
  if (x != x) return x;
  if (x > 88.8f) return std::numeric_limits<float>::infinity();
  if (x < -104.0f) return 0.0f;
  const float n = std::nearbyint(x * kLog2e);  // n in [-150, 128]
  const float r = (x - n * kLn2High) - n * kLn2Low;
  const int half = static_cast<int>(n) / 2;  // two normal factors: neither overflows nor is denormal
  return (ExpReduced(r) * Pow2(half)) * Pow2(static_cast<int>(n) - half);
}

// exp(x) - 1, accurate near 0.
inline float Expm1(float x) {
  if (std::fabs(x) < 0.7f) {  // Taylor to x^11: remainder < 0.7^12 / 12! < 3e-11
    float p = 1.0f / 39916800.0f;
    p = p * x + 1.0f / 3628800.0f;
    p = p * x + 1.0f / 362880.0f;
    p = p * x + 1.0f / 40320.0f;
    p = p * x + 1.0f / 5040.0f;
    p = p * x + 1.0f / 720.0f;
    p = p * x + 1.0f / 120.0f;
    p = p * x + 1.0f / 24.0f;
    p = p * x + 1.0f / 6.0f;
    p = p * x + 0.5f;
    return (p * x) * x + x;
  }
  return Exp(x) - 1.0f;
}

// The natural logarithm: -inf at 0, NaN below, +inf at +inf; denormals included.
inline float Log(float x) {
  if (x != x || x < 0.0f) return std::numeric_limits<float>::quiet_NaN();
  if (x == 0.0f) return -std::numeric_limits<float>::infinity();
  if (x == std::numeric_limits<float>::infinity()) return x;
  int exponent = 0;
  if (x < std::numeric_limits<float>::min()) {  // a denormal: scale it into the normal range
    x *= 8388608.0f;  // 2^23
    exponent = -23;
  }
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  exponent += static_cast<int>(bits >> 23) - 127;
  bits = (bits & 0x7fffffu) | 0x3f800000u;  // the mantissa, in [1, 2)
  float m;
  std::memcpy(&m, &bits, sizeof m);
  if (m > 1.41421356f) {  // into [sqrt(1/2), sqrt(2))
    m *= 0.5f;
    ++exponent;
  }
  // log m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (m - 1) / (m + 1), |s| <= 0.172.
  const float s = (m - 1.0f) / (m + 1.0f);
  const float s2 = s * s;
  float p = 1.0f / 11.0f;
  p = p * s2 + 1.0f / 9.0f;
  p = p * s2 + 1.0f / 7.0f;
  p = p * s2 + 1.0f / 5.0f;
  p = p * s2 + 1.0f / 3.0f;
  const float e = static_cast<float>(exponent);
  const float log_m = 2.0f * s + (2.0f * s) * (s2 * p);
  return e * kLn2High + (log_m + e * kLn2Low);
}

// log(1 + x), accurate near 0 (x / (u - 1) corrects the rounding of u = 1 + x).
inline float Log1p(float x) {
  const float u = 1.0f + x;
  if (u == 1.0f) return x;
  if (u == std::numeric_limits<float>::infinity()) return u;
  return Log(u) * (x / (u - 1.0f));
}

// x^w for x >= 0: 0^w is 0 for w > 0, 1 for w == 0, +inf for w < 0; NaN for x < 0.
inline float Pow(float x, float w) {
  if (w == 0.0f) return 1.0f;
  if (x == 1.0f) return 1.0f;
  if (x == 0.0f) return w > 0.0f ? 0.0f : std::numeric_limits<float>::infinity();
  return Exp(w * Log(x));
}

// tanh(x), odd, accurate near 0.
inline float Tanh(float x) {
  const float a = std::fabs(x);
  if (a != a) return x;
  const float t = a > 9.0f ? 1.0f : [&] {
    const float e = Expm1(2.0f * a);
    return e / (e + 2.0f);
  }();
  return x < 0.0f ? -t : t;
}

// The logistic function 1 / (1 + e^-x).
inline float Sigmoid(float x) { return 1.0f / (1.0f + Exp(-x)); }

}  // namespace
}  // namespace kernels
}  // namespace ple::rt

#endif  // PLE_RUNTIME_KERNELS_PORTABLE_MATH_H_
