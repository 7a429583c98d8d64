#include "request_io.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace ple {
namespace tools {
namespace {

using nlohmann::json;

[[noreturn]] void Fail(size_t line, const std::string& message) {
  throw std::runtime_error("line " + std::to_string(line) + ": " + message);
}

float CheckedFloat(const json& value, size_t line, const std::string& what) {
  if (!value.is_number()) Fail(line, what + " is not a number");
  const double v = value.get<double>();
  if (!std::isfinite(v) || std::fabs(v) > 3.4e38) Fail(line, what + " is not a finite float32 value");
  return static_cast<float>(v);
}

int64_t CheckedId(const json& value, size_t line, const std::string& what) {
  if (!value.is_number_integer()) Fail(line, what + " is not an integer id");
  return value.get<int64_t>();
}

// A raw value of a feature with an encoder, encoded: a string for a string vocabulary or
// hash, an integer for an int64 one, a number for bucket boundaries.
int64_t EncodedId(const FeatureColumn& c, const json& value, size_t line, const std::string& what) {
  int64_t id = 0;
  ple_status status = PLE_OK;
  switch (c.encoder) {
    case PLE_ENCODER_STRING_VOCABULARY:
    case PLE_ENCODER_HASH_STRING: {
      if (!value.is_string()) Fail(line, what + " takes raw strings (it has an encoder), found " + value.dump());
      const std::string& s = value.get_ref<const std::string&>();
      const char* data = s.c_str();
      const size_t size = s.size();
      status = ple_model_encode_strings(c.model, c.index, &data, &size, 1, &id);
      break;
    }
    case PLE_ENCODER_INT_VOCABULARY:
    case PLE_ENCODER_HASH_INT: {
      if (!value.is_number_integer()) Fail(line, what + " takes raw integers (it has an encoder), found " + value.dump());
      const int64_t v = value.get<int64_t>();
      status = ple_model_encode_ints(c.model, c.index, &v, 1, &id);
      break;
    }
    default: {
      if (!value.is_number()) Fail(line, what + " takes raw numbers (it has an encoder), found " + value.dump());
      const float v = static_cast<float>(value.get<double>());
      status = ple_model_encode_floats(c.model, c.index, &v, 1, &id);
      break;
    }
  }
  if (status != PLE_OK) Fail(line, what + ": " + ple_last_error());
  return id;
}

// A sparse or sequence value: an id, or a raw value when the feature has an encoder.
int64_t IdOf(const FeatureColumn& c, const json& value, size_t line, const std::string& what) {
  return c.encoder == PLE_ENCODER_NONE ? CheckedId(value, line, what) : EncodedId(c, value, line, what);
}

std::string Describe(const FeatureColumn& c) {
  if (c.extra) return "extra";
  if (c.encoder != PLE_ENCODER_NONE && c.kind != PLE_FEATURE_DENSE) {
    return c.kind == PLE_FEATURE_SPARSE ? "sparse with an encoder (a raw value)"
                                        : "sequence with an encoder (an array of raw values)";
  }
  switch (c.kind) {
    case PLE_FEATURE_SPARSE: return "sparse (an integer id)";
    case PLE_FEATURE_SEQUENCE: return "sequence (an array of ids)";
    default: return "dense (" + std::to_string(c.width) + (c.width == 1 ? " number)" : " numbers)");
  }
}

std::string FeatureList(const std::vector<FeatureColumn>& columns, bool request) {
  std::string list;
  for (const auto& c : columns) {
    if (c.request == request) list += (list.empty() ? "" : ", ") + c.name;
  }
  return list.empty() ? "none" : list;
}

// Appends one row of `value` to column `c`.
void AppendJsonValue(FeatureColumn& c, const json& value, size_t line) {
  const std::string what = (c.extra ? "extra '" : "feature '") + c.name + "'";
  switch (c.kind) {
    case PLE_FEATURE_DENSE:
      if (value.is_number() && c.width == 1) {
        c.floats.push_back(CheckedFloat(value, line, what));
        return;
      }
      if (!value.is_array() || value.size() != c.width) {
        Fail(line, what + " needs " + std::to_string(c.width) + " numbers, found " +
                       (value.is_array() ? std::to_string(value.size()) + " values" : value.dump()));
      }
      for (size_t i = 0; i < c.width; ++i) {
        c.floats.push_back(CheckedFloat(value[i], line, what + "[" + std::to_string(i) + "]"));
      }
      return;
    case PLE_FEATURE_SPARSE:
      c.ids.push_back(IdOf(c, value, line, what));
      return;
    case PLE_FEATURE_SEQUENCE: {
      if (!value.is_array()) Fail(line, what + " needs an array of ids, found " + value.dump());
      if (value.size() > c.width) {
        Fail(line, what + " has " + std::to_string(value.size()) + " ids, max_length is " + std::to_string(c.width));
      }
      std::vector<int64_t> ids;
      for (size_t i = 0; i < value.size(); ++i) ids.push_back(IdOf(c, value[i], line, what + "[" + std::to_string(i) + "]"));
      c.AppendSequence(ids.data(), ids.size());
      return;
    }
  }
}

// Reads one object's values into the columns of `scope` (request or candidate features and
// extras); `skip` keys are handled by the caller.
void ReadObject(const json& object, std::vector<FeatureColumn>& columns, bool request, size_t line,
                std::initializer_list<const char*> skip) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    bool skipped = false;
    for (const char* key : skip) skipped = skipped || it.key() == key;
    if (skipped) continue;
    FeatureColumn* column = nullptr;
    for (auto& c : columns) {
      if (c.name == it.key()) column = &c;
    }
    if (column == nullptr) {
      Fail(line, "unknown feature '" + it.key() + "' (request features: " + FeatureList(columns, true) +
                     "; candidate features and extras: " + FeatureList(columns, false) + ")");
    }
    if (column->request != request) {
      Fail(line, "'" + it.key() + "' is a " + (column->request ? "request" : "candidate") + "-scope " +
                     (column->extra ? "extra" : "feature") + ": give it " +
                     (column->request ? "in a {\"request\": {...}} line" : "on the candidate lines"));
    }
    AppendJsonValue(*column, it.value(), line);
  }
  for (auto& c : columns) {
    if (c.request != request || c.extra) continue;
    if (!object.contains(c.name)) Fail(line, "feature '" + c.name + "' missing: " + Describe(c));
  }
}

void CheckExtras(const RequestBatch& batch, size_t line) {
  for (const auto& c : batch.columns) {
    if (c.extra && !c.floats.empty() && c.floats.size() != batch.candidates) {
      Fail(line, "extra '" + c.name + "' is given on some candidate lines only");
    }
  }
}

RequestBatch NewBatch(const Model& model, size_t line) {
  RequestBatch batch;
  batch.columns = ModelColumns(model);
  batch.line = line;
  return batch;
}

std::string FormatFloat(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.9g", value);  // round-trips a float32
  return text;
}

// One CSV line's fields, each trimmed of blanks; a trailing comma ends with an empty field.
std::vector<std::string> SplitCsvLine(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream stream(line);
  std::string field;
  while (std::getline(stream, field, ',')) {
    const size_t b = field.find_first_not_of(" \t\r"), e = field.find_last_not_of(" \t\r");
    fields.push_back(b == std::string::npos ? "" : field.substr(b, e - b + 1));
  }
  if (!line.empty() && line.back() == ',') fields.push_back("");
  return fields;
}

// --request's JSON object into the request columns of `batch` (required when the model has
// request-scope features; ignored otherwise).
void ReadCsvRequest(const std::string& request_json, RequestBatch* batch) {
  bool has_request = false;
  for (const auto& c : batch->columns) has_request = has_request || c.request;
  if (!has_request) return;
  if (request_json.empty()) {
    throw std::runtime_error("the model has request-scope features (" + FeatureList(batch->columns, true) +
                             "): give them with --request '{...}'");
  }
  json request;
  try {
    request = json::parse(request_json);
  } catch (const json::exception& e) {
    throw std::runtime_error(std::string("--request is not valid JSON: ") + e.what());
  }
  if (!request.is_object()) throw std::runtime_error("--request must be a JSON object");
  ReadObject(request, batch->columns, /*request=*/true, 0, {});
}

// Where a CSV column's values go: a candidate column (and the index within a dense feature).
struct CsvTarget {
  FeatureColumn* column = nullptr;  // nullptr: the id column
  size_t index = 0;
};

// The header's columns mapped to `columns` (pointers into it): every candidate feature must
// have its columns (name, or name.0 .. name.{w-1} for a dense one of width w > 1), each once.
std::vector<CsvTarget> MapCsvHeader(const std::vector<std::string>& header, std::vector<FeatureColumn>& columns) {
  std::vector<CsvTarget> targets;
  std::map<std::string, bool> seen;
  for (const std::string& name : header) {
    if (seen[name]) Fail(1, "column '" + name + "' appears twice");
    seen[name] = true;
    if (name == "id") {
      targets.push_back({nullptr, 0});
      continue;
    }
    CsvTarget target;
    for (auto& c : columns) {
      if (c.request) continue;
      if (c.name == name && (c.kind != PLE_FEATURE_DENSE || c.width == 1)) target = {&c, 0};
      for (size_t i = 0; c.kind == PLE_FEATURE_DENSE && c.width > 1 && i < c.width; ++i) {
        if (c.name + "." + std::to_string(i) == name) target = {&c, i};
      }
    }
    if (target.column == nullptr) {
      Fail(1, "unknown column '" + name + "' (candidate features and extras: " + FeatureList(columns, false) +
                  "; a width-w dense feature has columns name.0 .. name.{w-1})");
    }
    targets.push_back(target);
  }
  for (auto& c : columns) {
    if (c.request || c.extra) continue;
    const size_t count = c.kind == PLE_FEATURE_DENSE ? c.width : 1;
    for (size_t i = 0; i < count; ++i) {
      const std::string name = count == 1 ? c.name : c.name + "." + std::to_string(i);
      if (!seen[name]) Fail(1, "column '" + name + "' missing");
    }
  }
  return targets;
}

// A sparse or sequence field's ids: blank-separated ids, or raw values when the feature has an
// encoder (strings as they are, numbers parsed), encoded.
std::vector<int64_t> CsvIds(const FeatureColumn& c, const std::string& field, size_t line, const std::string& what) {
  std::vector<int64_t> ids;
  std::stringstream stream(field);
  std::string token;
  while (stream >> token) {
    if (c.encoder == PLE_ENCODER_STRING_VOCABULARY || c.encoder == PLE_ENCODER_HASH_STRING) {
      ids.push_back(EncodedId(c, json(token), line, what));
      continue;
    }
    char* end = nullptr;
    if (c.encoder == PLE_ENCODER_BOUNDARIES) {
      const double v = std::strtod(token.c_str(), &end);
      if (*end != '\0') Fail(line, what + ": '" + token + "' is not a number");
      ids.push_back(EncodedId(c, json(v), line, what));
      continue;
    }
    const long long v = std::strtoll(token.c_str(), &end, 10);
    if (*end != '\0') Fail(line, what + ": '" + token + "' is not an integer");
    ids.push_back(c.encoder == PLE_ENCODER_NONE ? v : EncodedId(c, json(static_cast<int64_t>(v)), line, what));
  }
  return ids;
}

// One field into its target's column. A dense value goes into the row's slot, which the
// caller has added to the column.
void AppendCsvField(const CsvTarget& target, const std::string& field, size_t line, const std::string& what) {
  FeatureColumn& c = *target.column;
  if (c.kind == PLE_FEATURE_DENSE) {
    char* end = nullptr;
    const double v = std::strtod(field.c_str(), &end);
    if (field.empty() || *end != '\0') Fail(line, what + ": '" + field + "' is not a number");
    c.floats[c.floats.size() - c.width + target.index] = CheckedFloat(json(v), line, what);
    return;
  }
  const std::vector<int64_t> ids = CsvIds(c, field, line, what);
  if (c.kind == PLE_FEATURE_SPARSE) {
    if (ids.size() != 1) Fail(line, what + ": one integer id expected");
    c.ids.push_back(ids[0]);
  } else {
    if (ids.size() > c.width) {
      Fail(line, what + ": " + std::to_string(ids.size()) + " ids, max_length is " + std::to_string(c.width));
    }
    c.AppendSequence(ids.data(), ids.size());
  }
}

// One candidate line (already split) into `batch`.
void AppendCsvRow(const std::vector<std::string>& header, const std::vector<CsvTarget>& targets,
                  const std::vector<std::string>& fields, size_t line, RequestBatch* batch) {
  if (fields.size() != header.size()) {
    Fail(line, std::to_string(fields.size()) + " fields, the header has " + std::to_string(header.size()));
  }
  std::string id;
  for (auto& c : batch->columns) {  // this row's dense values, filled column by column below
    if (!c.request && c.kind == PLE_FEATURE_DENSE) c.floats.resize(c.floats.size() + c.width);
  }
  for (size_t f = 0; f < fields.size(); ++f) {
    if (targets[f].column == nullptr) {
      id = fields[f];
      continue;
    }
    AppendCsvField(targets[f], fields[f], line, "column '" + header[f] + "'");
  }
  batch->ids.push_back(id);
  batch->labels.emplace_back();
  ++batch->candidates;
}

}  // namespace

std::vector<RequestBatch> ReadJsonLines(std::istream& in, const Model& model) {
  const auto tasks = model.tasks();
  bool model_has_request = false;
  for (const auto& f : model.features()) model_has_request = model_has_request || f.scope == PLE_SCOPE_REQUEST;
  std::vector<RequestBatch> batches;
  std::string text;
  size_t line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    json record;
    try {
      record = json::parse(text);
    } catch (const json::exception& e) {
      Fail(line, std::string("not valid JSON: ") + e.what());
    }
    if (!record.is_object()) Fail(line, "a JSON object expected");
    if (record.contains("request")) {
      if (record.size() != 1) Fail(line, "a request line holds only {\"request\": {...}}");
      if (!record["request"].is_object()) Fail(line, "\"request\" must be an object");
      if (!batches.empty()) CheckExtras(batches.back(), batches.back().line);
      batches.push_back(NewBatch(model, line));
      ReadObject(record["request"], batches.back().columns, /*request=*/true, line, {});
      continue;
    }
    if (batches.empty()) {
      if (model_has_request) {
        Fail(line, "a {\"request\": {...}} line must come first: the model has request-scope features (" +
                       FeatureList(NewBatch(model, line).columns, true) + ")");
      }
      batches.push_back(NewBatch(model, line));
    }
    RequestBatch& batch = batches.back();
    ReadObject(record, batch.columns, /*request=*/false, line, {"id", "labels"});
    std::string id;
    if (record.contains("id")) {
      const json& v = record["id"];
      if (!v.is_string() && !v.is_number()) Fail(line, "\"id\" must be a string or a number");
      id = v.is_string() ? v.get<std::string>() : v.dump();
    }
    batch.ids.push_back(id);
    std::vector<std::optional<double>> labels;
    if (record.contains("labels")) {
      const json& l = record["labels"];
      if (!l.is_object()) Fail(line, "\"labels\" must be an object {task: value or null}");
      labels.resize(tasks.size());
      for (auto it = l.begin(); it != l.end(); ++it) {
        size_t t = 0;
        while (t < tasks.size() && tasks[t].name != it.key()) ++t;
        if (t == tasks.size()) Fail(line, "label for unknown task '" + it.key() + "'");
        if (it.value().is_null()) continue;
        if (!it.value().is_number()) Fail(line, "label '" + it.key() + "' must be a number or null");
        labels[t] = it.value().get<double>();
      }
    }
    batch.labels.push_back(labels);
    ++batch.candidates;
    // Extras appear on every candidate line or on none.
    for (auto& c : batch.columns) {
      if (c.extra && !c.floats.empty() && c.floats.size() != batch.candidates) {
        Fail(line, "extra '" + c.name + "' is missing here but given on earlier candidate lines");
      }
    }
  }
  if (!batches.empty()) CheckExtras(batches.back(), line);
  return batches;
}

std::vector<RequestBatch> ReadCsv(std::istream& in, const Model& model, const std::string& request_json) {
  RequestBatch batch = NewBatch(model, 1);
  ReadCsvRequest(request_json, &batch);
  std::string text;
  if (!std::getline(in, text)) throw std::runtime_error("empty CSV input: a header line is required");
  const std::vector<std::string> header = SplitCsvLine(text);
  const std::vector<CsvTarget> targets = MapCsvHeader(header, batch.columns);
  size_t line = 1;
  while (std::getline(in, text)) {
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    AppendCsvRow(header, targets, SplitCsvLine(text), line, &batch);
  }
  return {batch};
}

void WriteCsvHeader(std::ostream& out, const std::vector<TaskInfo>& tasks, bool ranked) {
  out << (ranked ? "request,rank,candidate,id,score" : "request,candidate,id");
  for (const auto& task : tasks) out << "," << task.name;
  out << "\n";
}

void WriteCsvRow(std::ostream& out, const ScoredCandidate& c, size_t tasks, bool ranked) {
  out << c.request << ",";
  if (ranked) out << c.rank << ",";
  out << c.candidate << "," << c.id;
  if (ranked) out << "," << FormatFloat(c.score);
  for (size_t t = 0; t < tasks; ++t) out << "," << FormatFloat(c.outputs[t]);
  out << "\n";
}

void WriteJsonRow(std::ostream& out, const ScoredCandidate& c, const std::vector<TaskInfo>& tasks, bool ranked) {
  out << "{\"request\": " << c.request;
  if (ranked) out << ", \"rank\": " << c.rank;
  out << ", \"candidate\": " << c.candidate << ", \"id\": " << json(c.id).dump();
  if (ranked) out << ", \"score\": " << FormatFloat(c.score);
  for (size_t t = 0; t < tasks.size(); ++t) out << ", " << json(tasks[t].name).dump() << ": " << FormatFloat(c.outputs[t]);
  out << "}\n";
}

double Auc(const std::vector<double>& scores, const std::vector<double>& labels) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double positives = 0, negatives = 0, rank_sum = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    const double average_rank = (i + 1 + j) / 2.0;  // ranks i+1 .. j share their mean
    for (size_t k = i; k < j; ++k) {
      if (labels[order[k]] > 0.5) {
        rank_sum += average_rank;
        ++positives;
      } else {
        ++negatives;
      }
    }
    i = j;
  }
  if (positives == 0 || negatives == 0) return NAN;
  return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

}  // namespace tools
}  // namespace ple
