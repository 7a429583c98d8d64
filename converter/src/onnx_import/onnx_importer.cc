#include "onnx_import/onnx_importer.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "convert_error.h"
#include "json_reader.h"
#include "model_config.h"
#include "model_writer.h"
#include "native_importer.h"
#include "onnx_import/onnx_eval.h"
#include "onnx_import/onnx_feed.h"
#include "ple/ple.hpp"

namespace ple {
namespace convert {
namespace onnx_import {
namespace {

using nlohmann::json;

[[noreturn]] void Bad(const std::string& path, const std::string& what) {
  throw ConvertError("sidecar '" + path + "': " + what);
}

// The keys the recognizer needs: task names, sequence lengths, column names.
void ReadRecognizeKeys(const json& sidecar, const std::string& path, RecognizeOptions* options) {
  for (const auto& [key, value] : sidecar.items()) {
    if (key == "tasks") {
      if (!value.is_array()) Bad(path, "tasks: a list of task names in graph output order expected");
      for (const auto& name : value) {
        if (!name.is_string()) Bad(path, "tasks must be names (strings)");
        options->task_names.push_back(name.get<std::string>());
      }
    } else if (key == "features") {
      if (!value.is_object()) Bad(path, "features: an object {feature name: {scope, max_length, oov}} expected");
      for (const auto& [name, f] : value.items()) {
        if (!f.is_object()) Bad(path, "features." + name + ": an object expected");
        for (const auto& [k, v] : f.items()) {
          if (k != "scope" && k != "max_length" && k != "oov") {
            Bad(path, "features." + name + ": key '" + k + "' is not known (scope, max_length, oov)");
          }
        }
        if (f.contains("max_length")) {
          if (!f["max_length"].is_number_unsigned() || f["max_length"].get<uint64_t>() == 0 ||
              f["max_length"].get<uint64_t>() > 100000) {
            Bad(path, "features." + name + ".max_length: a count from 1 to 100000 expected");
          }
          options->features.max_length[name] = f["max_length"].get<uint32_t>();
        }
      }
    } else if (key == "columns") {
      if (!value.is_object()) Bad(path, "columns: an object {input: {feature name: [begin, end]}} expected");
      for (const auto& [input, names] : value.items()) {
        if (!names.is_object()) Bad(path, "columns." + input + ": an object {feature name: [begin, end]} expected");
        for (const auto& [name, range] : names.items()) {
          if (!range.is_array() || range.size() != 2 || !range[0].is_number_unsigned() || !range[1].is_number_unsigned() ||
              range[0].get<int64_t>() >= range[1].get<int64_t>()) {
            Bad(path, "columns." + input + "." + name + ": [begin, end] with begin < end expected");
          }
          options->features.columns[input][name] = {range[0].get<int64_t>(), range[1].get<int64_t>()};
        }
      }
    } else if (key != "name" && key != "description" && key != "extras" && key != "score") {
      Bad(path, "key '" + key + "' is not known (name, description, tasks, features, columns, extras, score)");
    }
  }
}

// Scopes and OOV policies onto the recognized features; then the keys shared with the native
// config (name, description, extras, score).
void ApplySidecar(const json& sidecar, const std::string& path, IrModel* ir) {
  if (sidecar.contains("features")) {
    for (const auto& [name, f] : sidecar["features"].items()) {
      FeatureConfig* feature = nullptr;
      std::string known;
      for (FeatureConfig& candidate : ir->features) {
        if (candidate.name == name) feature = &candidate;
        known += (known.empty() ? "" : ", ") + candidate.name;
      }
      if (feature == nullptr) Bad(path, "features." + name + ": the graph has no such feature (it has: " + known + ")");
      if (f.contains("scope")) {
        if (f["scope"] == "request") {
          feature->scope = fb::Scope::Request;
        } else if (f["scope"] != "candidate") {
          Bad(path, "features." + name + ".scope: \"request\" or \"candidate\" expected");
        }
      }
      if (f.contains("oov")) {
        if (feature->kind == fb::FeatureKind::Dense) Bad(path, "features." + name + ".oov: a dense feature has no ids");
        ParseOov(f["oov"], "features." + name + ".oov", ir->tables.at(feature->table).config.vocabulary, feature);
      }
      if (f.contains("max_length") && feature->kind != fb::FeatureKind::Sequence) {
        Bad(path, "features." + name + ".max_length: '" + name + "' is not a sequence");
      }
    }
  }
  ModelConfig view;
  view.name = ir->name;
  view.source_framework = ir->source_framework;
  view.features = ir->features;
  view.tasks = ir->tasks;
  ParseSharedKeys(sidecar, &view);
  ValidateScore(view, "sidecar '" + path + "': score");
  ir->name = view.name;
  ir->description = view.description;
  ir->extras = view.extras;
  ir->score = view.score;
}

// The user's check data: {"inputs": {name: {"shape", "values"}}, "outputs": {...}} (outputs
// optional: what ONNX Runtime gave), every graph input given.
struct CheckData {
  std::map<std::string, Tensor> inputs, outputs;
};

std::map<std::string, Tensor> ReadTensors(const json& tensors, const std::string& where, const Graph& graph, bool inputs) {
  std::map<std::string, Tensor> result;
  if (!tensors.is_object()) throw ConvertError(where + ": an object {name: {\"shape\": [...], \"values\": [...]}} expected");
  for (const auto& [name, t] : tensors.items()) {
    Tensor tensor;
    size_t size = 1;
    try {
      for (const auto& d : t.at("shape")) tensor.shape.push_back(d.get<int64_t>()), size *= d.get<size_t>();
      for (const auto& v : t.at("values")) tensor.values.push_back(v.get<double>());
    } catch (const json::exception&) {
      throw ConvertError(where + "." + name + ": a shape and numeric values expected");
    }
    if (tensor.shape.empty() || tensor.values.size() != size) {
      throw ConvertError(where + "." + name + ": " + std::to_string(tensor.values.size()) + " values for its shape");
    }
    result[name] = tensor;
  }
  for (const ValueInfo& input : inputs ? graph.inputs : std::vector<ValueInfo>{}) {
    if (!result.count(input.name)) throw ConvertError(where + ": graph input '" + input.name + "' is missing");
    result[input.name].integer = input.elem_type != 1 && input.elem_type != 10 && input.elem_type != 11;
  }
  return result;
}

CheckData ReadCheckData(const std::string& path, const Graph& graph) {
  const json data = ReadJsonFile(path, "check data");
  if (!data.is_object() || !data.contains("inputs")) {
    throw ConvertError("check data '" + path + "': {\"inputs\": {...}, \"outputs\": {...}} expected");
  }
  CheckData check;
  check.inputs = ReadTensors(data["inputs"], "check data '" + path + "': inputs", graph, true);
  if (data.contains("outputs")) check.outputs = ReadTensors(data["outputs"], "check data '" + path + "': outputs", graph, false);
  return check;
}

// The largest difference of `got` from `want` ([rows, tasks]); beyond tolerance throws
// "<prefix>: task ..., <what>, row r: got against want ...<advice>".
double Compare(const std::vector<float>& got, const std::vector<double>& want, const IrModel& ir,
               const OnnxImportOptions& options, const std::string& prefix, const std::string& what,
               const std::string& advice) {
  const size_t tasks = ir.tasks.size();
  double largest = 0.0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double z = want[i], y = got.at(i);
    largest = std::max(largest, std::fabs(y - z));
    if (!(std::fabs(y - z) <= options.atol + options.rtol * std::fabs(z))) {
      std::ostringstream text;
      text.precision(9);
      text << prefix << ": task '" << ir.tasks[i % tasks].name << "', " << what << ", row " << i / tasks << ": " << y
           << " against " << z << ", beyond " << options.atol << " + " << options.rtol << " x |value|. " << advice;
      throw ConvertError(text.str());
    }
  }
  return largest;
}

// The converted float32 model, serialized and opened once, run on graph inputs on the
// reference path.
class ConvertedModelRunner {
 public:
  explicit ConvertedModelRunner(const RecognizedModel& model) : recognized_(model), model_(Open(model)) {}

  std::vector<float> Run(const std::map<std::string, Tensor>& inputs, const std::string& what) {
    try {
      return RunOnGraphInputs(model_, recognized_, inputs, PLE_KERNELS_REFERENCE);
    } catch (const ple::Error& e) {
      throw ConvertError("self-check: the converted model refuses " + what + ": " + e.what());
    }
  }

 private:
  static ple::Model Open(const RecognizedModel& model) {
    const std::vector<uint8_t> bytes = SerializeModel(model.ir, "ple-convert self-check");
    return ple::Model::OpenBufferCopy(bytes.data(), bytes.size());
  }

  const RecognizedModel& recognized_;
  ple::Model model_;
};

size_t Rows(const std::map<std::string, Tensor>& inputs) {
  return inputs.empty() || inputs.begin()->second.shape.empty() ? 0 : static_cast<size_t>(inputs.begin()->second.shape[0]);
}

}  // namespace

namespace {

// The task values the graph gives on `inputs` (float64, node by node).
std::vector<double> GraphTaskValues(const Graph& graph, const RecognizedModel& model,
                                    const std::map<std::string, Tensor>& inputs, const std::string& what) {
  std::map<std::string, Tensor> outputs;
  try {
    outputs = Evaluate(graph, inputs);
  } catch (const ConvertError& e) {
    throw ConvertError("self-check: the ONNX graph cannot be evaluated on " + what + ": " + e.what());
  }
  return TaskValues(model, outputs, Rows(inputs));
}

double CompareWithGraph(const std::vector<float>& got, const std::vector<double>& want, const IrModel& ir,
                        const OnnxImportOptions& options, const std::string& what) {
  return Compare(got, want, ir, options,
                 "self-check: the converted model differs from the ONNX graph evaluated node by node (float64)", what,
                 "The graph was misread; the file is not written (please report it with the model)");
}

}  // namespace

double SelfCheck(const Graph& graph, const RecognizedModel& model, const std::map<std::string, Tensor>& inputs,
                 const OnnxImportOptions& options, const std::string& what) {
  const std::vector<double> want = GraphTaskValues(graph, model, inputs, what);
  ConvertedModelRunner converted(model);
  return CompareWithGraph(converted.Run(inputs, what), want, model.ir, options, what);
}

RecognizedModel ImportOnnx(const std::string& onnx_path, const std::string& sidecar_path, OnnxImportOptions options) {
  const Graph graph = ReadOnnxGraph(onnx_path);
  json sidecar = json::object();
  if (!sidecar_path.empty()) {
    sidecar = ReadJsonFile(sidecar_path, "sidecar");
    if (!sidecar.is_object()) Bad(sidecar_path, "not a JSON object");
    ReadRecognizeKeys(sidecar, sidecar_path, &options.recognize);
  }
  RecognizedModel model = RecognizeOnnx(graph, options.recognize);
  ApplySidecar(sidecar, sidecar_path, &model.ir);
  ReorderRequestFirst(&model.ir);
  const auto random = RandomGraphInputs(graph, model, options.recognize.features, options.check_rows,
                                        options.check_requests, options.seed);
  const std::vector<double> random_values = GraphTaskValues(graph, model, random, "random candidates");
  ConvertedModelRunner converted(model);
  std::ostringstream note;
  note.precision(2);
  note << "self-check: " << options.check_rows << " random candidates in " << options.check_requests
       << " requests, largest difference "
       << CompareWithGraph(converted.Run(random, "random candidates"), random_values, model.ir, options,
                           "random candidates");
  if (!options.check_data_path.empty()) {
    const CheckData data = ReadCheckData(options.check_data_path, graph);
    const std::string what = "the inputs of '" + options.check_data_path + "'";
    const std::vector<double> graph_values = GraphTaskValues(graph, model, data.inputs, what);
    const std::vector<float> got = converted.Run(data.inputs, what);
    note << "; " << Rows(data.inputs) << " rows of " << options.check_data_path << ", largest difference "
         << CompareWithGraph(got, graph_values, model.ir, options, what);
    if (!data.outputs.empty()) {
      const std::vector<double> want = TaskValues(model, data.outputs, Rows(data.inputs));
      note << ", and " << Compare(got, want, model.ir, options,
                                  "check data: the converted model differs from the outputs given in '" +
                                      options.check_data_path + "'",
                                  what, "The file is not written")
           << " from the outputs given there";
    }
  }
  note << " (the converted float32 model against the graph evaluated node by node in float64; bar " << options.atol
       << " + " << options.rtol << " x |value|)";
  model.notes.push_back(note.str());
  return model;
}

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple
