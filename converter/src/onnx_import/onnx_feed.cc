#include "onnx_import/onnx_feed.h"

#include <random>

#include "convert_error.h"

namespace ple {
namespace convert {
namespace onnx_import {
namespace {

// One feature's values for rows [begin, end), cut from its graph input.
struct FeatureColumns {
  const FeatureConfig* feature = nullptr;
  const Tensor* tensor = nullptr;
  int64_t per_row = 0, begin = 0, end = 0;

  double At(size_t row, int64_t i) const { return tensor->values[row * per_row + begin + i]; }
  bool SameRows(size_t a, size_t b) const {
    for (int64_t i = 0; i < end - begin; ++i) {
      if (At(a, i) != At(b, i)) return false;
    }
    return true;
  }
};

// Owns the buffers the FeatureValues point into.
struct Batch {
  std::vector<std::vector<float>> floats;
  std::vector<std::vector<int64_t>> ids;
  std::vector<std::vector<uint32_t>> lengths;
  std::vector<ple::FeatureValues> values;

  void Add(const FeatureColumns& c, size_t first, size_t count) {
    const int64_t width = c.end - c.begin;
    if (c.feature->kind == fb::FeatureKind::Dense) {
      floats.emplace_back();
      for (size_t r = first; r < first + count; ++r) {
        for (int64_t i = 0; i < width; ++i) floats.back().push_back(static_cast<float>(c.At(r, i)));
      }
      values.push_back(ple::FeatureValues::Dense(c.feature->name, floats.back()));
      return;
    }
    ids.emplace_back();
    for (size_t r = first; r < first + count; ++r) {
      for (int64_t i = 0; i < width; ++i) ids.back().push_back(static_cast<int64_t>(c.At(r, i)));
    }
    if (c.feature->kind == fb::FeatureKind::Sparse) {
      values.push_back(ple::FeatureValues::Ids(c.feature->name, ids.back()));
      return;
    }
    lengths.emplace_back(count, static_cast<uint32_t>(width));  // padding ids are skipped by the runtime
    values.push_back(ple::FeatureValues::Sequences(c.feature->name, ids.back(), lengths.back()));
  }
};

const FeatureBinding& BindingOf(const RecognizedModel& recognized, const std::string& feature) {
  for (const FeatureBinding& b : recognized.bindings) {
    if (b.feature == feature) return b;
  }
  throw ConvertError("feature '" + feature + "' has no place in the graph's inputs");
}

}  // namespace

std::vector<float> RunOnGraphInputs(ple::Model& model, const RecognizedModel& recognized,
                                    const std::map<std::string, Tensor>& inputs, ple_kernel_path path) {
  std::vector<FeatureColumns> columns;
  size_t rows = 0;
  for (const FeatureConfig& f : recognized.ir.features) {
    const FeatureBinding* binding = &BindingOf(recognized, f.name);
    const auto it = inputs.find(binding->input);
    if (it == inputs.end()) throw ConvertError("graph input '" + binding->input + "' was not given");
    const Tensor& t = it->second;
    FeatureColumns c{&f, &t, 0, binding->begin, binding->end};
    rows = t.shape.empty() ? 0 : static_cast<size_t>(t.shape[0]);
    c.per_row = rows == 0 ? 0 : static_cast<int64_t>(t.values.size() / rows);
    if (c.per_row < c.end) {
      throw ConvertError("graph input '" + binding->input + "' holds " + std::to_string(c.per_row) +
                         " values a row; feature '" + f.name + "' reads up to " + std::to_string(c.end));
    }
    columns.push_back(c);
  }
  ple::SessionOptions options;
  options.kernel_path = path;
  options.max_batch = static_cast<uint32_t>(std::max<size_t>(rows, 1));
  ple::Session session(model, options);
  std::vector<float> outputs;
  for (size_t first = 0; first < rows;) {
    size_t end = first + 1;  // the request: rows whose request-scope features equal the first's
    for (bool same = true; end < rows && same; end += same) {
      for (const FeatureColumns& c : columns) same = same && (c.feature->scope != fb::Scope::Request || c.SameRows(first, end));
    }
    Batch request, candidates;
    for (const FeatureColumns& c : columns) {
      if (c.feature->scope == fb::Scope::Request) {
        request.Add(c, first, 1);
      } else {
        candidates.Add(c, first, end - first);
      }
    }
    ple::Request context(model);
    if (!request.values.empty()) context.Set(request.values);
    const std::vector<float> out = session.Run(request.values.empty() ? nullptr : &context, candidates.values, end - first);
    outputs.insert(outputs.end(), out.begin(), out.end());
    first = end;
  }
  return outputs;
}

std::map<std::string, Tensor> RandomGraphInputs(const Graph& graph, const RecognizedModel& recognized,
                                                const FeatureHints& hints, size_t rows, size_t requests, uint32_t seed) {
  std::mt19937 rng(seed);
  std::map<std::string, Tensor> inputs;
  for (const ValueInfo& input : graph.inputs) {
    Tensor t;
    t.integer = input.elem_type != 1 && input.elem_type != 10 && input.elem_type != 11;
    t.shape = input.dims;
    if (t.shape.empty()) t.shape = {0};
    t.shape[0] = static_cast<int64_t>(rows);
    for (size_t i = 1; i < t.shape.size(); ++i) {
      const auto hint = hints.max_length.find(input.name);
      if (t.shape[i] < 0) t.shape[i] = hint != hints.max_length.end() ? hint->second : 1;
    }
    size_t size = 1;
    for (int64_t d : t.shape) size *= static_cast<size_t>(d);
    t.values.assign(size, 0.0);
    inputs[input.name] = t;
  }
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const size_t per_request = (rows + requests - 1) / requests;
  for (const FeatureConfig& f : recognized.ir.features) {
    const FeatureBinding* b = &BindingOf(recognized, f.name);
    Tensor& t = inputs.at(b->input);
    const size_t per_row = t.values.size() / rows;
    const uint32_t vocabulary = f.kind == fb::FeatureKind::Dense ? 0 : recognized.ir.tables.at(f.table).config.vocabulary;
    std::uniform_int_distribution<uint32_t> id(0, vocabulary == 0 ? 0 : vocabulary - 1);
    for (size_t r = 0; r < rows; ++r) {
      double* row = &t.values[r * per_row + b->begin];
      const int64_t width = b->end - b->begin;
      if (f.scope == fb::Scope::Request && r % per_request != 0) {
        const double* first = &t.values[(r - r % per_request) * per_row + b->begin];
        std::copy(first, first + width, row);
        continue;
      }
      if (f.kind == fb::FeatureKind::Dense) {
        for (int64_t i = 0; i < width; ++i) row[i] = normal(rng);
        continue;
      }
      int64_t length = width;
      if (f.kind == fb::FeatureKind::Sequence && f.has_padding_id) {
        const bool need_one = f.pooling == fb::Pooling::Mean && f.mean_eps == 0.0f;
        length = std::uniform_int_distribution<int64_t>(need_one ? 1 : 0, width)(rng);
      }
      for (int64_t i = 0; i < width; ++i) row[i] = i < length ? id(rng) : static_cast<double>(f.padding_id);
    }
  }
  return inputs;
}

std::vector<double> TaskValues(const RecognizedModel& recognized, const std::map<std::string, Tensor>& outputs,
                               size_t rows) {
  const size_t tasks = recognized.outputs.size();
  std::vector<double> values(rows * tasks);
  for (size_t t = 0; t < tasks; ++t) {
    const TaskOutput& o = recognized.outputs[t];
    const auto it = outputs.find(o.output);
    if (it == outputs.end() || it->second.values.size() != rows * o.columns) {
      throw ConvertError("graph output '" + o.output + "' does not hold " + std::to_string(o.columns) + " values a row");
    }
    for (size_t r = 0; r < rows; ++r) values[r * tasks + t] = it->second.values[r * o.columns + o.column];
  }
  return values;
}

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple
