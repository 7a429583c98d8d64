// ple-run's input and output formats (docs/ple-run.md): requests of candidates read from JSON
// lines or CSV into feature columns, ranked lists and evaluation tables written out.
#ifndef PLE_TOOLS_REQUEST_IO_H_
#define PLE_TOOLS_REQUEST_IO_H_

#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "feature_columns.h"
#include "ple/ple.hpp"

namespace ple {
namespace tools {

// One request and its candidates, as read.
struct RequestBatch {
  std::vector<FeatureColumn> columns;                   // one per feature and extra (ModelColumns)
  size_t candidates = 0;
  std::vector<std::string> ids;                         // per candidate ("" when not given)
  std::vector<std::vector<std::optional<double>>> labels;  // per candidate, per task (empty: none given)
  size_t line = 0;                                      // where the request starts, for messages
};

// Throws std::runtime_error naming the line, the feature and what was wrong.
std::vector<RequestBatch> ReadJsonLines(std::istream& in, const Model& model);
// CSV candidates of one request; `request_json` gives the request-scope features ("" if none).
std::vector<RequestBatch> ReadCsv(std::istream& in, const Model& model, const std::string& request_json);

// One scored candidate, for output.
struct ScoredCandidate {
  size_t request = 0;
  size_t candidate = 0;      // position in its request
  size_t rank = 0;           // 1-based, when ranked
  std::string id;
  float score = 0.0f;
  const float* outputs = nullptr;  // num_tasks values
};

void WriteCsvHeader(std::ostream& out, const std::vector<TaskInfo>& tasks, bool ranked);
void WriteCsvRow(std::ostream& out, const ScoredCandidate& c, size_t tasks, bool ranked);
void WriteJsonRow(std::ostream& out, const ScoredCandidate& c, const std::vector<TaskInfo>& tasks, bool ranked);

// The area under the ROC curve of `scores` against 0/1 `labels` (ties count one half);
// NaN when a class is missing.
double Auc(const std::vector<double>& scores, const std::vector<double>& labels);

}  // namespace tools
}  // namespace ple

#endif  // PLE_TOOLS_REQUEST_IO_H_
