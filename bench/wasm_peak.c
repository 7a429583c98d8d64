/* The engine's peak rate for the instructions our wasmsimd GEMMs are made of (bench/wasm_paths.sh):
 * exact int8 as i32x4.dot_i16x8_s + i32x4.add (8 multiply-adds), float32 as f32x4.mul +
 * f32x4.add (4), each in 8 independent chains so that latency does not bound them, each chain
 * with its own weight vector loaded every iteration (one load per product, as in the GEMMs)
 * through a volatile pointer, so the compiler can neither share nor hoist the products (the
 * mistake ple_microbench's AVX2 peak loops once made).
 *
 *   node wasm_peak.js [ITERATIONS]      prints G multiply-adds a second, the median of 7 runs */
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

static v128_t operands[9];  // 8 weight vectors (one per chain: no product is shared) and x
static v128_t* volatile operand_source = operands;  // opaque: loaded again every iteration

static double int8_dot(long iterations) {
  v128_t acc[8];
  for (int j = 0; j < 8; ++j) acc[j] = wasm_i32x4_splat(j);
  const double start = now_s();
  for (long i = 0; i < iterations; ++i) {
    const v128_t* p = operand_source;
    const v128_t x = wasm_v128_load(p + 8);
    for (int j = 0; j < 8; ++j) acc[j] = wasm_i32x4_add(acc[j], wasm_i32x4_dot_i16x8(wasm_v128_load(p + j), x));
  }
  const double seconds = now_s() - start;
  v128_t sum = acc[0];
  for (int j = 1; j < 8; ++j) sum = wasm_i32x4_add(sum, acc[j]);
  if (wasm_i32x4_extract_lane(sum, 0) == 12345) puts("");  // keeps the chains alive
  return iterations * 8.0 * 8.0 / seconds / 1e9;
}

static double f32_mul_add(long iterations) {
  v128_t acc[8];
  for (int j = 0; j < 8; ++j) acc[j] = wasm_f32x4_splat((float)j);
  const double start = now_s();
  for (long i = 0; i < iterations; ++i) {
    const v128_t* p = operand_source;
    const v128_t x = wasm_v128_load(p + 8);
    for (int j = 0; j < 8; ++j) acc[j] = wasm_f32x4_add(acc[j], wasm_f32x4_mul(wasm_v128_load(p + j), x));
  }
  const double seconds = now_s() - start;
  v128_t sum = acc[0];
  for (int j = 1; j < 8; ++j) sum = wasm_f32x4_add(sum, acc[j]);
  if (wasm_f32x4_extract_lane(sum, 0) == 12345.0f) puts("");
  return iterations * 8.0 * 4.0 / seconds / 1e9;
}

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? atol(argv[1]) : 20000000;
  for (int j = 0; j < 9; ++j) operands[j] = wasm_i16x8_splat((short)(3 + j));
  double int8[7], f32[7];
  for (int r = 0; r < 7; ++r) {  // interleaved
    int8[r] = int8_dot(iterations);
    f32[r] = f32_mul_add(iterations);
  }
  qsort(int8, 7, sizeof(double), by_value);
  qsort(f32, 7, sizeof(double), by_value);
  printf("peak: int8 i32x4.dot_i16x8_s + add %.1f G multiply-adds/s (%.2f G dot a second); "
         "f32x4 mul + add %.1f G multiply-adds/s\n", int8[3], int8[3] / 8, f32[3]);
  return 0;
}
