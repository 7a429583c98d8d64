#include <cmath>
#include <cstring>

#include "kernels/kernels.h"

namespace ple::rt {
namespace kernels {

// Exact, by moving bits: normal halves rebias their exponent (15 -> 127); subnormals are
// mantissa x 2^-24 (both factors exact, the product a normal float).
float f16_to_f32(uint16_t bits) {
  const uint32_t sign = (bits >> 15) & 1u, exponent = (bits >> 10) & 0x1fu, mantissa = bits & 0x3ffu;
  if (exponent == 31) return sign ? -(mantissa ? NAN : INFINITY) : (mantissa ? NAN : INFINITY);
  if (exponent == 0) {
    const float value = static_cast<float>(mantissa) * 0x1p-24f;
    return sign ? -value : value;
  }
  const uint32_t out = (sign << 31) | ((exponent + 112u) << 23) | (mantissa << 13);
  float value;
  std::memcpy(&value, &out, sizeof value);
  return value;
}

}  // namespace kernels
}  // namespace ple::rt
