#include "activity_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "capi/c_api_internal.h"
#include "conformance.h"
#include "load/model.h"
#include "request_io.h"
#include "run/session.h"

namespace ple {
namespace tools {
namespace {

const char* ActivationName(rt::Activation a) {
  switch (a) {
    case rt::Activation::kIdentity: return "";
    case rt::Activation::kRelu: return "relu";
    case rt::Activation::kLeakyRelu: return "leaky_relu";
    case rt::Activation::kPRelu: return "prelu";
    case rt::Activation::kSigmoid: return "sigmoid";
    case rt::Activation::kTanh: return "tanh";
    case rt::Activation::kSilu: return "silu";
    case rt::Activation::kDice: return "dice";
  }
  return "?";
}

const char* LayerPrecision(const rt::DenseLayer& layer) {
  if (layer.row_major != nullptr) return "f32";
  switch (layer.packed->type) {
    case rt::WeightType::kI8: return "int8";
    case rt::WeightType::kF16: return "f16";
    case rt::WeightType::kF32: return "f32";
  }
  return "?";
}

std::vector<uint32_t> Widths(const rt::Mlp& mlp) {
  std::vector<uint32_t> widths;
  if (mlp.layers.empty()) return widths;
  widths.push_back(mlp.in());
  for (const rt::DenseLayer& layer : mlp.layers) widths.push_back(layer.out);
  return widths;
}

// Every dense layer of `model` by its place: the same names for a quantized model and its
// float32 conversion.
std::vector<std::pair<const rt::DenseLayer*, LayerShape>> NamedLayers(const rt::LoadedModel& model) {
  std::vector<std::pair<const rt::DenseLayer*, LayerShape>> layers;
  auto add = [&](const rt::Mlp& mlp, const std::string& prefix, bool tower) {
    for (size_t i = 0; i < mlp.layers.size(); ++i) {
      const rt::DenseLayer& layer = mlp.layers[i];
      LayerShape shape;
      shape.name = prefix + " layer " + std::to_string(i + 1) + (tower && i + 1 == mlp.layers.size() ? " (head)" : "");
      shape.in = layer.in;
      shape.out = layer.out;
      shape.precision = LayerPrecision(layer);
      shape.activation = ActivationName(layer.activation);
      layers.emplace_back(&layer, shape);
    }
  };
  const size_t tasks = model.tasks().size();
  auto stream = [&](uint32_t s) { return s < tasks ? "task " + model.tasks()[s].name : std::string("shared"); };
  for (size_t l = 0; l < model.levels().size(); ++l) {
    const rt::Level& level = model.levels()[l];
    const std::string prefix = "level " + std::to_string(l + 1);
    for (size_t e = 0; e < level.experts.size(); ++e) add(level.experts[e].mlp, prefix + " expert " + std::to_string(e), false);
    for (const rt::Gate& gate : level.gates) add(gate.mlp, prefix + " gate -> " + stream(gate.output_stream), false);
  }
  for (size_t t = 0; t < model.towers().size(); ++t) add(model.towers()[t].mlp, "tower " + model.tasks()[t].name, true);
  return layers;
}

ModelShape ShapeOf(const ple::Model& model, const rt::LoadedModel& internal, size_t file_bytes) {
  ModelShape shape;
  shape.name = model.metadata("name");
  shape.tasks = model.tasks();
  shape.input_width = internal.row_width();
  for (const FeatureInfo& f : model.features()) {
    const char* kind = f.kind == PLE_FEATURE_DENSE ? "dense" : f.kind == PLE_FEATURE_SPARSE ? "sparse" : "sequence";
    shape.features.push_back(f.name + " (" + kind + ", " + (f.scope == PLE_SCOPE_REQUEST ? "request" : "candidate") +
                             ")");
  }
  for (const rt::Level& level : internal.levels()) {
    shape.level_experts.emplace_back();
    shape.level_gates.emplace_back();
    for (const rt::Expert& e : level.experts) {
      shape.level_experts.back().push_back({e.input_stream, Widths(e.mlp), e.mlp.parameters()});
      shape.parameters += shape.level_experts.back().back().parameters;
    }
    for (const rt::Gate& g : level.gates) {
      shape.level_gates.back().push_back({g.input_stream, g.output_stream, g.experts, Widths(g.mlp), g.mlp.parameters()});
      shape.parameters += shape.level_gates.back().back().parameters;
    }
  }
  for (const rt::Tower& tower : internal.towers()) {
    shape.towers.push_back({Widths(tower.mlp), tower.mlp.parameters()});
    shape.parameters += shape.towers.back().parameters;
  }
  for (const rt::TableSpec& table : internal.tables()) shape.parameters += uint64_t{table.rows} * table.dim;
  ple_score_params score{};
  score.struct_size = sizeof(score);
  if (ple_model_get_score(model.get(), &score) == PLE_OK) {
    std::ostringstream text;
    bool first = true;
    for (size_t t = 0; t < score.num_exponents; ++t) {
      if (score.exponents[t] == 0.0f) continue;
      text << (first ? "" : " * ") << shape.tasks[t].name << "^" << score.exponents[t];
      first = false;
    }
    static const char* kTransforms[] = {"1", "x", "log1p(x)", "sigmoid(scale x + offset)"};
    if (score.transform != PLE_SCORE_NONE) {
      text << " * f(" << score.transform_input << "), f = " << kTransforms[score.transform & 3];
    }
    shape.score = text.str();
  }
  shape.file_bytes = file_bytes;
  shape.precision = conformance::WeightPrecision(internal);
  return shape;
}

// Streaming statistics of one expert's weight under one gate (weights are in [0, 1]).
struct WeightAccumulator {
  double sum = 0.0, sum_squares = 0.0, min = INFINITY, max = -INFINITY;
  size_t count = 0, collapsed = 0;
  std::vector<size_t> histogram = std::vector<size_t>(kHistogramBins, 0);

  void Add(double w) {
    sum += w;
    sum_squares += w * w;
    min = std::min(min, w);
    max = std::max(max, w);
    ++count;
    collapsed += w > kCollapsedWeight;
    const size_t bin = std::min(kHistogramBins - 1, static_cast<size_t>(std::max(0.0, w) * kHistogramBins));
    ++histogram[bin];
  }
  // The bin centre where the cumulative count reaches q * count, clamped to [min, max].
  double Quantile(double q) const {
    const double target = q * static_cast<double>(count);
    size_t cumulative = 0;
    for (size_t b = 0; b < kHistogramBins; ++b) {
      cumulative += histogram[b];
      if (static_cast<double>(cumulative) >= target && cumulative > 0) {
        return std::clamp((static_cast<double>(b) + 0.5) / kHistogramBins, min, max);
      }
    }
    return max;
  }
};

// Sums for the relative L2 error and cosine of q against f, over any number of values.
struct ErrorAccumulator {
  double ff = 0.0, qq = 0.0, fq = 0.0, dd = 0.0, max_abs = 0.0;
  size_t values = 0;
  void Add(const float* f, const float* q, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const double a = f[i], b = q[i];
      ff += a * a;
      qq += b * b;
      fq += a * b;
      dd += (a - b) * (a - b);
      max_abs = std::max(max_abs, std::fabs(a - b));
    }
    values += n;
  }
  LayerError Result(const std::string& name, const std::string& precision) const {
    LayerError e;
    e.name = name;
    e.precision = precision;
    e.values = values;
    e.relative_l2 = ff > 0.0 ? std::sqrt(dd / ff) : std::sqrt(dd);
    e.cosine = ff > 0.0 && qq > 0.0 ? fq / std::sqrt(ff * qq) : (dd == 0.0 ? 1.0 : 0.0);
    e.max_abs = max_abs;
    return e;
  }
};

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open '" + path + "'");
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void RequireSameStructure(const rt::LoadedModel& a, const rt::LoadedModel& b, const std::string& b_path) {
  const auto layers_a = NamedLayers(a), layers_b = NamedLayers(b);
  bool same = layers_a.size() == layers_b.size() && a.tasks().size() == b.tasks().size();
  for (size_t i = 0; same && i < layers_a.size(); ++i) {
    same = layers_a[i].second.name == layers_b[i].second.name && layers_a[i].second.in == layers_b[i].second.in &&
           layers_a[i].second.out == layers_b[i].second.out;
  }
  if (!same) {
    throw std::runtime_error("'" + b_path + "' is not a conversion of the same model: its levels, experts, gates or "
                             "towers differ");
  }
}

std::string ExpertName(const ModelShape& model, uint32_t level, uint32_t expert) {
  const ExpertShape& e = model.level_experts[level][expert];
  return "expert " + std::to_string(expert) + " (" +
         (e.input_stream < model.tasks.size() ? model.tasks[e.input_stream].name : std::string("shared")) + ")";
}

std::vector<std::string> Warnings(const ModelShape& model, const std::vector<GateActivity>& gates) {
  std::vector<std::string> warnings;
  char line[512];
  for (const GateActivity& g : gates) {
    if (!g.computed || g.experts.size() < 2 || g.share_collapsed <= kCollapsedShare) continue;
    const auto top = std::max_element(g.experts.begin(), g.experts.end(), [](const auto& a, const auto& b) {
      return a.share_collapsed < b.share_collapsed;
    });
    std::snprintf(line, sizeof(line),
                  "level %u gate -> %s collapses: one expert takes > %.2f of the weight on %.0f%% of candidates "
                  "(%s on %.0f%%)",
                  g.level + 1, g.name.c_str(), kCollapsedWeight, 100.0 * g.share_collapsed,
                  ExpertName(model, g.level, top->expert).c_str(), 100.0 * top->share_collapsed);
    warnings.push_back(line);
  }
  for (uint32_t l = 0; l < model.level_experts.size(); ++l) {
    for (uint32_t e = 0; e < model.level_experts[l].size(); ++e) {
      double largest = -1.0;  // the largest weight any computed gate gave it
      for (const GateActivity& g : gates) {
        if (g.level != l || !g.computed) continue;
        for (const ExpertWeightStats& s : g.experts) {
          if (s.expert == e) largest = std::max(largest, s.max);
        }
      }
      if (largest < 0.0 || largest >= kUnusedWeight) continue;
      std::snprintf(line, sizeof(line), "level %u %s is unused: every gate gives it < %.2f on every candidate (at most %.2g)",
                    l + 1, ExpertName(model, l, e).c_str(), kUnusedWeight, largest);
      warnings.push_back(line);
    }
  }
  return warnings;
}

// The float32 conversion of a quantized model, run beside it over the same data.
struct FloatTwin {
  std::vector<uint8_t> bytes;  // the model reads them: kept while it lives
  std::unique_ptr<ple::Model> model;
  std::unique_ptr<ple::Session> session;
  rt::Session* internal = nullptr;  // inside `session`
};

// Opens `path` with the quantized session's options and checks that it is a float32
// conversion of the same model; both sessions then record gates and layers.
std::unique_ptr<FloatTwin> OpenFloatTwin(const std::string& path, const ple::SessionOptions& session_options,
                                         rt::Session& quantized) {
  auto twin = std::make_unique<FloatTwin>();
  twin->bytes = ReadBytes(path);
  twin->model = std::make_unique<ple::Model>(ple::Model::OpenBuffer(twin->bytes.data(), twin->bytes.size()));
  twin->session = std::make_unique<ple::Session>(*twin->model, session_options);
  twin->internal = rt::InternalSession(twin->session->get());
  RequireSameStructure(quantized.model(), twin->internal->model(), path);
  if (conformance::WeightPrecision(twin->internal->model()) != "f32") {
    throw std::runtime_error("'" + path + "' is not a float32 model (it holds " +
                             conformance::WeightPrecision(twin->internal->model()) + " weights)");
  }
  twin->session->SetGateRecording(true);
  for (rt::Session* s : {&quantized, twin->internal}) {
    const rt::Status status = s->EnableLayerRecording(true);
    if (!status.ok()) throw std::runtime_error(status.message());
  }
  return twin;
}

// One GateActivity per gate of the model, levels in order. A gate with an MLP that the plan
// pruned is not computed; one without (a single expert, weight 1) needs no run.
std::vector<GateActivity> GateActivities(const rt::Session& internal, const ModelShape& shape) {
  std::vector<GateActivity> gates;
  const auto& levels = internal.model().levels();
  for (uint32_t l = 0; l < levels.size(); ++l) {
    for (uint32_t g = 0; g < levels[l].gates.size(); ++g) {
      GateActivity activity;
      activity.level = l;
      activity.gate = g;
      activity.name = shape.StreamName(levels[l].gates[g].output_stream);
      activity.computed = internal.FindGateRecord(l, g) != nullptr || levels[l].gates[g].mlp.layers.empty();
      for (uint32_t e : levels[l].gates[g].experts) activity.experts.push_back({e});
      gates.push_back(activity);
    }
  }
  return gates;
}

// What is summed over the data for one gate.
struct GateAccumulator {
  std::vector<WeightAccumulator> experts;  // each expert's weight, softmax order
  ErrorAccumulator error;                  // the weights against the float32 model's
};

// Adds the last run's gate weights to `accumulators` (one per gate of `gates`), their error
// against `float_session`'s when given, and counts in each gate's share_collapsed the
// candidates where one expert takes more than kCollapsedWeight.
void AccumulateGates(ple::Session& session, ple::Session* float_session, std::vector<GateActivity>* gates,
                     std::vector<GateAccumulator>* accumulators) {
  for (size_t i = 0; i < gates->size(); ++i) {
    GateActivity& activity = (*gates)[i];
    if (!activity.computed) continue;
    GateAccumulator& a = (*accumulators)[i];
    const GateWeights w = session.GetGateWeights(activity.level, activity.gate);
    for (size_t r = 0; r < w.rows; ++r) {
      for (size_t e = 0; e < w.experts; ++e) a.experts[e].Add(w.weights[r * w.experts + e]);
      const float top = *std::max_element(w.weights.begin() + r * w.experts, w.weights.begin() + (r + 1) * w.experts);
      activity.share_collapsed += top > kCollapsedWeight;
    }
    if (float_session) {
      const GateWeights f = float_session->GetGateWeights(activity.level, activity.gate);
      a.error.Add(f.weights.data(), w.weights.data(), w.rows * w.experts);
    }
  }
}

// Turns the sums into each computed gate's statistics over `candidates`.
void SummarizeGates(const std::vector<GateAccumulator>& accumulators, size_t candidates,
                    std::vector<GateActivity>* gates) {
  for (size_t i = 0; i < gates->size(); ++i) {
    GateActivity& g = (*gates)[i];
    if (!g.computed) continue;
    g.share_collapsed /= static_cast<double>(candidates);
    for (size_t e = 0; e < g.experts.size(); ++e) {
      const WeightAccumulator& a = accumulators[i].experts[e];
      ExpertWeightStats& s = g.experts[e];
      const double n = static_cast<double>(a.count);
      s.mean = a.sum / n;
      s.stddev = std::sqrt(std::max(0.0, a.sum_squares / n - s.mean * s.mean));
      s.p10 = a.Quantile(0.1);
      s.p90 = a.Quantile(0.9);
      s.min = a.min;
      s.max = a.max;
      s.share_collapsed = static_cast<double>(a.collapsed) / n;
    }
  }
}

// One layer both models computed, matched by name, and its error so far.
struct LayerPair {
  const rt::Session::LayerRecord* float32 = nullptr;
  const rt::Session::LayerRecord* quantized = nullptr;
  LayerShape shape;  // the quantized model's
  ErrorAccumulator error;
};

// The layers of the two models (the same structure) that both sessions record; a layer no
// output needs is computed by neither and left out.
std::vector<LayerPair> MatchLayers(const rt::Session& quantized, const rt::Session& float32) {
  const auto named = NamedLayers(quantized.model());
  const auto float_named = NamedLayers(float32.model());
  auto record_of = [](const rt::Session& s, const rt::DenseLayer* layer) -> const rt::Session::LayerRecord* {
    for (const auto& r : s.layer_records()) {
      if (r.layer == layer) return &r;
    }
    return nullptr;  // not computed (a layer no output needs)
  };
  std::vector<LayerPair> pairs;
  for (size_t i = 0; i < named.size(); ++i) {
    const auto* q = record_of(quantized, named[i].first);
    const auto* f = record_of(float32, float_named[i].first);
    if (q == nullptr || f == nullptr) continue;
    pairs.push_back({f, q, named[i].second, {}});
  }
  return pairs;
}

// The quantization error of every matched layer, every computed gate's softmax weights, and
// the task outputs.
QuantizationView QuantizationOf(const std::string& float_model, const std::vector<LayerPair>& layers,
                                const std::vector<GateActivity>& gates,
                                const std::vector<GateAccumulator>& accumulators,
                                std::vector<TaskQuantizationReport> tasks) {
  QuantizationView view;
  view.float_model = float_model;
  for (const LayerPair& p : layers) view.layers.push_back(p.error.Result(p.shape.name, p.shape.precision));
  for (size_t i = 0; i < gates.size(); ++i) {
    if (!gates[i].computed) continue;
    view.gates.push_back(accumulators[i].error.Result(
        "level " + std::to_string(gates[i].level + 1) + " gate -> " + gates[i].name + " (softmax)", ""));
  }
  view.tasks = std::move(tasks);
  return view;
}

}  // namespace

std::string ModelShape::StreamName(uint32_t stream) const {
  return stream < tasks.size() ? "task " + tasks[stream].name : std::string("shared");
}

ActivityReport BuildActivityReport(const std::string& model_path, const std::string& data,
                                   const ActivityOptions& options) {
  const std::vector<uint8_t> bytes = ReadBytes(model_path);
  ple::Model model = ple::Model::OpenBuffer(bytes.data(), bytes.size());
  const std::vector<RequestBatch> batches = ReadCandidates(data, model);
  size_t largest = 1;
  ActivityReport report;
  report.data = data;
  report.requests = batches.size();
  for (const RequestBatch& b : batches) {
    largest = std::max(largest, b.candidates);
    report.candidates += b.candidates;
  }
  ple::SessionOptions session_options;
  session_options.max_batch = static_cast<uint32_t>(largest);
  session_options.kernel_path = options.kernel_path;
  ple::Session session(model, session_options);
  rt::Session& internal = *rt::InternalSession(session.get());
  report.model = ShapeOf(model, internal.model(), bytes.size());
  report.kernel_path = ple_kernel_path_name(internal.kernel_path());
  session.SetGateRecording(true);
  // The float32 model, when given: the same data through a second session, layers recorded.
  const std::unique_ptr<FloatTwin> twin =
      options.float_model_path.empty() ? nullptr : OpenFloatTwin(options.float_model_path, session_options, internal);

  report.gates = GateActivities(internal, report.model);
  std::vector<GateAccumulator> accumulators;
  for (const GateActivity& g : report.gates) {
    accumulators.push_back({std::vector<WeightAccumulator>(g.experts.size()), ErrorAccumulator()});
  }
  std::vector<LayerPair> layers = twin ? MatchLayers(internal, *twin->internal) : std::vector<LayerPair>();
  std::vector<float> outputs, float_outputs, scores, float_scores;
  for (const RequestBatch& batch : batches) {
    ScoreBatch(session, model, batch, &outputs, twin ? &scores : nullptr);
    if (twin) ScoreBatch(*twin->session, *twin->model, batch, &float_outputs, &float_scores);
    AccumulateGates(session, twin ? twin->session.get() : nullptr, &report.gates, &accumulators);
    for (LayerPair& p : layers) {
      p.error.Add(p.float32->values.data(), p.quantized->values.data(), batch.candidates * p.float32->layer->out);
    }
  }
  SummarizeGates(accumulators, report.candidates, &report.gates);
  report.warnings = Warnings(report.model, report.gates);
  if (twin) {
    report.has_quantization = true;
    report.quantization = QuantizationOf(options.float_model_path, layers, report.gates, accumulators,
                                         CompareTaskOutputs(model.tasks(), batches, float_outputs, outputs));
    report.quantization.rankings =
        CompareRankings(model.tasks(), batches, float_outputs, outputs, float_scores, scores);
  }
  return report;
}

std::string FormatActivitySummary(const ActivityReport& report) {
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof(line), "gate activity of %s on %zu candidates (%zu requests) of %s, %s kernels\n",
                report.model.name.empty() ? "the model" : report.model.name.c_str(), report.candidates,
                report.requests, report.data.c_str(), report.kernel_path.c_str());
  out << line;
  for (const GateActivity& g : report.gates) {
    std::snprintf(line, sizeof(line), "  level %u gate -> %-16s", g.level + 1, g.name.c_str());
    out << line;
    if (!g.computed) {
      out << " not computed (no task output depends on it)\n";
      continue;
    }
    for (const ExpertWeightStats& s : g.experts) {
      std::snprintf(line, sizeof(line), "  e%u %.3f", s.expert, s.mean);
      out << line;
    }
    out << "\n";
  }
  if (report.has_quantization) {
    double worst = 0.0;
    std::string worst_name;
    for (const LayerError& e : report.quantization.layers) {
      if (e.relative_l2 > worst) {
        worst = e.relative_l2;
        worst_name = e.name;
      }
    }
    std::snprintf(line, sizeof(line), "quantization: %zu layers compared with %s; largest relative L2 error %.3g (%s)\n",
                  report.quantization.layers.size(), report.quantization.float_model.c_str(), worst,
                  worst_name.c_str());
    out << line;
    for (const RankingSummary& r : report.quantization.rankings) out << FormatRankingSummary(r, "the requests of the data");
  }
  return out.str();
}

}  // namespace tools
}  // namespace ple
