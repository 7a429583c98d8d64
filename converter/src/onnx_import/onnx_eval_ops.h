// Tensor operations of the float64 ONNX evaluator (onnx_eval.h), with ONNX's semantics:
// numpy broadcasting, row-major tensors. Every error names `who` (the node).
#ifndef PLE_CONVERTER_ONNX_IMPORT_ONNX_EVAL_OPS_H_
#define PLE_CONVERTER_ONNX_IMPORT_ONNX_EVAL_OPS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "onnx_import/onnx_graph.h"

namespace ple {
namespace convert {
namespace onnx_import {
namespace ops {

using Shape = std::vector<int64_t>;

// The most elements a tensor the evaluator computes may hold (512 MiB of float64): a hostile
// graph cannot make the converter allocate more, a tensor at a time. The self-check's tensors are
// a few thousand elements for the models of the family.
constexpr uint64_t kMaxEvaluatedElements = uint64_t{1} << 26;

// Elements of `shape`; throws beyond kMaxEvaluatedElements.
uint64_t Elements(const Shape& shape, const std::string& who);
std::vector<uint64_t> Strides(const Shape& shape);
std::string ShapeText(const Shape& shape);
// A zero tensor of `shape`.
Tensor Make(Shape shape, bool integer, const std::string& who);
// `axis` in [-rank, rank) as a non-negative axis.
int64_t Axis(int64_t axis, size_t rank, const std::string& who);
std::vector<int64_t> IntValues(const Tensor& t);

// f over the broadcast of the inputs, element by element.
Tensor Elementwise(const std::vector<const Tensor*>& in, bool integer, const std::string& who,
                   const std::function<double(const std::vector<double>&)>& f);
double Sigmoid(double x);
Tensor MatMul(const Tensor& a, const Tensor& b, const std::string& who);  // numpy.matmul
Tensor Gemm(const Node& node, const Tensor& a, const Tensor& b, const Tensor* c);
Tensor Softmax(const Node& node, const Tensor& x, int64_t opset);  // the axis rule of `opset`
// kind "sum", "mean" or "max" over `axes` (all when empty, unless noop_with_empty_axes).
Tensor Reduce(const Node& node, const Tensor& x, std::vector<int64_t> axes, const std::string& kind);
Tensor Transpose(const Node& node, const Tensor& x);
Tensor Concat(const Node& node, const std::vector<const Tensor*>& in);
Tensor Gather(const Node& node, const Tensor& data, const Tensor& indices);
// in = {x, starts, ends, axes or null, steps or null}
Tensor Slice(const Node& node, const Tensor& x, const std::vector<const Tensor*>& in);
Tensor Einsum(const Node& node, const std::vector<const Tensor*>& in);  // explicit '->', no '...'

}  // namespace ops
}  // namespace onnx_import
}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_ONNX_IMPORT_ONNX_EVAL_OPS_H_
