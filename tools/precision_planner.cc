#include "precision_planner.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "convert_error.h"
#include "ple/ple.hpp"
#include "quantize.h"
#include "ranking_prediction.h"

namespace ple {
namespace tools {
namespace {

using convert::ConvertError;
using convert::Precision;

const char* const kMeasures[] = {"top1", "top3", "top5", "top10", "tau", "ndcg"};

double ParseNumber(const std::string& text, const std::string& item) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(value)) {
    throw ConvertError("--precision auto: '" + item + "' needs a number after '='");
  }
  return value;
}

// A model's outputs and scores on data, on the reference kernel path.
struct Scored {
  std::vector<float> outputs, scores;
};

Scored ScoreOnReference(const std::vector<uint8_t>& file, const std::vector<RequestBatch>& batches) {
  ple::Model model = ple::Model::OpenBuffer(file.data(), file.size());
  Scored scored;
  scored.outputs = ScoreBatches(model, batches, &scored.scores, PLE_KERNELS_REFERENCE);
  return scored;
}

// A plan's ranking on one data set: measured (per ranking: the score's, or each task's) and
// expected from its score noise (ranking_prediction.h; the worst over the rankings).
struct Ranking {
  std::vector<RankingSummary> measured;
  std::vector<PredictedRanking> predicted;
  double Predicted(const std::string& name) const {
    double worst = NAN;
    for (const PredictedRanking& p : predicted) {
      const double v = p.Get(name);
      worst = std::isnan(worst) || v < worst ? v : worst;
    }
    return std::isnan(worst) ? RankingMeasure(measured, name) : worst;  // ndcg: measured only
  }
};

// The float32 model's ranking on one data set, against which quantized files are compared.
class RankingReference {
 public:
  RankingReference(const std::vector<uint8_t>& float32, const std::string& data) {
    ple::Model model = ple::Model::OpenBuffer(float32.data(), float32.size());
    tasks_ = model.tasks();
    batches_ = ReadCandidates(data, model);
    for (const RequestBatch& b : batches_) requests_.push_back(b.candidates);
    reference_ = ScoreOnReference(float32, batches_);
  }
  Ranking Compare(const std::vector<uint8_t>& file) const {
    const Scored scored = ScoreOnReference(file, batches_);
    Ranking out;
    out.measured =
        CompareRankings(tasks_, batches_, reference_.outputs, scored.outputs, reference_.scores, scored.scores);
    const bool by_score = !reference_.scores.empty();
    const size_t tasks = tasks_.size();
    for (size_t t = 0; t < (by_score ? 1 : tasks); ++t) {
      std::vector<double> a, b;
      for (size_t c = 0; c < requests_total(); ++c) {
        a.push_back(by_score ? reference_.scores[c] : reference_.outputs[c * tasks + t]);
        b.push_back(by_score ? scored.scores[c] : scored.outputs[c * tasks + t]);
      }
      out.predicted.push_back(PredictRanking(a, b, requests_));
    }
    return out;
  }

 private:
  size_t requests_total() const {
    size_t n = 0;
    for (size_t c : requests_) n += c;
    return n;
  }
  std::vector<TaskInfo> tasks_;
  std::vector<RequestBatch> batches_;
  std::vector<size_t> requests_;
  Scored reference_;
};

// The measured values of the targets, "top5 0.9900, tau 0.9931" (expected values in brackets
// when `expected`).
std::string DescribeMeasures(const AutoPrecisionSpec& spec, const Ranking& ranking, bool expected) {
  std::string text;
  char item[96];
  for (const auto& target : spec.targets) {
    if (expected) {
      std::snprintf(item, sizeof item, "%s%s %.4f (expected %.4f)", text.empty() ? "" : ", ", target.first.c_str(),
                    RankingMeasure(ranking.measured, target.first), ranking.Predicted(target.first));
    } else {
      std::snprintf(item, sizeof item, "%s%s %.4f", text.empty() ? "" : ", ", target.first.c_str(),
                    RankingMeasure(ranking.measured, target.first));
    }
    text += item;
  }
  return text;
}

// Measures are means of fractions: 0.995 computed as 199 / 200 may round below 0.995.
constexpr double kTargetTolerance = 1e-9;

// On the evaluation data: every target measured.
bool MeetsMeasured(const AutoPrecisionSpec& spec, const Ranking& ranking) {
  for (const auto& target : spec.targets) {
    if (!(RankingMeasure(ranking.measured, target.first) >= target.second - kTargetTolerance)) return false;
  }
  return true;
}

// On the calibration data: every target measured, and expected with half the loss the target
// allows (kCalibrationSafety), so that data the plan never saw meets it too.
constexpr double kCalibrationSafety = 0.25;
bool MeetsPlanned(const AutoPrecisionSpec& spec, const Ranking& ranking) {
  for (const auto& target : spec.targets) {
    if (!(1.0 - ranking.Predicted(target.first) <= kCalibrationSafety * (1.0 - target.second) + kTargetTolerance)) {
      return false;
    }
  }
  return MeetsMeasured(spec, ranking);
}

// How far from the float32 ranking: the sum over the targeted measures of 1 - expected measure.
double Loss(const AutoPrecisionSpec& spec, const Ranking& ranking) {
  double loss = 0.0;
  for (const auto& target : spec.targets) loss += 1.0 - ranking.Predicted(target.first);
  return loss;
}

// The plan's files: the float32 IR with each unit at its precision.
class PlanWriter {
 public:
  PlanWriter(const convert::IrModel& float32, const convert::WriteOptions& write) : float32_(float32), write_(write) {}
  std::vector<uint8_t> File(const std::vector<Precision>& precisions) const {
    convert::IrModel model = float32_;
    const std::vector<convert::PrecisionUnit> units = convert::PrecisionUnits(&model);
    for (size_t u = 0; u < units.size(); ++u) {
      if (units[u].layer != nullptr) units[u].layer->precision = precisions[u];
      else convert::SetTablePrecision(precisions[u], units[u].table);
    }
    return convert::SerializeModel(model, convert::ConverterProducer(), write_);
  }

 private:
  const convert::IrModel& float32_;
  convert::WriteOptions write_;
};

}  // namespace

AutoPrecisionSpec AutoPrecisionSpec::Parse(const std::string& spec) {
  AutoPrecisionSpec out;
  size_t start = 0;
  while (start <= spec.size()) {
    const size_t comma = std::min(spec.find(',', start), spec.size());
    const std::string item = spec.substr(start, comma - start);
    start = comma + 1;
    const size_t equals = item.find('=');
    if (equals == std::string::npos) {
      throw ConvertError("--precision auto:" + spec + ": '" + item + "' is not NAME=VALUE (top1, top3, top5, top10, "
                         "tau, ndcg, size, time)");
    }
    const std::string name = item.substr(0, equals);
    const double value = ParseNumber(item.substr(equals + 1), item);
    if (name == "size" || name == "time") {
      if (!(value > 0.0)) throw ConvertError("--precision auto: " + item + " must be above 0");
      (name == "size" ? out.max_bytes : out.max_us) = value;
      continue;
    }
    if (std::find(std::begin(kMeasures), std::end(kMeasures), name) == std::end(kMeasures)) {
      throw ConvertError("--precision auto: unknown target '" + name + "' (top1, top3, top5, top10, tau, ndcg; " +
                         "limits size, time)");
    }
    if (!(value > 0.0 && value <= 1.0)) throw ConvertError("--precision auto: " + item + " must be in (0, 1]");
    out.targets.emplace_back(name, value);
  }
  if (out.targets.empty()) {
    throw ConvertError("--precision auto: give at least one ranking target, e.g. auto:top5=0.99,tau=0.98");
  }
  return out;
}

std::string AutoPrecisionSpec::ToString() const {
  std::string text = "auto:";
  char item[64];
  for (size_t i = 0; i < targets.size(); ++i) {
    std::snprintf(item, sizeof item, "%s%s=%g", i ? "," : "", targets[i].first.c_str(), targets[i].second);
    text += item;
  }
  if (std::isfinite(max_bytes)) text += ",size=" + std::to_string(static_cast<uint64_t>(max_bytes));
  if (std::isfinite(max_us)) {
    std::snprintf(item, sizeof item, ",time=%g", max_us);
    text += item;
  }
  return text;
}

double RankingMeasure(const std::vector<RankingSummary>& summaries, const std::string& name) {
  double worst = NAN;
  for (const RankingSummary& s : summaries) {
    const double v = name == "top1"    ? s.top1
                     : name == "top3"  ? s.top3
                     : name == "top5"  ? s.top5
                     : name == "top10" ? s.top10
                     : name == "tau"   ? s.tau_b
                                       : s.ndcg;
    if (std::isnan(v)) return NAN;
    worst = std::isnan(worst) ? v : std::min(worst, v);
  }
  return worst;
}

namespace {

constexpr Precision kOptions[] = {Precision::kI8, Precision::kF16, Precision::kF32};

// The greedy search of ChoosePrecisions: from every unit at its cheapest precision, move the
// unit whose move (to a precision with less loss) removes the most expected loss per added
// cost (its loss measured alone, the rest float32), until the plan meets the targets on the
// calibration data.
class Planner {
 public:
  Planner(const convert::ConvertedModel& float32, const AutoPrecisionSpec& spec, const convert::CostTarget& target,
          const std::string& calibration_data, const convert::WriteOptions& write)
      : ir_(float32.ir), units_(convert::PrecisionUnits(&ir_)), writer_(float32.ir, write), spec_(spec),
        target_(target), calibration_data_(calibration_data), calibration_(float32.bytes, calibration_data),
        by_time_(std::isfinite(spec.max_us) || !std::isfinite(spec.max_bytes)) {
    for (size_t u = 0; u < units_.size(); ++u) {
      int cheapest = 0;
      for (int o = 1; o < 3; ++o) cheapest = Cost(u, o) < Cost(u, cheapest) ? o : cheapest;
      option_.push_back(cheapest);
    }
  }

  // Each unit alone in int8 and in float16, the rest float32 (whose loss is 0).
  void MeasureSensitivity(const std::function<void(const std::string&)>& progress) {
    loss_.assign(units_.size(), std::vector<double>(3, 0.0));
    for (size_t u = 0; u < units_.size(); ++u) {
      for (int o = 0; o < 2; ++o) {
        std::vector<Precision> alone(units_.size(), Precision::kF32);
        alone[u] = kOptions[o];
        const Ranking ranking = calibration_.Compare(writer_.File(alone));
        for (const auto& t : spec_.targets) {
          if (std::isnan(RankingMeasure(ranking.measured, t.first))) {
            throw ConvertError("--precision auto: " + t.first + " is not defined on " + calibration_data_ +
                               " (a top-k needs requests of more than k candidates; tau and ndcg need distinct "
                               "scores)");
          }
        }
        loss_[u][o] = Loss(spec_, ranking);
      }
      progress("sensitivity " + std::to_string(u + 1) + "/" + std::to_string(units_.size()) + ": " + units_[u].name);
    }
  }

  // Moves units until the targets are met; throws when the limits stop it first.
  void Search(const std::function<void(const std::string&)>& progress) {
    file_ = writer_.File(Precisions());
    ranking_ = calibration_.Compare(file_);
    if (PredictedMicroseconds() > spec_.max_us || static_cast<double>(file_.size()) > spec_.max_bytes) {
      char text[160];
      std::snprintf(text, sizeof text, "the cheapest plan already predicts %.1f us per 200 candidates and %zu bytes",
                    PredictedMicroseconds(), file_.size());
      throw ConvertError("--precision " + spec_.ToString() + ": " + text + ", beyond the limit");
    }
    for (size_t step = 1; !MeetsPlanned(spec_, ranking_); ++step) {
      size_t best_unit = units_.size();
      int best_option = 0;
      double best_value = -1.0;
      for (size_t u = 0; u < units_.size(); ++u) {
        for (int o = 0; o < 3; ++o) {
          const double gain = loss_[u][option_[u]] - loss_[u][o];
          if (!(gain > 0.0)) continue;
          const double value = gain / std::max(Cost(u, o) - Cost(u, option_[u]), 1e-9);
          if (value > best_value) best_value = value, best_unit = u, best_option = o;
        }
      }
      if (best_unit == units_.size()) {
        throw ConvertError("--precision " + spec_.ToString() + ": even float32 everywhere does not reach the targets");
      }
      const Ranking before = ranking_;
      option_[best_unit] = best_option;
      file_ = writer_.File(Precisions());
      ranking_ = calibration_.Compare(file_);
      CheckLimits(before);
      progress("step " + std::to_string(step) + ": " + units_[best_unit].name + " to " +
               convert::PrecisionName(kOptions[best_option]) + ": " + DescribeMeasures(spec_, ranking_, true));
      raised_.push_back(best_unit);
    }
    Prune(progress);
  }

  // Greedy steps taken early may be unneeded once later ones are in: each moved unit, the
  // latest first, goes to the cheapest precision that keeps the targets met.
  void Prune(const std::function<void(const std::string&)>& progress) {
    for (auto it = raised_.rbegin(); it != raised_.rend(); ++it) {
      const size_t u = *it;
      const int kept = option_[u];
      std::vector<int> cheaper;
      for (int o = 0; o < 3; ++o) {
        if (Cost(u, o) < Cost(u, kept)) cheaper.push_back(o);
      }
      std::stable_sort(cheaper.begin(), cheaper.end(), [&](int a, int b) { return Cost(u, a) < Cost(u, b); });
      for (int o : cheaper) {
        option_[u] = o;
        const std::vector<uint8_t> file = writer_.File(Precisions());
        const Ranking ranking = calibration_.Compare(file);
        if (MeetsPlanned(spec_, ranking)) {
          file_ = file;
          ranking_ = ranking;
          progress("back: " + units_[u].name + " to " + convert::PrecisionName(kOptions[o]) + ": " +
                   DescribeMeasures(spec_, ranking_, true));
          break;
        }
        option_[u] = kept;
      }
    }
  }

  std::vector<Precision> Precisions() const {
    std::vector<Precision> out;
    for (int o : option_) out.push_back(kOptions[o]);
    return out;
  }
  double PredictedMicroseconds() const {
    double sum = 0.0;
    for (size_t u = 0; u < units_.size(); ++u) sum += convert::UnitMicroseconds(units_[u], kOptions[option_[u]], target_);
    return sum;
  }
  // All units at one option: what the plan is compared with.
  double PredictedMicroseconds(int option) const {
    double sum = 0.0;
    for (size_t u = 0; u < units_.size(); ++u) sum += convert::UnitMicroseconds(units_[u], kOptions[option], target_);
    return sum;
  }
  const std::vector<convert::PrecisionUnit>& units() const { return units_; }
  const std::vector<int>& options() const { return option_; }
  const std::vector<uint8_t>& file() const { return file_; }
  const Ranking& ranking() const { return ranking_; }

 private:
  // The objective (time, or bytes with only a size limit); time ties (tables cost none) go to
  // the smaller file.
  double Cost(size_t u, int o) const {
    const double bytes = convert::UnitBytes(units_[u], kOptions[o]);
    return by_time_ ? convert::UnitMicroseconds(units_[u], kOptions[o], target_) + bytes * 1e-9 : bytes;
  }
  // The current plan within the limits, or a refusal naming what `best` (the last plan within them) reached.
  void CheckLimits(const Ranking& best) const {
    if (PredictedMicroseconds() <= spec_.max_us && static_cast<double>(file_.size()) <= spec_.max_bytes) return;
    throw ConvertError("--precision " + spec_.ToString() + ": the targets cannot be met within the limit; the best " +
                       "plan within it reaches " + DescribeMeasures(spec_, best, true) + " on " + calibration_data_);
  }

  convert::IrModel ir_;
  std::vector<convert::PrecisionUnit> units_;
  PlanWriter writer_;
  const AutoPrecisionSpec& spec_;
  const convert::CostTarget& target_;
  std::string calibration_data_;
  RankingReference calibration_;
  bool by_time_;
  std::vector<int> option_;                 // per unit: index into kOptions
  std::vector<size_t> raised_;              // the units each step raised, in order
  std::vector<std::vector<double>> loss_;   // per unit, per option: expected loss alone
  std::vector<uint8_t> file_;
  Ranking ranking_;
};

}  // namespace

PrecisionChoice ChoosePrecisions(const convert::ConvertedModel& float32, const AutoPrecisionSpec& spec,
                                 const convert::CostTarget& target, const std::string& calibration_data,
                                 const std::string& evaluation_data, const convert::WriteOptions& write,
                                 const std::function<void(const std::string&)>& progress) {
  Planner planner(float32, spec, target, calibration_data, write);
  planner.MeasureSensitivity(progress);
  planner.Search(progress);
  PrecisionChoice choice;
  choice.calibration = planner.ranking().measured;
  const Ranking evaluation = RankingReference(float32.bytes, evaluation_data).Compare(planner.file());
  choice.evaluation = evaluation.measured;
  choice.predicted_us = planner.PredictedMicroseconds();
  choice.predicted_us_float32 = planner.PredictedMicroseconds(2);
  size_t counts[3] = {0, 0, 0};
  std::string raised;
  for (size_t u = 0; u < planner.units().size(); ++u) {
    const int o = planner.options()[u];
    choice.units.push_back(planner.units()[u].name);
    choice.precisions.push_back(kOptions[o]);
    counts[o] += 1;
    if (o > 0) raised += "  " + planner.units()[u].name + ": " + convert::PrecisionName(kOptions[o]) + "\n";
  }
  char line[320];
  std::snprintf(line, sizeof line,
                "precision plan %s on %s: %zu units int8, %zu f16, %zu f32; predicted %.1f us per 200 candidates "
                "(all int8 %.1f us, all f32 %.1f us), %zu bytes\n",
                spec.ToString().c_str(), target.name, counts[0], counts[1], counts[2], choice.predicted_us,
                planner.PredictedMicroseconds(0), planner.PredictedMicroseconds(2), planner.file().size());
  choice.plan = line + raised + "  calibration (" + calibration_data + "): " +
                DescribeMeasures(spec, planner.ranking(), true) + "\n  evaluation (" + evaluation_data + "): " +
                DescribeMeasures(spec, evaluation, true) + "\n";
  if (!MeetsMeasured(spec, evaluation)) {
    throw ConvertError("--precision " + spec.ToString() + ": the plan meets the targets on " + calibration_data +
                       " but reaches " + DescribeMeasures(spec, evaluation, false) + " on " + evaluation_data +
                       ": not written (give more calibration data, or looser targets)\n" + choice.plan);
  }
  choice.file = planner.file();
  return choice;
}

}  // namespace tools
}  // namespace ple
