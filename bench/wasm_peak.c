/* The engine's peak rate for the instruction the wasmsimd int8 GEMM is made of
 * (bench/wasm_paths.sh): i32x4.dot_i16x8_s + i32x4.add, 8 multiply-adds, in 8 independent chains
 * so that latency does not bound them, each chain with its own weight vector loaded every
 * iteration (one load per dot, as in the GEMM) through a volatile pointer, so the compiler can
 * neither share nor hoist the products (the mistake ple_microbench's AVX2 peak loops once made).
 *
 *   node --no-liftoff wasm_peak.js [ITERATIONS]   G multiply-adds a second, the median of 7 runs
 *
 * --no-liftoff: each timed call is one long loop, and V8 cannot move a running call from its
 * baseline code (Liftoff) to the optimised one; without it the rate measured is Liftoff's (about
 * half). The GEMMs are called often and run optimised. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <wasm_simd128.h>

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static int by_value(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

// 8 weight vectors (one per chain: no product is shared) and x.
static v128_t int16_operands[9];
static v128_t* volatile int16_source = int16_operands;  // opaque: loaded again every iteration

static double int8_dot(long iterations) {
  v128_t acc[8];
  for (int j = 0; j < 8; ++j) acc[j] = wasm_i32x4_splat(j);
  const double start = now_s();
  for (long i = 0; i < iterations; ++i) {
    const v128_t* p = int16_source;
    const v128_t x = wasm_v128_load(p + 8);
    for (int j = 0; j < 8; ++j) acc[j] = wasm_i32x4_add(acc[j], wasm_i32x4_dot_i16x8(wasm_v128_load(p + j), x));
  }
  const double seconds = now_s() - start;
  v128_t sum = acc[0];
  for (int j = 1; j < 8; ++j) sum = wasm_i32x4_add(sum, acc[j]);
  if (wasm_i32x4_extract_lane(sum, 0) == 12345) puts("");  // keeps the chains alive
  return iterations * 8.0 * 8.0 / seconds / 1e9;
}

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? atol(argv[1]) : 20000000;
  for (int j = 0; j < 9; ++j) int16_operands[j] = wasm_i16x8_splat((short)(3 + j));
  double int8[7];
  for (int r = 0; r < 7; ++r) int8[r] = int8_dot(iterations);
  qsort(int8, 7, sizeof(double), by_value);
  printf("peak: int8 i32x4.dot_i16x8_s + add %.1f G multiply-adds/s (%.2f G dot a second)\n", int8[3], int8[3] / 8);
  return 0;
}
