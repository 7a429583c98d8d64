// Static shapes of the feature layer's values (onnx_features.h): -1 stands for the batch, which
// stays the first axis; -2 for a length the graph leaves symbolic. What reshaping and slicing
// ops make of them, each refusal naming the node.
#ifndef PLE_CONVERTER_ONNX_IMPORT_ONNX_FEATURE_SHAPES_H_
#define PLE_CONVERTER_ONNX_IMPORT_ONNX_FEATURE_SHAPES_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "onnx_import/onnx_graph.h"

namespace ple {
namespace convert {
namespace onnx_import {

using FeatureShape = std::vector<int64_t>;
constexpr int64_t kBatch = -1, kSymbolic = -2;
constexpr int64_t kMaxRowElements = int64_t{1} << 31;  // values a row may hold

// The values one row holds (the product of the non-batch axes); throws ConvertError beyond
// kMaxRowElements, `who` first.
int64_t RowElements(const FeatureShape& shape, const std::string& who);
std::string FeatureShapeText(const FeatureShape& shape);  // "[B, 12, 8]", "?" for symbolic

// The shape Unsqueeze, Squeeze (`operand`: their axes), Flatten or Reshape (`operand`: the
// target) gives `shape`: the batch stays first and the row's values keep their order.
FeatureShape ReshapedShape(const Node& node, const FeatureShape& shape, const std::vector<int64_t>& operand);

// The columns [begin, end) that a Slice takes of a [B, width] input: one range on axis 1 with
// step 1, clamped as ONNX does.
std::pair<int64_t, int64_t> SlicedColumns(const Node& node, int64_t width, const std::vector<int64_t>& starts,
                                          const std::vector<int64_t>& ends, const std::vector<int64_t>& axes,
                                          const std::vector<int64_t>& steps);

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_ONNX_IMPORT_ONNX_FEATURE_SHAPES_H_
