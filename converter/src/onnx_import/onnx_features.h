// The feature layer of an ONNX graph (docs/architecture.md, "Importing ONNX"): graph inputs
// (dense floats, int64 ids, padded id sequences), a float input sliced into its columns
// (DeepCTR-Torch), embedding lookups (Gather on an initializer), sum and mean pooling of
// sequences with the masks and counts exporters write (onnx_masks.h), all concatenated into the
// row the model's first Linear layers read. Everything else done to a feature value is refused
// with the node named.
#ifndef PLE_CONVERTER_ONNX_IMPORT_ONNX_FEATURES_H_
#define PLE_CONVERTER_ONNX_IMPORT_ONNX_FEATURES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model_ir.h"
#include "onnx_import/onnx_graph.h"

namespace ple {
namespace convert {
namespace onnx_import {

// What the sidecar says of the inputs (docs/importing.md, "ONNX").
struct FeatureHints {
  // A sequence input's length where the graph leaves it symbolic, by input name.
  std::map<std::string, uint32_t> max_length;
  // Feature names of a float input's column ranges [begin, end): input -> name -> range.
  std::map<std::string, std::map<std::string, std::pair<int64_t, int64_t>>> columns;
};

// Where one feature of the converted model is in the graph's inputs: elements [begin, end) of
// each row of `input` (the whole row when the input is the feature).
struct FeatureBinding {
  std::string feature, input;
  int64_t begin = 0, end = 0;
};

class FeatureReader {
 public:
  using ConstantLookup = std::function<const Tensor*(const std::string& name)>;
  using ConstantSink = std::function<void(const std::string& name, Tensor value)>;

  FeatureReader(const Graph& graph, const FeatureHints& hints, ConstantLookup constant, ConstantSink define_constant);
  ~FeatureReader();

  bool Knows(const std::string& value) const;
  // Takes `node` when it reads a feature value and is part of the feature layer; false for a node
  // reading none, or a Linear reading the row (the model's recognizer reads it). Throws
  // ConvertError naming the node for a feature value used outside the family.
  bool Visit(const Node& node);
  // `value` as the model's input row [batch, width]: returns the width. The first call fixes
  // the row; a different row later is refused naming `user`.
  uint32_t AdoptRow(const std::string& value, const Node& user);
  // The adopted row's values as the first Linear layers must read them: x * scale + shift per
  // value (a BatchNormalization on the inputs), both empty when the row is read as given.
  const std::vector<double>& RowScale() const;
  const std::vector<double>& RowShift() const;
  // After the graph: the row's features in order (candidate scope), their tables, and where each
  // feature is in the graph's inputs. Throws when no row was adopted.
  void Build(IrModel* ir, std::vector<FeatureBinding>* bindings) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple

#endif  // PLE_CONVERTER_ONNX_IMPORT_ONNX_FEATURES_H_
