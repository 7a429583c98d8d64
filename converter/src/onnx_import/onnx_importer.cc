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

// {"input": {"shape": [...], "values": [...]}, ...}: the user's inputs for the self-check.
std::map<std::string, Tensor> ReadInputs(const std::string& path, const Graph& graph) {
  const json inputs = ReadJsonFile(path, "check inputs");
  std::map<std::string, Tensor> tensors;
  for (const ValueInfo& input : graph.inputs) {
    if (!inputs.contains(input.name)) throw ConvertError("check inputs '" + path + "': graph input '" + input.name + "' is missing");
    const json& t = inputs[input.name];
    Tensor tensor;
    tensor.integer = input.elem_type != 1 && input.elem_type != 10 && input.elem_type != 11;
    size_t size = 1;
    try {
      for (const auto& d : t.at("shape")) tensor.shape.push_back(d.get<int64_t>()), size *= d.get<size_t>();
      for (const auto& v : t.at("values")) tensor.values.push_back(v.get<double>());
    } catch (const json::exception&) {
      throw ConvertError("check inputs '" + path + "': '" + input.name + "' needs a shape and numeric values");
    }
    if (tensor.shape.empty() || tensor.values.size() != size) {
      throw ConvertError("check inputs '" + path + "': '" + input.name + "' has " + std::to_string(tensor.values.size()) +
                         " values for its shape");
    }
    tensors[input.name] = tensor;
  }
  return tensors;
}

}  // namespace

double SelfCheck(const Graph& graph, const RecognizedModel& model, const std::map<std::string, Tensor>& inputs,
                 const OnnxImportOptions& options, const std::string& what) {
  const size_t rows = inputs.empty() || inputs.begin()->second.shape.empty() ? 0 : inputs.begin()->second.shape[0];
  const std::vector<double> want = TaskValues(model, Evaluate(graph, inputs), rows);
  const std::vector<uint8_t> bytes = SerializeModel(model.ir, "ple-convert self-check");
  ple::Model converted = ple::Model::OpenBufferCopy(bytes.data(), bytes.size());
  std::vector<float> got;
  try {
    got = RunOnGraphInputs(converted, model, inputs, PLE_KERNELS_REFERENCE);
  } catch (const ple::Error& e) {
    throw ConvertError("self-check: the converted model refuses " + what + ": " + e.what());
  }
  const size_t tasks = model.ir.tasks.size();
  double largest = 0.0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double z = want[i], y = got.at(i);
    largest = std::max(largest, std::fabs(y - z));
    if (!(std::fabs(y - z) <= options.atol + options.rtol * std::fabs(z))) {
      std::ostringstream text;
      text.precision(9);
      text << "self-check: the converted model differs from the ONNX graph evaluated node by node: task '"
           << model.ir.tasks[i % tasks].name << "', " << what << ", row " << i / tasks << ": " << y << " against " << z
           << " (float64), beyond " << options.atol << " + " << options.rtol
           << " x |value|. The graph was misread; the file is not written (please report it with the model)";
      throw ConvertError(text.str());
    }
  }
  return largest;
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
  std::ostringstream note;
  note.precision(2);
  note << "self-check: " << options.check_rows << " random candidates in " << options.check_requests
       << " requests, largest difference " << SelfCheck(graph, model, random, options, "random candidates");
  if (!options.check_inputs_path.empty()) {
    const auto given = ReadInputs(options.check_inputs_path, graph);
    note << "; " << given.begin()->second.shape.at(0) << " rows of " << options.check_inputs_path << ", largest difference "
         << SelfCheck(graph, model, given, options, "the inputs of '" + options.check_inputs_path + "'");
  }
  note << " (the graph evaluated node by node in float64 against the converted float32 model; bar " << options.atol
       << " + " << options.rtol << " x |value|)";
  model.notes.push_back(note.str());
  return model;
}

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple
