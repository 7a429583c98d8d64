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
#include "c_api_internal.h"
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

const char* KernelPathName(ple_kernel_path path) {
  switch (path) {
    case PLE_KERNELS_AUTO: return "auto";
    case PLE_KERNELS_REFERENCE: return "reference";
    case PLE_KERNELS_XNNPACK: return "xnnpack";
  }
  return "unknown";
}

namespace {

// One feature's (or extra's) values for the whole bundle, owned here.
struct OwnedValues {
  std::string name;
  ple_feature_kind kind = PLE_FEATURE_DENSE;
  bool request = false;
  size_t width = 0;                  // dense: floats per row
  std::vector<float> floats;         // dense / extra: N x width
  std::vector<int64_t> ids;          // sparse: N; sequence: the ids of every row
  std::vector<uint32_t> lengths;     // sequence: per row
  std::vector<size_t> first_id;      // sequence: index of row r's first id

  // Rows [first, first + count) as C values (pointers into this object).
  ple_feature_values Rows(size_t first, size_t count) const {
    ple_feature_values v{name.c_str(), nullptr, 0, nullptr, 0, nullptr};
    if (kind == PLE_FEATURE_DENSE) {
      v.values = floats.data() + first * width;
      v.num_values = count * width;
    } else if (kind == PLE_FEATURE_SPARSE) {
      v.ids = ids.data() + first;
      v.num_ids = count;
    } else {
      v.ids = ids.data() + first_id[first];
      v.lengths = lengths.data() + first;
      size_t total = 0;
      for (size_t r = first; r < first + count; ++r) total += lengths[r];
      v.num_ids = total;
    }
    return v;
  }
};

std::vector<int64_t> ReadIds(const convert::SafeTensor& tensor, const std::string& name) {
  if (tensor.dtype != convert::SafeDType::kI64) throw std::runtime_error("'" + name + "' must be I64");
  std::vector<int64_t> ids(tensor.element_count());
  if (!ids.empty()) std::memcpy(ids.data(), tensor.data, ids.size() * sizeof(int64_t));
  return ids;
}

// The bundle's inputs for every feature and extra of `model`.
std::vector<OwnedValues> ReadInputs(const ple_model* model, const convert::SafeTensorsFile& data, const json& config,
                                    size_t n, const std::string& where) {
  std::vector<OwnedValues> values;
  const convert::SafeTensor* inputs = data.Find("inputs");
  std::vector<float> rows;
  if (inputs != nullptr) rows = inputs->ToFloat("inputs", /*allow_non_finite=*/true);
  for (size_t i = 0; i < ple_model_num_features(model); ++i) {
    OwnedValues v;
    v.name = ple_model_feature_name(model, i);
    v.kind = ple_model_feature_kind(model, i);
    v.request = ple_model_feature_scope(model, i) == PLE_SCOPE_REQUEST;
    v.width = ple_model_feature_width(model, i);
    if (inputs != nullptr) {  // dense inputs, concatenated in the config's declared order
      size_t offset = 0, row_width = 0;
      bool found = false;
      for (const auto& in : config.at("inputs")) {
        if (in.at("name") == v.name) {
          offset = row_width;
          found = true;
        }
        row_width += in.at("width").get<size_t>();
      }
      if (!found || v.kind != PLE_FEATURE_DENSE || inputs->shape != std::vector<uint64_t>{n, row_width}) {
        throw std::runtime_error(where + ": 'inputs' does not match the config's inputs");
      }
      for (size_t r = 0; r < n; ++r) {
        v.floats.insert(v.floats.end(), rows.begin() + r * row_width + offset,
                        rows.begin() + r * row_width + offset + v.width);
      }
      values.push_back(std::move(v));
      continue;
    }
    const std::string tensor_name = "features." + v.name;
    const convert::SafeTensor* t = data.Find(tensor_name);
    if (t == nullptr) throw std::runtime_error(where + ": tensor '" + tensor_name + "' missing");
    if (v.kind == PLE_FEATURE_DENSE) {
      Require(data, tensor_name, {n, v.width}, where);
      v.floats = t->ToFloat(tensor_name, /*allow_non_finite=*/true);  // the nan policy's business
    } else if (v.kind == PLE_FEATURE_SPARSE) {
      Require(data, tensor_name, {n}, where);
      v.ids = ReadIds(*t, tensor_name);
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
        v.first_id.push_back(v.ids.size());
        v.lengths.push_back(static_cast<uint32_t>(count));
        v.ids.insert(v.ids.end(), padded.begin() + r * length, padded.begin() + r * length + count);
      }
    }
    values.push_back(std::move(v));
  }
  for (size_t i = 0; i < ple_model_num_extras(model); ++i) {
    OwnedValues v;
    v.name = ple_model_extra_name(model, i);
    v.width = 1;
    const std::string tensor_name = "extras." + v.name;
    if (data.Find(tensor_name) == nullptr) continue;  // only needed by the score
    Require(data, tensor_name, {n}, where);
    v.floats = data.Find(tensor_name)->ToFloat(tensor_name, /*allow_non_finite=*/true);
    values.push_back(std::move(v));
  }
  return values;
}

void Check(ple_status status, const std::string& where) {
  if (status != PLE_OK) throw std::runtime_error(where + ": " + ple_status_string(status) + ": " + ple_last_error());
}

}  // namespace

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
  const convert::Source source = convert::ParseSource(manifest.value("importer", "native"));
  const convert::ConvertedModel converted = convert::Convert(source, config_path, weights_path, options);

  // Through the public API, as an app would; the session is reached inside only to record gates.
  ple_model* raw_model = nullptr;
  Check(ple_model_open_buffer(converted.bytes.data(), converted.bytes.size(), &raw_model),
        where + ": the converted model does not load");
  std::unique_ptr<ple_model, void (*)(ple_model*)> model(raw_model, [](ple_model* m) { ple_model_close(&m); });

  const convert::SafeTensorsFile data = convert::SafeTensorsFile::Read(data_path);
  const convert::SafeTensor* expected_tensor = data.Find("expected.outputs");
  if (expected_tensor == nullptr || expected_tensor->shape.size() != 2) {
    throw std::runtime_error(where + ": data has no 2-d 'expected.outputs' tensor");
  }
  const size_t n = expected_tensor->shape[0];
  const size_t tasks = ple_model_num_tasks(model.get());
  const std::vector<double> expected =
      ReadDoubles(Require(data, "expected.outputs", {n, tasks}, where), "expected.outputs");
  const std::vector<OwnedValues> inputs = ReadInputs(model.get(), data, ReadJson(config_path), n, where);

  ple_session_options session_options;
  ple_session_options_init(&session_options);
  session_options.max_batch = static_cast<uint32_t>(std::max<size_t>(n, 1));
  session_options.kernel_path = kernel_path;
  ple_session* raw_session = nullptr;
  Check(ple_session_create(model.get(), &session_options, &raw_session), where);
  std::unique_ptr<ple_session, void (*)(ple_session*)> session(raw_session,
                                                               [](ple_session* s) { ple_session_close(&s); });
  rt::Session& internal = *rt::InternalSession(session.get());
  internal.EnableGateRecording();

  // The request: request-scope features from row 0 (all rows share them).
  std::vector<ple_feature_values> request_values, candidate_values;
  for (const OwnedValues& v : inputs) (v.request ? request_values : candidate_values).push_back(v.request ? v.Rows(0, 1) : v.Rows(0, n));
  ple_request* raw_request = nullptr;
  Check(ple_request_create(model.get(), &raw_request), where);
  std::unique_ptr<ple_request, void (*)(ple_request*)> request(raw_request, [](ple_request* r) { ple_request_close(&r); });
  Check(ple_request_set(request.get(), request_values.data(), request_values.size()), where + ": request");

  const convert::SafeTensor* expected_scores_tensor = data.Find("expected.scores");
  std::vector<float> outputs(n * tasks), scores(n);
  Check(ple_session_run_features(session.get(), request.get(), candidate_values.data(), candidate_values.size(), n,
                                 outputs.data(), outputs.size(), expected_scores_tensor ? scores.data() : nullptr,
                                 expected_scores_tensor ? scores.size() : 0),
        where + ": run");

  BundleReport report;
  report.bundle = manifest.value("name", directory);
  report.kernel_path = KernelPathName(internal.kernel_path());
  report.candidates = n;
  for (size_t t = 0; t < tasks; ++t) {
    report.tasks.push_back(Compare(std::string("task ") + ple_model_task_name(model.get(), t), tolerance,
                                   outputs.data() + t, tasks, expected.data() + t, tasks, n, 1));
  }
  if (expected_scores_tensor != nullptr) {
    const std::vector<double> expected_scores =
        ReadDoubles(Require(data, "expected.scores", {n}, where), "expected.scores");
    report.scores.push_back(Compare("score", tolerance, scores.data(), 1, expected_scores.data(), 1, n, 1));
  }
  // Gate intermediates: the native converter writes task gates to streams 0..T-1 and the
  // shared gate to stream T, which names them as the bundle does.
  const rt::Model& internal_model = internal.model();
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
      report.gates_not_computed.push_back(gate_name);
      continue;
    }
    const std::vector<double> gate_expected = ReadDoubles(Require(data, name, {n, record->width}, where), name);
    report.gates.push_back(Compare(gate_name, tolerance, record->weights.data(), record->width, gate_expected.data(),
                                   record->width, n, record->width));
  }

  // Dense-only models: the same rows with each row carrying its request values must give the
  // same bits (the request part is computed per row instead of once).
  bool dense_only = true;
  for (const OwnedValues& v : inputs) dense_only = dense_only && v.kind == PLE_FEATURE_DENSE;
  if (dense_only) {
    const size_t row_width = ple_model_row_width(model.get());
    std::vector<float> rows(n * row_width);
    const size_t features = ple_model_num_features(model.get());  // inputs[0, features): the features, in order
    for (size_t r = 0; r < n; ++r) {
      size_t offset = 0;
      for (size_t i = 0; i < features; ++i) {
        const OwnedValues& v = inputs[i];
        const size_t source_row = v.request ? 0 : r;
        std::copy(v.floats.begin() + source_row * v.width, v.floats.begin() + (source_row + 1) * v.width,
                  rows.begin() + r * row_width + offset);
        offset += v.width;
      }
    }
    std::vector<float> per_row(n * tasks);
    Check(ple_session_run(session.get(), rows.data(), rows.size(), n, per_row.data(), per_row.size()),
          where + ": per-row run");
    report.per_row_checked = true;
    report.per_row_identical = std::memcmp(per_row.data(), outputs.data(), outputs.size() * sizeof(float)) == 0;
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
