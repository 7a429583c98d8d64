#include "request_io.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace ple {
namespace tools {
namespace {

std::string InputList(const std::vector<InputInfo>& inputs) {
  std::string list;
  for (const auto& in : inputs) list += (list.empty() ? "" : ", ") + in.name + "[" + std::to_string(in.width) + "]";
  return list;
}

[[noreturn]] void Fail(size_t line, const std::string& message) {
  throw std::runtime_error("line " + std::to_string(line) + ": " + message);
}

float CheckedValue(double value, size_t line, const std::string& what) {
  if (!std::isfinite(value) || std::fabs(value) > 3.4e38) Fail(line, what + " is not a finite float32 value");
  return static_cast<float>(value);
}

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  for (char c : line) {
    if (c == ',') {
      fields.push_back(field);
      field.clear();
    } else if (c != '\r') {
      field += c;
    }
  }
  fields.push_back(field);
  for (auto& f : fields) {  // trim spaces
    const size_t b = f.find_first_not_of(" \t"), e = f.find_last_not_of(" \t");
    f = b == std::string::npos ? "" : f.substr(b, e - b + 1);
  }
  return fields;
}

std::string FormatFloat(float value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.9g", value);  // round-trips a float32
  return text;
}

}  // namespace

std::vector<float> ReadJsonLines(std::istream& in, const std::vector<InputInfo>& inputs) {
  std::vector<float> rows;
  std::string text;
  size_t line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      Fail(line, std::string("not valid JSON: ") + e.what());
    }
    if (!record.is_object()) Fail(line, "a JSON object per candidate expected");
    for (auto it = record.begin(); it != record.end(); ++it) {
      bool known = false;
      for (const auto& input : inputs) known = known || input.name == it.key();
      if (!known) Fail(line, "unknown input '" + it.key() + "' (model inputs: " + InputList(inputs) + ")");
    }
    for (const auto& input : inputs) {
      if (!record.contains(input.name)) {
        Fail(line, "input '" + input.name + "' missing (model inputs: " + InputList(inputs) + ")");
      }
      const auto& value = record[input.name];
      if (value.is_number() && input.width == 1) {
        rows.push_back(CheckedValue(value.get<double>(), line, "input '" + input.name + "'"));
        continue;
      }
      if (!value.is_array() || value.size() != input.width) {
        Fail(line, "input '" + input.name + "' needs " + std::to_string(input.width) + " numbers, found " +
                       (value.is_array() ? std::to_string(value.size()) + " values" : value.dump()));
      }
      for (size_t i = 0; i < input.width; ++i) {
        if (!value[i].is_number()) Fail(line, "input '" + input.name + "'[" + std::to_string(i) + "] is not a number");
        rows.push_back(CheckedValue(value[i].get<double>(), line, "input '" + input.name + "'[" + std::to_string(i) + "]"));
      }
    }
  }
  return rows;
}

std::vector<float> ReadCsv(std::istream& in, const std::vector<InputInfo>& inputs) {
  // Column name -> position in the row.
  std::map<std::string, size_t> expected;
  size_t row_width = 0;
  for (const auto& input : inputs) {
    if (input.width == 1) {
      expected[input.name] = row_width;
    } else {
      for (size_t i = 0; i < input.width; ++i) expected[input.name + "." + std::to_string(i)] = row_width + i;
    }
    row_width += input.width;
  }
  std::string text;
  size_t line = 0;
  if (!std::getline(in, text)) throw std::runtime_error("empty CSV input: a header line is required");
  ++line;
  const std::vector<std::string> header = SplitCsv(text);
  std::vector<size_t> column_position(header.size());
  std::map<std::string, bool> seen;
  for (size_t c = 0; c < header.size(); ++c) {
    auto it = expected.find(header[c]);
    if (it == expected.end()) {
      Fail(line, "unknown column '" + header[c] + "' (model inputs: " + InputList(inputs) +
                     "; a width-w input has columns name.0 .. name.{w-1})");
    }
    if (seen[header[c]]) Fail(line, "column '" + header[c] + "' appears twice");
    seen[header[c]] = true;
    column_position[c] = it->second;
  }
  for (const auto& entry : expected) {
    if (!seen[entry.first]) Fail(line, "column '" + entry.first + "' missing");
  }
  std::vector<float> rows;
  while (std::getline(in, text)) {
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::vector<std::string> fields = SplitCsv(text);
    if (fields.size() != header.size()) {
      Fail(line, std::to_string(fields.size()) + " fields, the header has " + std::to_string(header.size()));
    }
    const size_t base = rows.size();
    rows.resize(base + row_width);
    for (size_t c = 0; c < fields.size(); ++c) {
      char* end = nullptr;
      const double value = std::strtod(fields[c].c_str(), &end);
      if (fields[c].empty() || *end != '\0') {
        Fail(line, "column '" + header[c] + "': '" + fields[c] + "' is not a number");
      }
      rows[base + column_position[c]] = CheckedValue(value, line, "column '" + header[c] + "'");
    }
  }
  return rows;
}

void WriteCsv(std::ostream& out, const std::vector<TaskInfo>& tasks, const std::vector<float>& outputs) {
  out << "candidate";
  for (const auto& task : tasks) out << "," << task.name;
  out << "\n";
  for (size_t i = 0; i < outputs.size() / tasks.size(); ++i) {
    out << i;
    for (size_t t = 0; t < tasks.size(); ++t) out << "," << FormatFloat(outputs[i * tasks.size() + t]);
    out << "\n";
  }
}

void WriteJsonLines(std::ostream& out, const std::vector<TaskInfo>& tasks, const std::vector<float>& outputs) {
  for (size_t i = 0; i < outputs.size() / tasks.size(); ++i) {
    out << "{\"candidate\": " << i;
    for (size_t t = 0; t < tasks.size(); ++t) {
      out << ", " << nlohmann::json(tasks[t].name).dump() << ": " << FormatFloat(outputs[i * tasks.size() + t]);
    }
    out << "}\n";
  }
}

}  // namespace tools
}  // namespace ple
