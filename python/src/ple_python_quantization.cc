#include "ple_python_quantization.h"

#include <pybind11/stl.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "quantization_report.h"
#include "ranking_metrics.h"

namespace py = pybind11;

namespace ple {
namespace python {
namespace {

py::dict TaskDict(const ple::tools::TaskQuantizationReport& t) {
  py::dict d;
  d["binary"] = t.binary;
  d["max_abs"] = t.max_abs;
  d["mean_abs"] = t.mean_abs;
  d["labelled"] = t.labelled;
  d["auc_float32"] = t.auc_float32;
  d["auc_quantized"] = t.auc_quantized;
  return d;
}

py::dict RankingDict(const ple::tools::RankingSummary& r) {
  py::dict d;
  d["ranked_by"] = r.ranked_by;
  d["requests"] = r.requests;
  d["top1"] = r.top1;
  d["top3"] = r.top3;
  d["top5"] = r.top5;
  d["top10"] = r.top10;
  d["worst_top5"] = r.worst_top5;
  d["tau_b"] = r.tau_b;
  d["worst_tau_b"] = r.worst_tau_b;
  d["ndcg"] = r.ndcg;
  d["worst_ndcg"] = r.worst_ndcg;
  return d;
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw py::value_error("cannot open '" + path + "'");
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

void BindQuantization(py::module_& m) {
  m.def("compare_ranking", [](const std::vector<double>& reference, const std::vector<double>& other) {
    if (reference.size() != other.size()) throw py::value_error("compare_ranking: the two score lists differ in length");
    const ple::tools::RankingAgreement r = ple::tools::CompareRanking(reference, other);
    py::dict d;
    d["candidates"] = r.candidates;
    d["top1_kept"] = r.top1_kept;
    d["top3"] = r.top3;
    d["top5"] = r.top5;
    d["top10"] = r.top10;
    d["tau_b"] = r.tau_b;
    d["ndcg"] = r.ndcg;
    return d;
  }, py::arg("reference"), py::arg("other"),
     "One request's ranking agreement (docs/quantization.md, 'Ranking'): top-1 kept, top-3/5/10 overlap (NaN "
     "when there are no more than k candidates), Kendall's tau-b, NDCG with the reference scores as gains.");

  m.def("quantization_report", [](const std::string& float_model, const std::string& quantized_model,
                                   const std::string& data) {
    ple::tools::QuantizationReport report;
    {
      const std::vector<uint8_t> a = ReadFile(float_model), b = ReadFile(quantized_model);
      py::gil_scoped_release release;
      report = ple::tools::CompareOnData(a, b, data);
    }
    py::dict tasks;
    for (const auto& t : report.tasks) tasks[py::str(t.name)] = TaskDict(t);
    py::list rankings;
    for (const auto& r : report.rankings) rankings.append(RankingDict(r));
    py::dict result;
    result["requests"] = report.requests;
    result["candidates"] = report.candidates;
    result["grouping"] = report.grouping;
    result["tasks"] = tasks;
    result["rankings"] = rankings;
    result["report"] = ple::tools::FormatQuantizationReport(report, quantized_model);
    return result;
  }, py::arg("float_model"), py::arg("quantized_model"), py::arg("data"),
     "A quantized model file against its float32 conversion on data (a bundle directory or ple-run JSON lines): "
     "per task max/mean error and AUCs, and each request's ranking agreement summarised (docs/quantization.md).");
}

}  // namespace python
}  // namespace ple
