// Scalar kernels: the reference math every other kernel path is tested against.
// Naming grammar (docs/kernels.md): `ple::rt::kernels::<dtype>_<op>__<isa>`; a scalar kernel
// lives in `<dtype>-<op>-scalar.cc`, an instruction set's kernels in one translation unit,
// `<isa>.cc`, compiled with that instruction set's flags. Matrices are row-major with strides
// in elements.
// Reduction order is fixed (ascending index, one accumulator) and the runtime is compiled
// with -ffp-contract=off, so results are reproducible bit for bit on a given platform.
#ifndef PLE_RUNTIME_KERNELS_KERNELS_H_
#define PLE_RUNTIME_KERNELS_KERNELS_H_

#include <cstddef>
#include <cstdint>

#include "load/model.h"

namespace ple::rt {
namespace kernels {

// In place: y[r][c] = act(y[r][c]) for c < width, with the layer's activation parameters.
void f32_activation__scalar(const DenseLayer& layer, size_t rows, size_t width, float* y, size_t y_stride);

// Per row: p = softmax(logits[0..count)) (p[e] = exp(z[e] - max z) / sum, e ascending) into
// weights[r * weights_stride] (stride 0: a scratch of `count` floats reused per row), then
// out[r][c] = sum_e p[e] * experts[e][r][c], e ascending. `experts` holds `count` pointers to
// [rows, width] blocks with stride `expert_stride`. Products then sums, in that order (no fused
// multiply-add): every path gives the same bits.
void f32_gate_softmax_sum__scalar(size_t rows, size_t count, size_t width, const float* logits, size_t logits_stride,
                                  const float* const* experts, size_t expert_stride, float* weights,
                                  size_t weights_stride, float* out, size_t out_stride);

// ---- GEMM on packed weights (docs/architecture.md, "Quantized execution") ----
// A packed group is `tiles` tiles of 16 output channels, `w_tile_stride` elements apart.
// float32 and float16 tiles hold w[i][c] (the weight of channel c for input i); int8 tiles
// hold `blocks` 4-value blocks, w[b][c][j] the weight of channel c for input 4b + j. A GEMM
// kernel computes every tile for `rows` rows and hands each tile's 16 results per row to its
// TileOutput: y[c] = dot(r, c) + add[r * add_stride + c], then max(y, 0) when `relu`, stored
// for c < columns. Rows are independent: a row's result does not depend on `rows` or on the
// other rows, on every path.

// Where one tile's results go (the session fills one per tile of a group).
struct TileOutput {
  float* out = nullptr;        // row 0, the tile's first channel in its layer's value; null: padding, not stored
  const float* add = nullptr;  // row 0's addends for the tile's 16 channels
  uint32_t out_stride = 0;     // floats per row of `out`
  uint32_t columns = 0;        // channels stored, 1..16
  uint32_t relu = 0;           // 1: the layer's activation is ReLU, applied here
  uint32_t reserved = 0;
};
static_assert(sizeof(TileOutput) == 2 * sizeof(void*) + 16, "TileOutput is read by every kernel path");

// dot = sum over i < k (ascending, one accumulator) of a[r][i] * w[i][c].
void f32_gemm__scalar(size_t rows, size_t k, const float* a, size_t a_stride, const float* w, size_t w_tile_stride,
                      size_t tiles, const TileOutput* outputs, size_t add_stride);
// The same with float16 weights, widened exactly.
void f16_gemm__scalar(size_t rows, size_t k, const float* a, size_t a_stride, const uint16_t* w, size_t w_tile_stride,
                      size_t tiles, const TileOutput* outputs, size_t add_stride);

// Asymmetric uint8 quantization per row: with lo = min(0, min x) and hi = max(0, max x),
// scale = (hi - lo) / 255 (1 when that is below the smallest normal float), inverse = 1 / scale,
// zero_point = clamp(round(-lo * inverse), 0, 255), q = clamp(round(x * inverse) + zero_point,
// 0, 255), rounding to nearest even. Inputs
// [k, k_padded) of each row are set to 0 (their weights are 0). Returns false when a row holds
// a NaN or an infinity, or hi - lo overflows float: such a row is written as zeros with scale 0 and zero point 0 (no
// value of it is converted), and the caller reports the error.
bool f32_qu8_quantize__scalar(size_t rows, size_t k, const float* x, size_t x_stride, uint8_t* q, size_t q_stride,
                              size_t k_padded, float* scales, int32_t* zero_points);

// acc[r][c] = sum over b < blocks, j < 4 of a[r][4b + j] * w[b][c][j], exact in int32 (for
// 4 * blocks <= ple::kMaxInt8Inputs + 3), then, in this order, with channel n = 16 t + c of the
// group: dot = (scales[r] * w_scales[n]) * float(acc[r][c] - zero_points[r] * w_sums[n]).
// Every int8 path computes the same integers and the same float operations: results are
// bit-identical to this one.
void qu8s8_gemm__scalar(size_t rows, size_t blocks, const uint8_t* a, size_t a_stride, const int8_t* w,
                        size_t w_tile_stride, size_t tiles, const float* scales, const int32_t* zero_points,
                        const float* w_scales, const int32_t* w_sums, const TileOutput* outputs, size_t add_stride);

// The int8 layout the i8mm path reads (docs/kernels.md, "The i8mm weight layout"): the same
// bytes as the file's `blocks` blocks of each tile, in the same place, reordered so that one
// 16-byte load is two channels x 8 inputs (what SMMLA/USMMLA take). Blocks 2p and 2p + 1 become
// pair p, 128 bytes: for channel pair c (0..7), channel 2c's inputs 8p..8p+7, then channel
// 2c+1's. An odd last block stays 64 bytes: channel 2c's 4 inputs, then channel 2c+1's, for
// c = 0..7. Reads `w`, writes `out`, each tile `w_tile_stride` bytes apart.
void qs8_pair_blocks(const int8_t* w, size_t w_tile_stride, size_t tiles, size_t blocks, int8_t* out);

// The logistic function, 1 / (1 + exp(-x)), with the runtime's own exp (portable-math.h).
float sigmoid(float x);

// A task's output for `rows` candidates: out[r * out_stride] = sigmoid(x[r * x_stride]) for a
// binary task, x itself for a regression. Returns the first row whose output is not finite, or
// `rows` (the caller fails the run by name: docs/hardening.md).
size_t f32_task_output__scalar(size_t rows, const float* x, size_t x_stride, bool binary, float* out,
                               size_t out_stride);

// One candidate's ranking score (score.h): prod_k max(p[k], floor if tasks[k] is a regression)
// ^ exponents[k], k ascending, times the transform of x (x is not read for kNone). With the
// runtime's own pow, log1p and sigmoid: the same bits on every platform.
float f32_ranking_score__scalar(const ScoreFormula& formula, const TaskSpec* tasks, const float* p, float x);

// An IEEE float16 value (bits) as float32, exactly.
float f16_to_f32(uint16_t bits);

}  // namespace kernels
}  // namespace ple::rt

#endif  // PLE_RUNTIME_KERNELS_KERNELS_H_
