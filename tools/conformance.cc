#include "conformance.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "converter.h"
#include "model.h"
#include "safetensors.h"
#include "session.h"

namespace ple {
namespace conformance {
namespace {

using rt::LastError;
using rt::Model;
using rt::ModelBytes;
using rt::Session;
using rt::SessionConfig;
using rt::Status;

using nlohmann::json;

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open '" + path + "'");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw std::runtime_error("'" + path + "' is not valid JSON: " + e.what());
  }
}

std::vector<double> ReadDoubles(const convert::SafeTensor& tensor, const std::string& name) {
  std::vector<double> values(tensor.element_count());
  if (tensor.dtype == convert::SafeDType::kF64) {
    std::memcpy(values.data(), tensor.data, tensor.size_bytes);
  } else {
    const std::vector<float> floats = tensor.ToFloat(name);
    values.assign(floats.begin(), floats.end());
  }
  return values;
}

const convert::SafeTensor& Require(const convert::SafeTensorsFile& data, const std::string& name,
                                   const std::vector<uint64_t>& shape, const std::string& where) {
  const convert::SafeTensor* tensor = data.Find(name);
  if (tensor == nullptr) throw std::runtime_error(where + ": tensor '" + name + "' missing");
  if (tensor->shape != shape) {
    std::string expected = "[";
    for (size_t i = 0; i < shape.size(); ++i) expected += (i ? ", " : "") + std::to_string(shape[i]);
    throw std::runtime_error(where + ": tensor '" + name + "' has shape " + tensor->shape_string() + ", expected " +
                             expected + "]");
  }
  return *tensor;
}

// Compares got[i * stride + offset] with expected[i * width + column] for a block of values.
Comparison Compare(const std::string& name, const Tolerance& tolerance, const float* got, size_t got_stride,
                   const double* expected, size_t expected_stride, size_t rows, size_t columns) {
  Comparison c;
  c.name = name;
  double worst = -1.0;
  for (size_t r = 0; r < rows; ++r) {
    for (size_t k = 0; k < columns; ++k) {
      const double g = got[r * got_stride + k];
      const double e = expected[r * expected_stride + k];
      const double abs_error = std::isfinite(g) ? std::fabs(g - e) : INFINITY;
      const double rel_error = e != 0.0 ? abs_error / std::fabs(e) : abs_error;
      c.max_abs_error = std::max(c.max_abs_error, abs_error);
      c.max_rel_error = std::max(c.max_rel_error, rel_error);
      c.tolerance_used =
          std::max(c.tolerance_used, abs_error / std::max(tolerance.atol, tolerance.rtol * std::fabs(e)));
      const bool ok = tolerance.Accepts(g, e);
      c.failures += ok ? 0 : 1;
      const double badness = ok ? abs_error : abs_error + 1e300;
      if (badness > worst) {
        worst = badness;
        c.worst_index = r * columns + k;
      }
      ++c.values;
    }
  }
  return c;
}

}  // namespace

bool Tolerance::Accepts(double got, double expected) const {
  if (!std::isfinite(got)) return false;
  const double error = std::fabs(got - expected);
  return error <= atol || error <= rtol * std::fabs(expected);
}

bool BundleReport::passed() const {
  for (const auto& c : tasks) {
    if (!c.passed()) return false;
  }
  for (const auto& c : gates) {
    if (!c.passed()) return false;
  }
  return true;
}

const char* KernelPathName(ple_kernel_path path) {
  switch (path) {
    case PLE_KERNELS_AUTO: return "auto";
    case PLE_KERNELS_REFERENCE: return "reference";
    case PLE_KERNELS_XNNPACK: return "xnnpack";
  }
  return "unknown";
}

BundleReport RunBundle(const std::string& directory, ple_kernel_path kernel_path,
                       const convert::ImportOptions& options) {
  const json manifest = ReadJson(directory + "/bundle.json");
  const std::string where = "bundle '" + directory + "'";
  if (manifest.value("format_version", 0) != 1) throw std::runtime_error(where + ": format_version 1 expected");
  Tolerance tolerance;
  if (manifest.contains("tolerance")) {
    tolerance.rtol = manifest["tolerance"].value("rtol", tolerance.rtol);
    tolerance.atol = manifest["tolerance"].value("atol", tolerance.atol);
  }
  const std::string config_path = directory + "/" + manifest.value("config", "config.json");
  const std::string weights_path = directory + "/" + manifest.value("weights", "weights.safetensors");
  const std::string data_path = directory + "/" + manifest.value("data", "data.safetensors");

  const convert::ConvertedModel converted = convert::ConvertNative(config_path, weights_path, options);
  std::unique_ptr<ModelBytes> bytes;
  Status status = ModelBytes::FromBuffer(converted.bytes.data(), converted.bytes.size(), &bytes);
  std::shared_ptr<const Model> model;
  if (status.ok()) status = Model::Load(std::move(bytes), &model);
  if (!status.ok()) throw std::runtime_error(where + ": the converted model does not load: " + status.message());

  const convert::SafeTensorsFile data = convert::SafeTensorsFile::Read(data_path);
  const convert::SafeTensor* inputs_tensor = data.Find("inputs");
  if (inputs_tensor == nullptr || inputs_tensor->shape.size() != 2) {
    throw std::runtime_error(where + ": data has no 2-d 'inputs' tensor");
  }
  const size_t n = inputs_tensor->shape[0];
  const size_t tasks = model->tasks().size();
  Require(data, "inputs", {n, model->row_width()}, where);
  const std::vector<float> inputs = inputs_tensor->ToFloat("inputs");
  const std::vector<double> expected =
      ReadDoubles(Require(data, "expected.outputs", {n, tasks}, where), "expected.outputs");

  SessionConfig config;
  config.max_batch = static_cast<uint32_t>(std::max<size_t>(n, 1));
  config.kernel_path = kernel_path;
  std::unique_ptr<Session> session;
  status = Session::Create(model, config, &session);
  if (!status.ok()) throw std::runtime_error(where + ": " + status.message());
  session->EnableGateRecording();
  std::vector<float> outputs(n * tasks);
  if (session->Run(inputs.data(), n, outputs.data()) != PLE_OK) {
    throw std::runtime_error(where + ": run failed: " + LastError());
  }

  BundleReport report;
  report.bundle = manifest.value("name", directory);
  report.kernel_path = KernelPathName(session->kernel_path());
  report.candidates = n;
  for (size_t t = 0; t < tasks; ++t) {
    report.tasks.push_back(Compare("task " + model->tasks()[t].name, tolerance, outputs.data() + t, tasks,
                                   expected.data() + t, tasks, n, 1));
  }
  // Gate intermediates: the native converter writes task gates to streams 0..T-1 and the
  // shared gate to stream T, which names them as the bundle does.
  for (const auto& entry : data.tensors()) {
    const std::string& name = entry.first;
    if (name.rfind("expected.levels.", 0) != 0) continue;
    const std::string gate_name = name.substr(std::string("expected.").size());
    const Session::GateRecord* record = nullptr;
    for (const auto& r : session->gate_records()) {
      const uint32_t stream = model->levels()[r.level].gates[r.gate].output_stream;
      const std::string record_name = "levels." + std::to_string(r.level) +
                                      (stream == tasks ? ".shared_gate" : ".task_gates." + std::to_string(stream));
      if (record_name == gate_name) record = &r;
    }
    if (record == nullptr) {
      report.gates_not_computed.push_back(gate_name);
      continue;
    }
    const std::vector<double> gate_expected = ReadDoubles(Require(data, name, {n, record->width}, where), name);
    report.gates.push_back(Compare(gate_name, tolerance, record->weights.data(), record->width, gate_expected.data(),
                                   record->width, n, record->width));
  }
  return report;
}

std::string FormatReport(const BundleReport& report) {
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof(line), "%s [%s] %zu candidates: %s\n", report.bundle.c_str(), report.kernel_path.c_str(),
                report.candidates, report.passed() ? "PASS" : "FAIL");
  out << line;
  auto print = [&](const Comparison& c) {
    std::snprintf(line, sizeof(line), "  %-28s max_abs %.3e  max_rel %.3e  tolerance used %5.1f%%  %s", c.name.c_str(),
                  c.max_abs_error, c.max_rel_error, 100.0 * c.tolerance_used, c.passed() ? "ok" : "FAIL");
    out << line;
    if (!c.passed()) out << " (" << c.failures << " of " << c.values << " values, worst at " << c.worst_index << ")";
    out << "\n";
  };
  for (const auto& c : report.tasks) print(c);
  for (const auto& c : report.gates) print(c);
  for (const auto& name : report.gates_not_computed) {
    out << "  " << name << ": not computed (no task output depends on it)\n";
  }
  return out.str();
}

}  // namespace conformance
}  // namespace ple
