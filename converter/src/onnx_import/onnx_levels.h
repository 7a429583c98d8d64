// The recognizer's view of a model's rows and gates, and how they become the IrModel's levels
// (docs/architecture.md, "Importing ONNX"): which stream each gate writes and each expert,
// gate and tower reads, and each level's experts, deduplicated by the ONNX value they compute.
#ifndef PLE_CONVERTER_ONNX_IMPORT_ONNX_LEVELS_H_
#define PLE_CONVERTER_ONNX_IMPORT_ONNX_LEVELS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "model_ir.h"

namespace ple {
namespace convert {
namespace onnx_import {

// A [batch, width] value of the model: `layers` applied to an anchor (0: the feature row; else
// the gate of that index's output).
struct Row {
  size_t anchor = 0;
  std::vector<IrDense> layers;
  bool bias_pending = false;  // the last layer came from a MatMul: its bias may be the next Add
  std::string origin;         // the ONNX value this row is (an expert's identity)
  std::string activated;      // the last layer's activation came from a node reading this value
};

// A gate: its logits chain and the rows it weighs; its output is an anchor.
struct GateInfo {
  Row logits;
  std::vector<Row> members;
  int level = 0;  // -1: the feature row (index 0)
};

// Fills ir->levels and each tower's input stream from the gates (index 0: the feature row) and
// the anchor each tower reads (ir->towers and ir->tasks are set, in that order). Throws
// ConvertError when the towers read different levels or a level has more gates than streams.
void AssembleLevels(const std::vector<GateInfo>& gates, const std::vector<size_t>& tower_anchor, IrModel* ir);

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_ONNX_IMPORT_ONNX_LEVELS_H_
