// GemmTester: the shape of one GEMM kernel call, and every check a kernel path must pass on
// it (in the manner of XNNPACK's gemm-microkernel-tester.h). Set the shape with the builder,
// then run a path:
//
//   GemmTester().rows(5).k(17).tiles(3).a_stride(22).per_row_add(true).TestInt8(*path);
//
// Each test computes its own reference: float64 sums for the float kernels (every path within
// float32 rounding of them; the scalar path within half that), exact integers and the one
// epilogue of kernels.h for int8 (every path bit-exact). It also checks that float16 weights
// give the float32 result's bits, that a row's result does not depend on the other rows of the
// call (one row alone, and a call starting at it), and that nothing outside the outputs is
// written. Every failure message names the path and the shape.
#ifndef PLE_TESTS_KERNEL_GEMM_TESTER_H_
#define PLE_TESTS_KERNEL_GEMM_TESTER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kernel_set.h"

namespace ple::test {

class GemmTester {
 public:
  GemmTester& rows(size_t value) { rows_ = value; return *this; }
  GemmTester& k(size_t value) { k_ = value; return *this; }
  // Tile t stores 1 + (seed + 7 t) % 16 of its 16 columns, with ReLU on odd tiles; with 5 or
  // more tiles, tile 2 is padding (no output).
  GemmTester& tiles(size_t value) { tiles_ = value; return *this; }
  GemmTester& a_stride(size_t value) { a_stride_ = value; return *this; }  // floats; 0: k
  GemmTester& per_row_add(bool value) { per_row_add_ = value; return *this; }  // false: one shared addend row
  GemmTester& seed(uint32_t value) { seed_ = value; return *this; }
  // int8 only: activations 255 and weights +-127 everywhere, where int16 pair sums saturate.
  GemmTester& extremes(bool value) { extremes_ = value; return *this; }
  // int8 only: weights in [-64, 64] (+-64 with extremes), run through qu8s8_gemm_narrow.
  GemmTester& narrow(bool value) { narrow_ = value; return *this; }
  // int8 only: combined scales below the smallest normal float and denormal addends, checked
  // within the bound of docs/determinism.md ("Denormals") instead of bit for bit.
  GemmTester& denormal_scales(bool value) { denormal_scales_ = value; return *this; }

  size_t rows() const { return rows_; }
  size_t k() const { return k_; }
  size_t tiles() const { return tiles_; }
  size_t a_stride() const { return a_stride_ == 0 ? k_ : a_stride_; }
  bool per_row_add() const { return per_row_add_; }
  uint32_t seed() const { return seed_; }
  bool extremes() const { return extremes_; }
  bool narrow() const { return narrow_; }
  bool denormal_scales() const { return denormal_scales_; }
  size_t columns(size_t tile) const { return 1 + (seed_ + 7 * tile) % 16; }
  bool relu(size_t tile) const { return tile % 2 == 1; }
  bool padding(size_t tile) const { return tiles_ >= 5 && tile == 2; }
  size_t out_stride(size_t tile) const { return columns(tile) + 3; }
  std::string Describe() const;

  // f32_gemm and f16_gemm of `path`.
  void TestFloat(const rt::KernelSet& path) const;
  // qu8s8_gemm of `path` (qu8s8_gemm_narrow with narrow weights).
  void TestInt8(const rt::KernelSet& path) const;

 private:
  size_t rows_ = 1, k_ = 1, tiles_ = 1, a_stride_ = 0;
  bool per_row_add_ = false, extremes_ = false, denormal_scales_ = false, narrow_ = false;
  uint32_t seed_ = 0;
};

// Rows below, at and above every row block (1 to 128), k = 1, odd k and k past a chunk of the
// AVX2 int8 kernel (1037), 1 to 7 tiles (groups of four, pairs, single tiles, a padding tile),
// strided and dense inputs, shared and per-row addends.
std::vector<GemmTester> EdgeShapes();

// The kernel paths under test: every path built into this library and supported by this CPU
// (the scalar reference first; XNNPACK runs float32 GEMMs only through its own operators, so it
// is not a kernel set to test here). PLE_TEST_KERNEL_PATHS=name,name narrows them, as
// PLE_KERNELS narrows what a session uses. A new path is tested here as soon as kernel_set.cc
// lists it.
std::vector<const rt::KernelSet*> PathsUnderTest();

// When PLE_TEST_KERNEL_PATHS names kernel paths and none of them can run here (not built into
// this library, or this CPU lacks their instructions): their names, comma-separated. Empty
// otherwise (unset, or at least one runs; unknown names are PathsUnderTest's error).
std::string RequestedPathsNotRunnable();

}  // namespace ple::test

#endif  // PLE_TESTS_KERNEL_GEMM_TESTER_H_
