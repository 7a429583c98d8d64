#include "onnx_import/onnx_feature_shapes.h"

#include <algorithm>

#include "convert_error.h"
#include "onnx_import/onnx_eval_ops.h"

namespace ple {
namespace convert {
namespace onnx_import {
namespace {

[[noreturn]] void Refuse(const Node& node, const std::string& what) { throw ConvertError(node.Describe() + ": " + what); }

}  // namespace

int64_t RowElements(const FeatureShape& shape, const std::string& who) {
  int64_t n = 1;
  for (size_t i = 1; i < shape.size(); ++i) {
    if (shape[i] < 0) continue;  // a symbolic length: checked where it is needed
    if (shape[i] > 0 && n > kMaxRowElements / shape[i]) {
      throw ConvertError(who + ": a row of shape " + FeatureShapeText(shape) + " holds more than " +
                         std::to_string(kMaxRowElements) + " values");
    }
    n *= shape[i];
  }
  return n;
}

std::string FeatureShapeText(const FeatureShape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    s += (i ? ", " : "") + (shape[i] == kBatch ? std::string("B") : shape[i] == kSymbolic ? "?" : std::to_string(shape[i]));
  }
  return s + "]";
}

FeatureShape ReshapedShape(const Node& node, const FeatureShape& s, const std::vector<int64_t>& operand) {
  const std::string who = node.Describe();
  const int64_t per_row = RowElements(s, who);
  FeatureShape out;
  if (node.op == "Unsqueeze") {
    out.assign(s.size() + operand.size(), 0);
    std::vector<bool> inserted(out.size(), false);
    for (int64_t a : operand) {
      const int64_t axis = ops::Axis(a, out.size(), who);
      if (inserted[axis]) Refuse(node, "unsqueezes axis " + std::to_string(a) + " twice");
      inserted[axis] = true;
    }
    if (inserted[0]) Refuse(node, "unsqueezes before the batch axis");
    for (size_t i = 0, j = 0; i < out.size(); ++i) out[i] = inserted[i] ? 1 : s.at(j++);
  } else if (node.op == "Squeeze") {
    std::vector<bool> drop(s.size(), false);
    for (size_t i = 1; i < s.size(); ++i) drop[i] = operand.empty() && s[i] == 1;
    for (int64_t a : operand) {
      const int64_t axis = ops::Axis(a, s.size(), who);
      if (axis == 0 || s[axis] != 1) Refuse(node, "squeezes axis " + std::to_string(a) + " of " + FeatureShapeText(s));
      drop[axis] = true;
    }
    for (size_t i = 0; i < s.size(); ++i) {
      if (!drop[i]) out.push_back(s[i]);
    }
  } else if (node.op == "Flatten") {
    if (ops::Axis(node.Int("axis", 1), s.size() + 1, who) != 1) {
      Refuse(node, "flattens the batch axis into the features (axis must be 1)");
    }
    out = {kBatch, per_row};
  } else {  // Reshape: 0 copies the dimension (unless allowzero), -1 is inferred once
    out = operand;
    if (out.empty() || (out[0] != 0 && out[0] != -1)) Refuse(node, "reshapes the batch axis");
    out[0] = kBatch;
    int64_t known = 1, infer = -1;
    for (size_t i = 1; i < out.size(); ++i) {
      if (out[i] == 0 && node.Int("allowzero", 0) == 0 && i < s.size()) out[i] = s[i];
      if (out[i] == -1 && infer < 0) {
        infer = static_cast<int64_t>(i);
      } else if (out[i] > 0 && known <= kMaxRowElements / out[i]) {
        known *= out[i];
      } else {
        Refuse(node, "reshapes to " + FeatureShapeText(operand));
      }
    }
    if (infer > 0) out[infer] = per_row % known == 0 ? per_row / known : -1;
  }
  if (out.empty() || RowElements(out, who) != per_row || std::count(out.begin() + 1, out.end(), kBatch) != 0) {
    Refuse(node, "changes the number of values a row holds");
  }
  return out;
}

std::pair<int64_t, int64_t> SlicedColumns(const Node& node, int64_t width, const std::vector<int64_t>& starts,
                                          const std::vector<int64_t>& ends, const std::vector<int64_t>& axes,
                                          const std::vector<int64_t>& steps) {
  const bool columns = starts.size() == 1 && ends.size() == 1 && axes.size() == 1 && (axes[0] == 1 || axes[0] == -1) &&
                       (steps.empty() || (steps.size() == 1 && steps[0] == 1));
  if (!columns) Refuse(node, "slices something other than a range of columns (axis 1, step 1)");
  auto clamp = [width](int64_t i) { return std::min(std::max(i < 0 ? std::max(i, -width) + width : i, int64_t{0}), width); };
  const int64_t begin = clamp(starts[0]), end = clamp(ends[0]);
  if (end <= begin) Refuse(node, "slices no column");
  return {begin, end};
}

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple
