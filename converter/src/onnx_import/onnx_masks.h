// What a mask or a count of a graph's feature layer computes, found by running its subgraph (a
// function of one input's ids) on probe ids with the float64 evaluator: the importer does not
// guess from the ops used, since exporters write the same mask in many ways (torch-rechub:
// Equal, Not, Unsqueeze, Cast; DeepCTR-Torch: the same, then repeat_interleave as Shape, Expand,
// Split, Reshape and Where). docs/architecture.md, "Importing ONNX".
#ifndef PLE_CONVERTER_ONNX_IMPORT_ONNX_MASKS_H_
#define PLE_CONVERTER_ONNX_IMPORT_ONNX_MASKS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "onnx_import/onnx_graph.h"

namespace ple {
namespace convert {
namespace onnx_import {

// A value computed from one input's ids and constants only.
struct IdFunction {
  std::vector<Node> nodes;                              // its subgraph, in graph order
  std::map<std::string, Tensor> constants;              // the constant inputs of those nodes
  std::vector<std::pair<std::string, std::vector<int64_t>>> id_values;  // values holding the ids, with
                                                        // their shape (-1: the batch)
  std::string output;                                   // the value it computes
  int64_t length = 0;                                   // ids per row of the input (a sequence's L)
  int64_t opset = 0;
  bool negate = false;  // a mask: the value is 1 where the ids are dropped (masked_fill's condition)
};

struct PadRule {
  bool has_padding_id = false;  // false: every id counts
  int64_t padding_id = 0;
};

// How a mask meets the embeddings [B, L, D] it selects.
enum class MaskUse {
  kMultiplied,  // Mul: the mask broadcasts to [B, L, D], the same for every d
  kBatchMatMul  // MatMul: the mask is [B, 1, L]
};

// The mask must be 1 for every id except one padding id (0 there), or 1 everywhere. Throws
// ConvertError starting with `who` otherwise.
PadRule ProbeMask(const IdFunction& mask, MaskUse use, int64_t dim, const std::string& who);

// The count a mean divides by, one value per row broadcasting against `pooled_shape` ([B, D] or
// [B, 1, D], -1 the batch): the ids that count under `pad`, plus a constant epsilon >= 0, which
// is returned. A row with no id may give anything above 0 (its pooled sum is 0). Throws
// ConvertError starting with `who` otherwise.
double ProbeCount(const IdFunction& count, const PadRule& pad, const std::vector<int64_t>& pooled_shape,
                  const std::string& who);

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_ONNX_IMPORT_ONNX_MASKS_H_
