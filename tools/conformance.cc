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
#include "feature_columns.h"
#include "ple/ple.hpp"
#include "load/model.h"
#include "safetensors.h"
#include "capi/c_api_internal.h"
#include "run/session.h"

namespace ple {
namespace conformance {
namespace {

using rt::LastError;
using rt::LoadedModel;
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
Comparison Compare(const std::string& name, const Tolerance& column_tolerance, const float* got, size_t got_stride,
                   const double* expected, size_t expected_stride, size_t rows, size_t columns) {
  Tolerance tolerance = column_tolerance;
  if (tolerance.atol_of_mean > 0.0 && rows * columns > 0) {
    double mean_magnitude = 0.0;
    for (size_t r = 0; r < rows; ++r) {
      for (size_t k = 0; k < columns; ++k) mean_magnitude += std::fabs(expected[r * expected_stride + k]);
    }
    mean_magnitude /= static_cast<double>(rows * columns);
    tolerance.atol = std::max(tolerance.atol, tolerance.atol_of_mean * mean_magnitude);
  }
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
      c.mean_abs_error += abs_error;
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
  if (c.values > 0) c.mean_abs_error /= static_cast<double>(c.values);
  c.mean_failed = !(c.mean_abs_error <= tolerance.mean_atol);
  return c;
}

}  // namespace

Tolerance QuantizedProbabilityTolerance(bool int8) {
  Tolerance t;
  t.rtol = 0.0;
  t.atol = int8 ? 8e-2 : 5e-3;
  t.mean_atol = int8 ? 1.25e-2 : 5e-4;
  return t;
}

Tolerance QuantizedValueTolerance(bool int8) {
  Tolerance t;
  t.rtol = int8 ? 0.15 : 5e-3;
  t.atol = 0.0;
  t.atol_of_mean = t.rtol;
  return t;
}

bool Tolerance::Accepts(double got, double expected) const {
  if (!std::isfinite(got)) return false;
  const double error = std::fabs(got - expected);
  return error <= atol || error <= rtol * std::fabs(expected);
}

bool BundleReport::passed() const {
  if (!per_row_identical) return false;
  for (const auto& c : scores) {
    if (!c.passed()) return false;
  }
  for (const auto& c : tasks) {
    if (!c.passed()) return false;
  }
  for (const auto& c : gates) {
    if (!c.passed()) return false;
  }
  return true;
}

const char* KernelPathName(ple_kernel_path path) { return ple_kernel_path_name(path); }

namespace {

std::vector<int64_t> ReadIds(const convert::SafeTensor& tensor, const std::string& name) {
  if (tensor.dtype != convert::SafeDType::kI64) throw std::runtime_error("'" + name + "' must be I64");
  std::vector<int64_t> ids(tensor.element_count());
  if (!ids.empty()) std::memcpy(ids.data(), tensor.data, ids.size() * sizeof(int64_t));
  return ids;
}

// The bundle's inputs, one column per feature and extra of `model` (docs/bundle-format.md).
std::vector<tools::FeatureColumn> ReadInputs(const ple::Model& model, const convert::SafeTensorsFile& data,
                                             const json& config, size_t n, const std::string& where) {
  std::vector<tools::FeatureColumn> columns = tools::ModelColumns(model);
  const convert::SafeTensor* inputs = data.Find("inputs");
  std::vector<float> rows;
  if (inputs != nullptr) rows = inputs->ToFloat("inputs", /*allow_non_finite=*/true);
  for (tools::FeatureColumn& c : columns) {
    if (inputs != nullptr && !c.extra) {  // dense inputs, concatenated in the config's declared order
      size_t offset = 0, row_width = 0;
      bool found = false;
      for (const auto& in : config.at("inputs")) {
        if (in.at("name") == c.name) {
          offset = row_width;
          found = true;
        }
        row_width += in.at("width").get<size_t>();
      }
      if (!found || c.kind != PLE_FEATURE_DENSE || inputs->shape != std::vector<uint64_t>{n, row_width}) {
        throw std::runtime_error(where + ": 'inputs' does not match the config's inputs");
      }
      for (size_t r = 0; r < n; ++r) {
        c.floats.insert(c.floats.end(), rows.begin() + r * row_width + offset,
                        rows.begin() + r * row_width + offset + c.width);
      }
      continue;
    }
    const std::string tensor_name = (c.extra ? "extras." : "features.") + c.name;
    const convert::SafeTensor* t = data.Find(tensor_name);
    if (t == nullptr) {
      if (c.extra) continue;  // extras are needed only by the score
      throw std::runtime_error(where + ": tensor '" + tensor_name + "' missing");
    }
    if (c.kind == PLE_FEATURE_DENSE) {
      Require(data, tensor_name, c.extra ? std::vector<uint64_t>{n} : std::vector<uint64_t>{n, c.width}, where);
      c.floats = t->ToFloat(tensor_name, /*allow_non_finite=*/true);  // the nan policy's business
    } else if (c.kind == PLE_FEATURE_SPARSE) {
      Require(data, tensor_name, {n}, where);
      c.ids = ReadIds(*t, tensor_name);
    } else {
      if (t->shape.size() != 2 || t->shape[0] != n) {
        throw std::runtime_error(where + ": '" + tensor_name + "' must be [" + std::to_string(n) + ", L]");
      }
      const size_t length = t->shape[1];
      const std::vector<int64_t> padded = ReadIds(*t, tensor_name);
      const convert::SafeTensor* lengths = data.Find(tensor_name + ".lengths");
      std::vector<int64_t> valid;
      if (lengths != nullptr) valid = ReadIds(*lengths, tensor_name + ".lengths");
      for (size_t r = 0; r < n; ++r) {
        const size_t count = lengths ? static_cast<size_t>(valid[r]) : length;
        if (count > length) throw std::runtime_error(where + ": a length exceeds the padded width");
        c.AppendSequence(padded.data() + r * length, count);
      }
    }
  }
  return columns;
}

// The candidates of a bundle: the rows of its 2-d 'expected.outputs' tensor.
size_t ExpectedCandidates(const convert::SafeTensorsFile& data, const std::string& where) {
  const convert::SafeTensor* expected = data.Find("expected.outputs");
  if (expected == nullptr || expected->shape.size() != 2) {
    throw std::runtime_error(where + ": data has no 2-d 'expected.outputs' tensor");
  }
  return expected->shape[0];
}

}  // namespace

BundleInputs ReadBundleInputs(const std::string& directory, const ple::Model& model) {
  const json manifest = ReadJson(directory + "/bundle.json");
  const std::string where = "bundle '" + directory + "'";
  const std::string config_path = directory + "/" + manifest.value("config", "config.json");
  const convert::SafeTensorsFile data =
      convert::SafeTensorsFile::Read(directory + "/" + manifest.value("data", "data.safetensors"));
  BundleInputs inputs;
  inputs.candidates = ExpectedCandidates(data, where);
  inputs.columns = ReadInputs(model, data, ReadJson(config_path), inputs.candidates, where);
  return inputs;
}

std::string WeightPrecision(const rt::LoadedModel& model) {
  std::string precision = "f32";
  for (const rt::PackedGroup& g : model.packed_groups()) {
    if (g.type == rt::WeightType::kI8) precision = "int8";
    if (g.type == rt::WeightType::kF16 && precision == "f32") precision = "f16";
  }
  for (const rt::TableSpec& table : model.tables()) {
    if (table.int8) precision = "int8";
  }
  return precision;
}

std::vector<uint8_t> ConvertBundleModel(const std::string& directory, const BundleRunOptions& options) {
  const json manifest = ReadJson(directory + "/bundle.json");
  const convert::Source source = convert::ParseSource(manifest.value("importer", "native"));
  return convert::Convert(source, directory + "/" + manifest.value("config", "config.json"),
                          directory + "/" + manifest.value("weights", "weights.safetensors"), options.import,
                          options.precision)
      .bytes;
}

namespace {

// The bundle's own tolerance (the manifest's, else Tolerance's defaults).
Tolerance BundleTolerance(const json& manifest) {
  Tolerance tolerance;
  if (manifest.contains("tolerance")) {
    tolerance.rtol = manifest["tolerance"].value("rtol", tolerance.rtol);
    tolerance.atol = manifest["tolerance"].value("atol", tolerance.atol);
  }
  return tolerance;
}

// options.model_path's bytes, or the bundle converted as options say.
std::vector<uint8_t> BundleModelBytes(const std::string& directory, const BundleRunOptions& options) {
  if (options.model_path.empty()) return ConvertBundleModel(directory, options);
  std::ifstream in(options.model_path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open model file '" + options.model_path + "'");
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// What a run is held to: float32 models to the bundle's tolerance, quantized ones to the
// quantized accuracy bar (probabilities: binary tasks and gate weights; values: the rest).
struct Bars {
  Tolerance probability, value;
};

Bars BarsFor(const std::string& precision, const Tolerance& bundle_tolerance) {
  if (precision == "f32") return {bundle_tolerance, bundle_tolerance};
  return {QuantizedProbabilityTolerance(precision == "int8"), QuantizedValueTolerance(precision == "int8")};
}

// Every candidate in one run, with the request context from row 0 (all rows of a bundle share
// it); `scores` are computed when `with_scores`.
void RunCandidates(ple::Session& session, const ple::Model& model, const std::vector<tools::FeatureColumn>& columns,
                   size_t n, bool with_scores, std::vector<float>* outputs, std::vector<float>* scores) {
  ple::Request request(model);
  const std::vector<ple_feature_values> request_values = tools::RequestValues(columns);
  request.Set(request_values.data(), request_values.size());
  const std::vector<ple_feature_values> candidates = tools::CandidateValues(columns, 0, n);
  ple::Check(ple_session_run_features(session.get(), request.get(), candidates.data(), candidates.size(), n,
                                      outputs->data(), outputs->size(), with_scores ? scores->data() : nullptr,
                                      with_scores ? scores->size() : 0));
}

// Gate intermediates: the native converter writes task gates to streams 0..T-1 and the
// shared gate to stream T, which names them as the bundle does. A gate the bundle has but the
// plan pruned is listed as not computed.
void CompareGates(const convert::SafeTensorsFile& data, const rt::Session& internal, size_t n, size_t tasks,
                  const Tolerance& tolerance, const std::string& where, BundleReport* report) {
  const rt::LoadedModel& internal_model = internal.model();
  for (const auto& entry : data.tensors()) {
    const std::string& name = entry.first;
    if (name.rfind("expected.levels.", 0) != 0) continue;
    const std::string gate_name = name.substr(std::string("expected.").size());
    const rt::Session::GateRecord* record = nullptr;
    for (const auto& r : internal.gate_records()) {
      const uint32_t stream = internal_model.levels()[r.level].gates[r.gate].output_stream;
      const std::string record_name = "levels." + std::to_string(r.level) +
                                      (stream == tasks ? ".shared_gate" : ".task_gates." + std::to_string(stream));
      if (record_name == gate_name) record = &r;
    }
    if (record == nullptr) {
      report->gates_not_computed.push_back(gate_name);
      continue;
    }
    const std::vector<double> gate_expected = ReadDoubles(Require(data, name, {n, record->width}, where), name);
    report->gates.push_back(Compare(gate_name, tolerance, record->weights.data(), record->width,
                                    gate_expected.data(), record->width, n, record->width));
  }
}

// Dense-only models: the same rows with each row carrying its request values must give the
// same bits as `outputs` (the request part is computed per row instead of once per request).
void CheckPerRow(ple::Session& session, const ple::Model& model, const std::vector<tools::FeatureColumn>& columns,
                 size_t n, const std::vector<float>& outputs, BundleReport* report) {
  for (const auto& f : model.features()) {
    if (f.kind != PLE_FEATURE_DENSE) return;
  }
  const size_t row_width = model.row_width();
  std::vector<float> rows(n * row_width);
  for (size_t r = 0; r < n; ++r) {
    size_t offset = 0;
    for (const tools::FeatureColumn& c : columns) {  // features in the model's order, then extras
      if (c.extra) continue;
      const size_t source_row = c.request ? 0 : r;
      std::copy(c.floats.begin() + source_row * c.width, c.floats.begin() + (source_row + 1) * c.width,
                rows.begin() + r * row_width + offset);
      offset += c.width;
    }
  }
  std::vector<float> per_row(n * model.tasks().size());
  session.Run(rows.data(), n, per_row.data());
  report->per_row_checked = true;
  report->per_row_identical = std::memcmp(per_row.data(), outputs.data(), outputs.size() * sizeof(float)) == 0;
}

}  // namespace

BundleReport RunBundle(const std::string& directory, ple_kernel_path kernel_path, const BundleRunOptions& options) {
  const json manifest = ReadJson(directory + "/bundle.json");
  const std::string where = "bundle '" + directory + "'";
  if (manifest.value("format_version", 0) != 1) throw std::runtime_error(where + ": format_version 1 expected");
  const Tolerance tolerance = BundleTolerance(manifest);
  const std::string config_path = directory + "/" + manifest.value("config", "config.json");
  const std::string data_path = directory + "/" + manifest.value("data", "data.safetensors");
  const std::vector<uint8_t> model_bytes = BundleModelBytes(directory, options);

  // Through the public API, as an app would; the session is reached inside only to record gates.
  ple::Model model = ple::Model::OpenBuffer(model_bytes.data(), model_bytes.size());
  const convert::SafeTensorsFile data = convert::SafeTensorsFile::Read(data_path);
  const size_t n = ExpectedCandidates(data, where);
  const size_t tasks = model.tasks().size();
  const std::vector<double> expected =
      ReadDoubles(Require(data, "expected.outputs", {n, tasks}, where), "expected.outputs");
  const std::vector<tools::FeatureColumn> columns = ReadInputs(model, data, ReadJson(config_path), n, where);

  ple::SessionOptions session_options;
  session_options.max_batch = static_cast<uint32_t>(std::max<size_t>(n, 1));
  session_options.kernel_path = kernel_path;
  session_options.num_threads = options.num_threads;
  ple::Session session(model, session_options);
  rt::Session& internal = *rt::InternalSession(session.get());
  const std::string precision = WeightPrecision(internal.model());
  const Bars bars = BarsFor(precision, tolerance);
  const rt::Status recording = internal.EnableGateRecording();
  if (!recording.ok()) throw std::runtime_error(recording.message());

  const bool with_scores = data.Find("expected.scores") != nullptr;
  std::vector<float> outputs(n * tasks), scores(n);
  RunCandidates(session, model, columns, n, with_scores, &outputs, &scores);

  BundleReport report;
  report.bundle = manifest.value("name", directory);
  report.kernel_path = KernelPathName(internal.kernel_path());
  report.precision = precision;
  report.candidates = n;
  for (size_t t = 0; t < tasks; ++t) {
    const bool binary = model.tasks()[t].type == PLE_TASK_BINARY;
    report.tasks.push_back(Compare("task " + model.tasks()[t].name, binary ? bars.probability : bars.value,
                                   outputs.data() + t, tasks, expected.data() + t, tasks, n, 1));
  }
  if (with_scores) {
    const std::vector<double> expected_scores =
        ReadDoubles(Require(data, "expected.scores", {n}, where), "expected.scores");
    report.scores.push_back(Compare("score", bars.value, scores.data(), 1, expected_scores.data(), 1, n, 1));
  }
  CompareGates(data, internal, n, tasks, bars.probability, where, &report);
  CheckPerRow(session, model, columns, n, outputs, &report);
  for (const auto& r : internal.gate_records()) {
    report.gate_values.insert(report.gate_values.end(), r.weights.begin(), r.weights.begin() + n * r.width);
  }
  report.output_values = std::move(outputs);
  if (with_scores) report.score_values = std::move(scores);
  return report;
}

std::string FormatReport(const BundleReport& report) {
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof(line), "%s [%s, %s] %zu candidates: %s\n", report.bundle.c_str(),
                report.kernel_path.c_str(), report.precision.c_str(), report.candidates,
                report.passed() ? "PASS" : "FAIL");
  out << line;
  auto print = [&](const Comparison& c) {
    std::snprintf(line, sizeof(line), "  %-28s max_abs %.3e  mean_abs %.3e  max_rel %.3e  tolerance used %5.1f%%  %s",
                  c.name.c_str(), c.max_abs_error, c.mean_abs_error, c.max_rel_error, 100.0 * c.tolerance_used,
                  c.passed() ? "ok" : "FAIL");
    out << line;
    if (c.mean_failed) out << " (mean above the bar)";
    if (!c.passed()) out << " (" << c.failures << " of " << c.values << " values, worst at " << c.worst_index << ")";
    out << "\n";
  };
  for (const auto& c : report.tasks) print(c);
  for (const auto& c : report.scores) print(c);
  for (const auto& c : report.gates) print(c);
  if (report.per_row_checked) {
    out << "  per-row request values vs request context: "
        << (report.per_row_identical ? "bit-identical" : "DIFFER (FAIL)") << "\n";
  }
  for (const auto& name : report.gates_not_computed) {
    out << "  " << name << ": not computed (no task output depends on it)\n";
  }
  return out.str();
}

}  // namespace conformance
}  // namespace ple
