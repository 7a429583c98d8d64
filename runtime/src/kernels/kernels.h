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

// The logistic function, 1 / (1 + exp(-x)).
float sigmoid(float x);

// An IEEE float16 value (bits) as float32, exactly.
float f16_to_f32(uint16_t bits);

}  // namespace kernels
}  // namespace ple::rt

#endif  // PLE_RUNTIME_KERNELS_KERNELS_H_
