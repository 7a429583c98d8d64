#include "onnx_import/onnx_importer.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "convert_error.h"
#include "json_reader.h"
#include "model_writer.h"
#include "onnx_import/onnx_eval.h"
#include "ple/ple.hpp"

namespace ple {
namespace convert {
namespace onnx_import {
namespace {

// The sidecar's keys; any other key is refused by name.
void ReadSidecar(const std::string& path, IrModel* ir, OnnxImportOptions* options) {
  const nlohmann::json sidecar = ReadJsonFile(path, "sidecar");
  if (!sidecar.is_object()) throw ConvertError("sidecar '" + path + "': not a JSON object");
  for (const auto& [key, value] : sidecar.items()) {
    if (key == "name" && value.is_string()) {
      ir->name = value.get<std::string>();
    } else if (key == "tasks" && value.is_array()) {
      for (const auto& name : value) {
        if (!name.is_string()) throw ConvertError("sidecar '" + path + "': tasks must be names (strings)");
        options->recognize.task_names.push_back(name.get<std::string>());
      }
    } else {
      throw ConvertError("sidecar '" + path + "': key '" + key + "' is not known or has the wrong type (name: a "
                         "string, tasks: task names in graph output order)");
    }
  }
}

}  // namespace

void SelfCheck(const Graph& graph, const IrModel& ir, const OnnxImportOptions& options) {
  const uint32_t width = ir.row_width();
  std::mt19937 rng(options.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Tensor x;
  x.shape = {static_cast<int64_t>(options.check_rows), static_cast<int64_t>(width)};
  std::vector<float> rows(options.check_rows * width);
  for (float& v : rows) v = static_cast<float>(normal(rng));
  x.values.assign(rows.begin(), rows.end());  // the same float32 values on both sides
  const auto graph_outputs = Evaluate(graph, {{graph.inputs.at(0).name, x}});

  const std::vector<uint8_t> bytes = SerializeModel(ir, "ple-convert self-check");
  ple::Model model = ple::Model::OpenBufferCopy(bytes.data(), bytes.size());
  ple::SessionOptions session_options;
  session_options.kernel_path = PLE_KERNELS_REFERENCE;
  session_options.max_batch = static_cast<uint32_t>(options.check_rows);
  ple::Session session(model, session_options);
  const std::vector<float> converted = session.Run(rows);
  const size_t tasks = ir.tasks.size();
  for (size_t t = 0; t < tasks; ++t) {
    const Tensor& want = graph_outputs.at(graph.outputs[t].name);
    for (size_t r = 0; r < options.check_rows; ++r) {
      const double z = want.values.at(r), y = converted[r * tasks + t];
      if (!(std::fabs(y - z) <= options.atol + options.rtol * std::fabs(z))) {
        std::ostringstream text;
        text.precision(9);
        text << "self-check: the converted model differs from the ONNX graph evaluated node by node: task '"
             << ir.tasks[t].name << "', random candidate " << r << ": " << y << " against " << z
             << " (float64), beyond " << options.atol << " + " << options.rtol
             << " x |value|. The graph was misread; the file is not written (please report it with the model)";
        throw ConvertError(text.str());
      }
    }
  }
}

IrModel ImportOnnx(const std::string& onnx_path, const std::string& sidecar_path, OnnxImportOptions options) {
  const Graph graph = ReadOnnxGraph(onnx_path);
  IrModel named;
  if (!sidecar_path.empty()) ReadSidecar(sidecar_path, &named, &options);
  if (!options.recognize.task_names.empty() && options.recognize.task_names.size() != graph.outputs.size()) {
    throw ConvertError("the sidecar names " + std::to_string(options.recognize.task_names.size()) +
                       " tasks, the graph has " + std::to_string(graph.outputs.size()) + " outputs");
  }
  IrModel ir = RecognizeOnnx(graph, options.recognize);
  if (!named.name.empty()) ir.name = named.name;
  SelfCheck(graph, ir, options);
  return ir;
}

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple
