// The runtime's own exp, expm1, log, log1p, pow, tanh and sigmoid (portable-math.h) against
// double precision: within a few ulp over their ranges, exact at the special points. Being
// plain float code, they give the same bits on every platform (the cross builds run this).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <limits>

#include "kernels/portable-math.h"

namespace k = ple::rt::kernels;

namespace {

// |got - want| in units of the float spacing at want (the smallest normal's below it).
double Ulps(float got, double want) {
  const double magnitude = std::max(std::fabs(want), static_cast<double>(std::numeric_limits<float>::min()));
  const double ulp = std::ldexp(1.0, std::ilogb(magnitude) - 23);
  return std::fabs(static_cast<double>(got) - want) / ulp;
}

// Values spread over [lo, hi]: a uniform grid plus, for ranges across 0, points near it.
template <typename Check>
void Sweep(float lo, float hi, Check check) {
  const int steps = 200000;
  for (int i = 0; i <= steps; ++i) check(lo + (hi - lo) * static_cast<float>(i) / steps);
  if (lo < 0.0f && hi > 0.0f) {
    for (float x = 1e-30f; x < 1.0f; x *= 1.7f) {
      check(x);
      check(-x);
    }
  }
}

}  // namespace

TEST_CASE("portable math: exp within 2 ulp, 0 and infinity outside float's range", "[kernel][math]") {
  double worst = 0.0;
  Sweep(-87.0f, 88.7f, [&](float x) { worst = std::max(worst, Ulps(k::Exp(x), std::exp(static_cast<double>(x)))); });
  CHECK(worst <= 2.0);
  CHECK(k::Exp(0.0f) == 1.0f);
  CHECK(k::Exp(89.0f) == std::numeric_limits<float>::infinity());
  CHECK(k::Exp(-105.0f) == 0.0f);
  CHECK(k::Exp(-100.0f) > 0.0f);  // a denormal
  CHECK(std::fabs(k::Exp(-100.0f) - std::exp(-100.0)) <= std::numeric_limits<float>::denorm_min());
  CHECK(std::isnan(k::Exp(NAN)));
  CHECK(k::Exp(-INFINITY) == 0.0f);
  CHECK(k::Exp(INFINITY) == INFINITY);
  INFO("worst " << worst << " ulp");
}

TEST_CASE("portable math: expm1, log, log1p within 2 ulp", "[kernel][math]") {
  double worst_expm1 = 0.0, worst_log = 0.0, worst_log1p = 0.0;
  Sweep(-5.0f, 5.0f, [&](float x) {
    worst_expm1 = std::max(worst_expm1, Ulps(k::Expm1(x), std::expm1(static_cast<double>(x))));
  });
  for (float x = std::numeric_limits<float>::denorm_min(); x < 3e38f;
       x = std::max(x * 1.0003f, std::nextafter(x, INFINITY))) {  // denormals step by at least one
    worst_log = std::max(worst_log, Ulps(k::Log(x), std::log(static_cast<double>(x))));
  }
  Sweep(-0.9f, 1000.0f, [&](float x) {
    worst_log1p = std::max(worst_log1p, Ulps(k::Log1p(x), std::log1p(static_cast<double>(x))));
  });
  INFO("worst: expm1 " << worst_expm1 << ", log " << worst_log << ", log1p " << worst_log1p << " ulp");
  CHECK(worst_expm1 <= 3.0);
  CHECK(worst_log <= 2.0);
  CHECK(worst_log1p <= 3.0);
  CHECK(k::Log(1.0f) == 0.0f);
  CHECK(k::Log(0.0f) == -INFINITY);
  CHECK(std::isnan(k::Log(-1.0f)));
  CHECK(k::Log(INFINITY) == INFINITY);
  CHECK(k::Log1p(0.0f) == 0.0f);
  CHECK(k::Log1p(1e-30f) == 1e-30f);
}

TEST_CASE("portable math: pow for the score's exponents, tanh and sigmoid", "[kernel][math]") {
  // pow rounds w log x to float before exp: its error grows with |w log x|. Probabilities with
  // the score's usual exponents, then regression values up to 1000 and exponents up to 3.
  double worst_pow = 0.0, worst_pow_wide = 0.0, worst_tanh = 0.0, worst_sigmoid = 0.0;
  for (float x = 1e-6f; x <= 1000.0f; x *= 1.01f) {
    for (float w : {0.1f, 0.5f, 0.8f, 1.0f, 1.5f, 2.0f, 3.0f}) {
      const double ulps = Ulps(k::Pow(x, w), std::pow(static_cast<double>(x), static_cast<double>(w)));
      double& worst = x <= 1.0f && w <= 1.0f ? worst_pow : worst_pow_wide;
      worst = std::max(worst, ulps);
    }
  }
  Sweep(-12.0f, 12.0f, [&](float x) {
    worst_tanh = std::max(worst_tanh, Ulps(k::Tanh(x), std::tanh(static_cast<double>(x))));
    worst_sigmoid = std::max(worst_sigmoid, Ulps(k::Sigmoid(x), 1.0 / (1.0 + std::exp(-static_cast<double>(x)))));
  });
  INFO("worst: pow " << worst_pow << " (wide " << worst_pow_wide << "), tanh " << worst_tanh << ", sigmoid "
                     << worst_sigmoid << " ulp");
  CHECK(worst_pow <= 24.0);       // relative 1.4e-6
  CHECK(worst_pow_wide <= 64.0);  // relative 3.8e-6
  CHECK(worst_tanh <= 3.0);
  CHECK(worst_sigmoid <= 3.0);
  CHECK(k::Pow(0.0f, 0.5f) == 0.0f);
  CHECK(k::Pow(0.0f, 0.0f) == 1.0f);
  CHECK(k::Pow(0.0f, -1.0f) == INFINITY);
  CHECK(k::Pow(1.0f, 7.0f) == 1.0f);
  CHECK(k::Pow(0.25f, 0.5f) == 0.5f);
  CHECK(k::Tanh(0.0f) == 0.0f);
  CHECK(k::Tanh(20.0f) == 1.0f);
  CHECK(k::Tanh(-20.0f) == -1.0f);
  CHECK(k::Sigmoid(0.0f) == 0.5f);
  CHECK(k::Sigmoid(200.0f) == 1.0f);
  CHECK(k::Sigmoid(-200.0f) == 0.0f);
}
