// The Python package's extension module `ple._ple` (pybind11, numpy): a thin layer over the C
// API through the C++ wrapper. Models, sessions and request contexts; candidate batches from
// numpy arrays; outputs, scores, top-K and gate weights as numpy arrays; the C API's errors as
// ple.Error; conformance bundles through the tools' library. docs/python.md is its manual.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "conformance.h"
#include "ple_python_quantization.h"
#include "run/hash64.h"
#include "ple/ple.hpp"

namespace py = pybind11;

namespace {

const char* KindName(ple_feature_kind kind) {
  switch (kind) {
    case PLE_FEATURE_DENSE: return "dense";
    case PLE_FEATURE_SPARSE: return "sparse";
    case PLE_FEATURE_SEQUENCE: return "sequence";
  }
  return "?";
}

// A model owns its ple::Model; sessions and requests keep a shared_ptr to it.
struct PyModel {
  std::shared_ptr<ple::Model> model;
  std::vector<ple::FeatureInfo> features;
  std::vector<std::string> extras;

  explicit PyModel(ple::Model m) : model(std::make_shared<ple::Model>(std::move(m))) {
    features = model->features();
    extras = model->extras();
  }
  const ple::FeatureInfo* Feature(const std::string& name) const {
    for (const auto& f : features) {
      if (f.name == name) return &f;
    }
    return nullptr;
  }
  size_t Index(const std::string& name) const {
    for (size_t i = 0; i < features.size(); ++i) {
      if (features[i].name == name) return i;
    }
    return features.size();
  }
  bool IsExtra(const std::string& name) const {
    for (const auto& e : extras) {
      if (e == name) return true;
    }
    return false;
  }
};

// Feature values converted from Python objects, owning their storage until the call returns.
class ValueBatch {
 public:
  // `count` rows of `name`'s values from `value` (numpy array or anything numpy converts).
  void Add(const PyModel& model, const std::string& name, py::handle value, size_t count) {
    ple_feature_values v{};
    names_.push_back(name);
    v.name = names_.back().c_str();
    const ple::FeatureInfo* feature = model.Feature(name);
    if (feature == nullptr && !model.IsExtra(name)) {
      throw py::key_error("'" + name + "' is not a feature or an extra of the model");
    }
    const ple_encoder_kind encoder =
        feature == nullptr ? PLE_ENCODER_NONE : ple_model_feature_encoder(model.model->get(), model.Index(name));
    if (feature != nullptr && feature->kind != PLE_FEATURE_DENSE && encoder != PLE_ENCODER_NONE) {
      AddRaw(model, name, *feature, encoder, value, count, &v);
    } else if (feature == nullptr || feature->kind == PLE_FEATURE_DENSE) {
      auto array = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(value);
      if (!array) throw py::type_error("'" + name + "': expected numbers");
      floats_.push_back(array);
      v.values = array.data();
      v.num_values = static_cast<size_t>(array.size());
    } else if (feature->kind == PLE_FEATURE_SPARSE) {
      auto array = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(value);
      if (!array) throw py::type_error("'" + name + "': expected integer ids");
      ids_.push_back(array);
      v.ids = array.data();
      v.num_ids = static_cast<size_t>(array.size());
    } else {
      AddSequence(name, value, count, &v);
    }
    values_.push_back(v);
  }
  const std::vector<ple_feature_values>& values() const { return values_; }

 private:
  // Raw values of a feature with an encoder (docs/encoders.md): strings, ints or floats as the
  // encoder takes; sparse: one per row; sequence: one list per row (a request: a flat list).
  void AddRaw(const PyModel& model, const std::string& name, const ple::FeatureInfo& feature,
              ple_encoder_kind encoder, py::handle value, size_t count, ple_feature_values* v) {
    std::vector<py::object> flat;
    std::vector<uint32_t> lengths;
    auto is_row = [](py::handle h) { return !py::isinstance<py::str>(h) && py::hasattr(h, "__len__"); };
    py::list rows;
    if (is_row(value)) {
      rows = py::list(py::reinterpret_borrow<py::object>(value));
    } else {
      rows.append(value);  // one raw value: a request's sparse feature
    }
    const bool sequence = feature.kind == PLE_FEATURE_SEQUENCE;
    if (sequence && !(count == 1 && (rows.size() == 0 || !is_row(rows[0])))) {
      for (auto row : rows) {
        py::list items = py::list(py::reinterpret_borrow<py::object>(row));
        for (auto item : items) flat.push_back(py::reinterpret_borrow<py::object>(item));
        lengths.push_back(static_cast<uint32_t>(items.size()));
      }
    } else {
      for (auto item : rows) flat.push_back(py::reinterpret_borrow<py::object>(item));
      if (sequence) lengths.push_back(static_cast<uint32_t>(flat.size()));
    }
    std::vector<int64_t> ids(flat.size());
    const size_t index = model.Index(name);
    ple_status status;
    if (encoder == PLE_ENCODER_STRING_VOCABULARY || encoder == PLE_ENCODER_HASH_STRING) {
      std::vector<std::string> strings;
      for (const auto& item : flat) {
        if (!py::isinstance<py::str>(item)) throw py::type_error("'" + name + "' takes strings (it has an encoder)");
        strings.push_back(item.cast<std::string>());
      }
      std::vector<const char*> pointers;
      std::vector<size_t> sizes;
      for (const std::string& s : strings) {
        pointers.push_back(s.data());
        sizes.push_back(s.size());
      }
      status = ple_model_encode_strings(model.model->get(), index, pointers.data(), sizes.data(), strings.size(),
                                        ids.data());
    } else if (encoder == PLE_ENCODER_INT_VOCABULARY || encoder == PLE_ENCODER_HASH_INT) {
      std::vector<int64_t> ints;
      for (const auto& item : flat) ints.push_back(item.cast<int64_t>());
      status = ple_model_encode_ints(model.model->get(), index, ints.data(), ints.size(), ids.data());
    } else {
      std::vector<float> floats;
      for (const auto& item : flat) floats.push_back(item.cast<float>());
      status = ple_model_encode_floats(model.model->get(), index, floats.data(), floats.size(), ids.data());
    }
    ple::Check(status);
    sequence_ids_.push_back(std::move(ids));
    v->ids = sequence_ids_.back().data();
    v->num_ids = sequence_ids_.back().size();
    if (sequence) {
      sequence_lengths_.push_back(std::move(lengths));
      v->lengths = sequence_lengths_.back().data();
    }
  }

  // A sequence: a 2-D array [rows, max_length] padded with the padding id, or one list of ids
  // per row (ragged; a request's single row may be a flat list).
  void AddSequence(const std::string& name, py::handle value, size_t count, ple_feature_values* v) {
    if (py::isinstance<py::array>(value) && py::reinterpret_borrow<py::array>(value).ndim() == 2) {
      auto array = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(value);
      ids_.push_back(array);
      v->ids = array.data();
      v->num_ids = static_cast<size_t>(array.size());
      return;  // lengths NULL: max_length each (the runtime checks the width)
    }
    py::list rows = py::list(py::reinterpret_borrow<py::object>(value));
    const bool flat = count == 1 && (rows.size() == 0 || !py::hasattr(rows[0], "__len__"));
    std::vector<int64_t> ids;
    std::vector<uint32_t> lengths;
    if (flat) {
      for (auto id : rows) ids.push_back(id.cast<int64_t>());
      lengths.push_back(static_cast<uint32_t>(ids.size()));
    } else {
      for (auto row : rows) {
        py::list row_ids = py::list(py::reinterpret_borrow<py::object>(row));
        for (auto id : row_ids) ids.push_back(id.cast<int64_t>());
        lengths.push_back(static_cast<uint32_t>(row_ids.size()));
      }
    }
    if (lengths.size() != count) {
      throw py::value_error("'" + name + "': " + std::to_string(lengths.size()) + " rows of ids for " +
                            std::to_string(count) + " rows");
    }
    sequence_ids_.push_back(std::move(ids));
    sequence_lengths_.push_back(std::move(lengths));
    v->ids = sequence_ids_.back().data();
    v->num_ids = sequence_ids_.back().size();
    v->lengths = sequence_lengths_.back().data();
  }

  std::deque<std::string> names_;  // deques: pointers into them stay valid as they grow
  std::vector<py::array_t<float>> floats_;
  std::vector<py::array_t<int64_t>> ids_;
  std::deque<std::vector<int64_t>> sequence_ids_;
  std::deque<std::vector<uint32_t>> sequence_lengths_;
  std::vector<ple_feature_values> values_;
};

struct PyRequest {
  std::shared_ptr<ple::Model> model;
  std::unique_ptr<ple::Request> request;

  PyRequest(const PyModel& m, const py::dict& features) : model(m.model), request(new ple::Request(*m.model)) {
    Set(m, features);
  }
  void Set(const PyModel& m, const py::dict& features) {
    ValueBatch batch;
    for (auto item : features) batch.Add(m, item.first.cast<std::string>(), item.second, 1);
    request->Set(batch.values().data(), batch.values().size());
  }
};

// cpus="all", "big" or "little", or an int: the mask of PLE_CPUS_MASK (bit i = CPU i).
void SelectCpus(const py::object& cpus, ple::SessionOptions* options) {
  if (py::isinstance<py::int_>(cpus)) {
    const py::int_ mask(cpus);
    if (mask.cast<long long>() < 0) throw py::value_error("cpus: a CPU mask is a non-negative int");
    options->cpus = PLE_CPUS_MASK;
    options->cpu_mask = mask.cast<uint64_t>();
    return;
  }
  const std::string name = cpus.cast<std::string>();
  if (name == "all") {
    options->cpus = PLE_CPUS_ALL;
  } else if (name == "big") {
    options->cpus = PLE_CPUS_BIG;
  } else if (name == "little") {
    options->cpus = PLE_CPUS_LITTLE;
  } else {
    throw py::value_error("cpus: 'all', 'big', 'little' or an int mask, not '" + name + "'");
  }
}

// ple_cpu_classes_get as a dict; masks as ints (bit i = CPU i).
py::dict CpuClassesDict() {
  const ple_cpu_classes c = ple::CpuClasses();
  static const char* const kSources[] = {"unavailable", "capacity", "max_frequency", "uniform"};
  py::dict d;
  d["source"] = c.source >= 0 && c.source <= 3 ? kSources[c.source] : "unknown";
  d["cpus"] = c.cpus;
  d["big"] = c.big;
  d["little"] = c.little;
  d["allowed"] = c.allowed;
  d["num_classes"] = c.num_classes;
  return d;
}

struct PySession {
  std::shared_ptr<ple::Model> model;
  PyModel* owner;  // for feature lookups; kept alive by the Python reference below
  py::object owner_ref;
  std::unique_ptr<ple::Session> session;
  size_t tasks;

  PySession(PyModel& m, py::object m_ref, uint32_t max_batch, const std::string& kernels, uint32_t threads,
            bool record_gates, const py::object& cpus)
      : model(m.model), owner(&m), owner_ref(std::move(m_ref)), tasks(m.model->tasks().size()) {
    ple::SessionOptions options;
    options.max_batch = max_batch;
    ple::Check(ple_kernel_path_from_name(kernels.c_str(), &options.kernel_path));
    options.num_threads = threads;
    options.record_gates = record_gates;
    SelectCpus(cpus, &options);
    session = std::make_unique<ple::Session>(*model, options);
  }

  // Returns (outputs [n, tasks], scores [n] or None).
  py::tuple Run(const py::dict& candidates, py::object request, bool with_scores) {
    size_t n = 0;
    bool sized = false;
    for (auto item : candidates) {  // the batch size: the first sparse, sequence or 1-D column
      const std::string name = item.first.cast<std::string>();
      py::array array = py::array::ensure(item.second);
      if (!array) continue;
      const ple::FeatureInfo* f = owner->Feature(name);
      const size_t rows = array.ndim() == 0 ? 1 : static_cast<size_t>(array.shape(0));
      if (!sized || (f != nullptr && f->width == 1 && array.ndim() == 1)) {
        n = rows;
        sized = true;
      }
    }
    if (!sized) throw py::value_error("no candidates: give every candidate-scope feature as an array");
    ValueBatch batch;
    for (auto item : candidates) batch.Add(*owner, item.first.cast<std::string>(), item.second, n);
    std::unique_ptr<PyRequest> temporary;
    const PyRequest* context = nullptr;
    if (py::isinstance<PyRequest>(request)) {
      context = request.cast<PyRequest*>();
    } else if (py::isinstance<py::dict>(request)) {
      temporary = std::make_unique<PyRequest>(*owner, request.cast<py::dict>());
      context = temporary.get();
    } else if (!request.is_none()) {
      throw py::type_error("request: a ple.Request, a dict of request-scope features, or None");
    }
    py::array_t<float> outputs({n, tasks});
    py::array_t<float> scores(std::vector<size_t>{with_scores ? n : 0});
    ple_status status;
    {
      py::gil_scoped_release release;
      status = ple_session_run_features(session->get(), context ? context->request->get() : nullptr,
                                        batch.values().data(), batch.values().size(), n, outputs.mutable_data(),
                                        n * tasks, with_scores ? scores.mutable_data() : nullptr,
                                        with_scores ? n : 0);
    }
    ple::Check(status);
    return py::make_tuple(outputs, with_scores ? py::object(scores) : py::none());
  }

  py::array_t<float> GateWeights(size_t level, size_t gate) const {
    const ple::GateWeights w = session->GetGateWeights(level, gate);
    py::array_t<float> out({w.rows, w.experts});
    if (!w.weights.empty()) std::memcpy(out.mutable_data(), w.weights.data(), w.weights.size() * sizeof(float));
    return out;
  }
};

py::dict LevelDict(const ple::LevelInfo& level) {
  py::list experts, gates;
  for (const auto& e : level.experts) {
    py::dict d;
    d["input_stream"] = e.input_stream;
    d["input_width"] = e.input_width;
    d["output_width"] = e.output_width;
    d["layers"] = e.num_layers;
    d["parameters"] = e.parameters;
    experts.append(d);
  }
  for (const auto& g : level.gates) {
    py::dict d;
    d["input_stream"] = g.input_stream;
    d["output_stream"] = g.output_stream;
    d["experts"] = g.experts;
    d["layers"] = g.num_layers;
    d["parameters"] = g.parameters;
    gates.append(d);
  }
  py::dict d;
  d["experts"] = experts;
  d["gates"] = gates;
  return d;
}

}  // namespace

namespace {

// ple.Error(RuntimeError), with the C API's status as .status (int) and .status_name.
void RegisterErrors(py::module_& m) {
  static py::exception<ple::Error> error(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ple::Error& e) {
      py::object exception = py::reinterpret_borrow<py::object>(error.ptr())(e.what());
      exception.attr("status") = static_cast<int>(e.status());
      exception.attr("status_name") = ple_status_string(e.status());
      PyErr_SetObject(error.ptr(), exception.ptr());
    }
  });
}

// Versions, the encoders' hash and the kernel paths.
void BindLibrary(py::module_& m) {
  m.attr("__version__") = ple_version_string();
  m.def("version", [] { return std::string(ple_version_string()); }, "The library's semantic version.");
  m.def("abi_version", [] { return std::string(ple_abi_version_string()); }, "The C ABI's semantic version.");
  m.def("schema_version", [] { return std::string(ple_schema_version_string()); },
        "The semantic version of the newest model file schema this library reads.");
  m.def("hash64", [](py::object value) {
    if (py::isinstance<py::str>(value)) {
      const std::string s = value.cast<std::string>();
      return ple_hash64(s.data(), s.size());
    }
    if (py::isinstance<py::bytes>(value)) {
      const std::string s = value.cast<std::string>();
      return ple_hash64(s.data(), s.size());
    }
    return ple::rt::Hash64OfInt(value.cast<int64_t>());
  }, py::arg("value"), "ple_hash64 of a str (UTF-8), bytes or int (8 little-endian bytes): the hash encoders' hash.");
  m.def("kernel_paths", [] {
    std::vector<std::string> names;
    for (int p = PLE_KERNELS_REFERENCE; p <= PLE_KERNELS_WASM_RELAXED; ++p) {
      if (ple_kernel_path_available(static_cast<ple_kernel_path>(p))) {
        names.push_back(ple_kernel_path_name(static_cast<ple_kernel_path>(p)));
      }
    }
    return names;
  }, "The kernel paths this library and CPU can run.");
}

void BindModel(py::module_& m) {
  py::class_<PyModel>(m, "Model", "A converted model file (.ple), opened read-only.")
      .def(py::init([](const std::string& path, bool verify) {
             ple_model_open_options options;
             ple_model_open_options_init(&options);
             options.verify_checksum = verify ? 1 : 0;
             return PyModel(ple::Model::OpenFile(path, options));
           }),
           py::arg("path"), py::arg("verify") = false)
      .def_static("from_bytes", [](py::bytes data) {
             const std::string bytes = data;
             return PyModel(ple::Model::OpenBufferCopy(bytes.data(), bytes.size()));
           }, py::arg("data"), "A model from the bytes of a file (copied).")
      .def_property_readonly("tasks", [](const PyModel& self) {
             py::list tasks;
             for (const auto& t : self.model->tasks()) {
               py::dict d;
               d["name"] = t.name;
               d["type"] = t.type == PLE_TASK_BINARY ? "binary" : "regression";
               tasks.append(d);
             }
             return tasks;
           })
      .def_property_readonly("task_names", [](const PyModel& self) {
             std::vector<std::string> names;
             for (const auto& t : self.model->tasks()) names.push_back(t.name);
             return names;
           })
      .def_property_readonly("features", [](const PyModel& self) {
             py::list features;
             for (const auto& f : self.features) {
               py::dict d;
               d["name"] = f.name;
               d["kind"] = KindName(f.kind);
               d["scope"] = f.scope == PLE_SCOPE_REQUEST ? "request" : "candidate";
               d["width"] = f.width;
               d["vocabulary"] = f.vocabulary;
               static const char* kEncoders[] = {"", "string vocabulary", "int64 vocabulary", "hash of strings",
                                                 "hash of int64", "bucket boundaries"};
               const int encoder = ple_model_feature_encoder(self.model->get(), features.size());
               d["encoder"] = encoder >= 0 && encoder <= 5 ? kEncoders[encoder] : "unknown";
               features.append(d);
             }
             return features;
           })
      .def_property_readonly("extras", [](const PyModel& self) { return self.extras; })
      .def_property_readonly("levels", [](const PyModel& self) {
             py::list levels;
             for (const auto& level : self.model->levels()) levels.append(LevelDict(level));
             return levels;
           })
      .def_property_readonly("has_score", [](const PyModel& self) { return self.model->has_score(); })
      .def("metadata", [](const PyModel& self, const std::string& key) { return self.model->metadata(key); },
           py::arg("key"));
}

// Request, Session and top_k.
void BindScoring(py::module_& m) {
  py::class_<PyRequest>(m, "Request", "A request context: the request-scope features, set once, reused.")
      .def(py::init([](PyModel& model, const py::dict& features) { return new PyRequest(model, features); }),
           py::arg("model"), py::arg("features"))
      .def("set", [](PyRequest& self, PyModel& model, const py::dict& features) { self.Set(model, features); },
           py::arg("model"), py::arg("features"));

  py::class_<PySession>(m, "Session", "Scores candidate batches of one model.")
      .def(py::init([](py::object model, uint32_t max_batch, const std::string& kernels, uint32_t threads,
                       bool record_gates, py::object cpus) {
             return new PySession(model.cast<PyModel&>(), model, max_batch, kernels, threads, record_gates, cpus);
           }),
           py::arg("model"), py::arg("max_batch") = 256, py::arg("kernels") = "auto", py::arg("threads") = 1,
           py::arg("record_gates") = false, py::arg("cpus") = "all",
           "cpus: where the session's threads run: 'all', 'big', 'little' (ple.cpu_classes()) or an int mask "
           "(bit i = CPU i).")
      .def("run", &PySession::Run, py::arg("candidates"), py::arg("request") = py::none(),
           py::arg("scores") = false,
           "Scores a batch: `candidates` maps every candidate-scope feature (and the score's extra) to an "
           "array with one row per candidate; `request` is a Request, a dict of request-scope features or None. "
           "Returns (outputs [n, tasks] float32, scores [n] float32 or None).")
      .def("set_gate_recording", [](PySession& self, bool on) { self.session->SetGateRecording(on); }, py::arg("on"))
      .def("gate_weights", &PySession::GateWeights, py::arg("level"), py::arg("gate"),
           "The last run's softmax weights of one gate: [rows, experts] float32.")
      .def_property_readonly("kernel_path", [](const PySession& self) {
             return std::string(ple_kernel_path_name(self.session->info().kernel_path));
           })
      .def_property_readonly("worker_cpu_mask", [](const PySession& self) {
             return self.session->info().worker_cpu_mask;
           }, "The CPUs the session's workers run with, as each read its own affinity; 0 without workers.");
  m.def("cpu_classes", &CpuClassesDict,
        "The device's CPU classes: {'source', 'cpus', 'big', 'little', 'allowed', 'num_classes'}, masks as ints.");

  m.def("top_k", [](py::array_t<float, py::array::c_style | py::array::forcecast> scores, size_t k) {
    const size_t n = static_cast<size_t>(scores.size());
    py::array_t<uint32_t> out(std::vector<size_t>{std::min(k, n)});
    ple::Check(ple_rank_top_k(scores.data(), n, k, out.mutable_data()));
    return out;
  }, py::arg("scores"), py::arg("k"), "Indices of the k best scores, best first (ties: lower index first).");
}

void BindConformance(py::module_& m) {
  m.def("run_bundle", [](const std::string& directory, const std::string& kernels, const std::string& precision) {
    ple_kernel_path path;
    ple::Check(ple_kernel_path_from_name(kernels.c_str(), &path));
    ple::conformance::BundleRunOptions options;
    options.precision = ple::convert::PrecisionPlan::Parse(precision);
    ple::conformance::BundleReport report;
    {
      py::gil_scoped_release release;
      report = ple::conformance::RunBundle(directory, path, options);
    }
    py::dict tasks;
    for (const auto& c : report.tasks) {
      py::dict d;
      d["max_abs_error"] = c.max_abs_error;
      d["mean_abs_error"] = c.mean_abs_error;
      d["passed"] = c.passed();
      tasks[py::str(c.name)] = d;
    }
    py::dict result;
    result["passed"] = report.passed();
    result["bundle"] = report.bundle;
    result["kernel_path"] = report.kernel_path;
    result["candidates"] = report.candidates;
    result["tasks"] = tasks;
    result["report"] = ple::conformance::FormatReport(report);
    return result;
  }, py::arg("directory"), py::arg("kernels") = "auto", py::arg("precision") = "f32",
     "Converts a conformance bundle, runs it and compares with its expected outputs (docs/bundle-format.md).");
}

}  // namespace

PYBIND11_MODULE(_ple, m) {
  m.doc() = "PLE edge runtime: load a converted model, score candidate batches from numpy arrays.";
  RegisterErrors(m);
  BindLibrary(m);
  BindModel(m);
  BindScoring(m);
  BindConformance(m);
  ple::python::BindQuantization(m);
}
