// Scalar kernels: the reference math every other kernel path is tested against.
// Naming grammar (docs/kernels.md): file `<dtype>-<op>-<isa>.cc` holds
// `ple::kernels::<dtype>_<op>__<isa>`. Matrices are row-major with strides in floats.
// Reduction order is fixed (ascending index, one accumulator) and the runtime is compiled
// with -ffp-contract=off, so results are reproducible bit for bit on a given platform.
#ifndef PLE_RUNTIME_KERNELS_KERNELS_H_
#define PLE_RUNTIME_KERNELS_KERNELS_H_

#include <cstddef>
#include <cstdint>

#include "model.h"

namespace ple::rt {
namespace kernels {

// y[r][o] = sum_k x[r][k] * w[o][k] + bias[o]   (bias may be nullptr: zeros), k < in.
// w is [out, *] row-major (the PyTorch Linear layout) with `w_stride` floats per row, so a
// block of columns of a wider matrix can be used in place.
void f32_dense__scalar(size_t rows, size_t in, size_t out, const float* x, size_t x_stride, const float* w,
                       size_t w_stride, const float* bias, float* y, size_t y_stride);

// In place: y[r][c] = act(y[r][c]) for c < width, with the layer's activation parameters.
void f32_activation__scalar(const DenseLayer& layer, size_t rows, size_t width, float* y, size_t y_stride);

// In place, per row: x = exp(x - max(x)) / sum(exp(x - max(x))).
void f32_softmax__scalar(size_t rows, size_t width, float* x, size_t x_stride);

// out[r][c] = sum_e weights[r][e] * experts[e][r][c], e ascending.
// `experts` holds `count` pointers to [rows, width] blocks with stride `expert_stride`.
void f32_gate_sum__scalar(size_t rows, size_t count, size_t width, const float* weights, size_t weights_stride,
                          const float* const* experts, size_t expert_stride, float* out, size_t out_stride);

// ---- int8 and float16 packed weights (docs/architecture.md, "Quantized execution") ----
// A tile is 16 output channels. int8 tiles hold `blocks` 4-value blocks: w[b][c][j] is the
// weight of channel c for input 4b + j. float16 tiles hold w[k][c].

// Asymmetric uint8 quantization per row: with lo = min(0, min x) and hi = max(0, max x),
// scale = (hi - lo) / 255 (1 when hi == lo), zero_point = clamp(round(-lo / scale), 0, 255),
// q = clamp(round(x * (1 / scale)) + zero_point, 0, 255), rounding to nearest even. Inputs
// [k, k_padded) of each row are set to 0 (their weights are 0).
void f32_qu8_quantize__scalar(size_t rows, size_t k, const float* x, size_t x_stride, uint8_t* q, size_t q_stride,
                              size_t k_padded, float* scales, int32_t* zero_points);

// acc[r][c] = sum over b < blocks, j < 4 of a[r][4b + j] * w[b][c][j]   (exact int32)
void qu8s8_gemm_tile__scalar(size_t rows, size_t blocks, const uint8_t* a, size_t a_stride, const int8_t* w,
                             int32_t* acc);

// out[r][c] = (scales[r] * weight_scales[c]) * float(acc[r][c] - zero_points[r] * sums[c]) + add[r * add_stride + c]
// for c < columns (<= 16); acc rows are 16 wide.
void qs8_dequantize_tile__scalar(size_t rows, size_t columns, const int32_t* acc, const float* scales,
                                 const int32_t* zero_points, const float* weight_scales, const int32_t* sums,
                                 const float* add, size_t add_stride, float* out, size_t out_stride);

// out[r][c] = sum over k (ascending) of a[r][k] * half(w[k][c]), for the 16 channels of a tile.
void f16_gemm_tile__scalar(size_t rows, size_t k, const float* a, size_t a_stride, const uint16_t* w, float* out,
                           size_t out_stride);

// The logistic function, 1 / (1 + exp(-x)).
float sigmoid(float x);

// An IEEE float16 value (bits) as float32, exactly.
float f16_to_f32(uint16_t bits);

}  // namespace kernels
}  // namespace ple::rt

#endif  // PLE_RUNTIME_KERNELS_KERNELS_H_
