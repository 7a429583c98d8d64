#include "onnx_import/onnx_masks.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "convert_error.h"
#include "onnx_import/onnx_eval.h"
#include "onnx_import/onnx_eval_ops.h"

namespace ple {
namespace convert {
namespace onnx_import {
namespace {

// Probe ids [rows, L]: for every candidate padding id c (0, -1 and every integer scalar constant
// of the subgraph), rows whose first k ids are ordinary and the rest c (k = 0..L), and one row
// alternating c and ordinary ids. Ordinary ids are distinct and equal to no candidate.
struct Probe {
  std::vector<int64_t> candidates;
  std::vector<std::vector<int64_t>> rows;
  std::vector<std::vector<int>> candidate_at;  // -1: an ordinary id, else the candidate's index
};

Probe MakeProbe(const IdFunction& f) {
  std::set<int64_t> candidates = {0, -1};
  for (const auto& [name, t] : f.constants) {
    if (t.size() == 1 && std::fabs(t.values[0]) < 2147483648.0 && t.values[0] == std::floor(t.values[0])) {
      candidates.insert(static_cast<int64_t>(t.values[0]));
    }
    if (candidates.size() >= 16) break;
  }
  Probe probe;
  probe.candidates.assign(candidates.begin(), candidates.end());
  int64_t ordinary = std::max(std::abs(*candidates.begin()), std::abs(*candidates.rbegin())) + 1001;
  const int64_t L = f.length;
  // Ordinary ids first, then the candidate: k of them for k in a few lengths (all for short
  // sequences), and once the candidate at every even position (k = L + 1).
  std::set<int64_t> lengths = {0, 1, 2, 3, L / 3, L / 2, L - 1, L, L + 1};
  if (L <= 16) {
    for (int64_t k = 0; k <= L + 1; ++k) lengths.insert(k);
  }
  for (size_t c = 0; c < probe.candidates.size(); ++c) {
    for (int64_t k : lengths) {
      if (k < 0 || k > L + 1) continue;
      std::vector<int64_t> row(L);
      std::vector<int> at(L);
      for (int64_t l = 0; l < L; ++l) {
        const bool is_candidate = k <= L ? l >= k : l % 2 == 0;
        row[l] = is_candidate ? probe.candidates[c] : ordinary++;
        at[l] = is_candidate ? static_cast<int>(c) : -1;
      }
      probe.rows.push_back(row);
      probe.candidate_at.push_back(at);
    }
  }
  return probe;
}

Tensor Run(const IdFunction& f, const Probe& probe, const std::string& who) {
  Graph sub;
  sub.opset = f.opset;
  sub.nodes = f.nodes;
  sub.initializers = f.constants;
  sub.outputs.push_back(ValueInfo{f.output, 0, {}, {}});
  const int64_t rows = static_cast<int64_t>(probe.rows.size());
  std::map<std::string, Tensor> inputs;
  for (const auto& [name, shape] : f.id_values) {
    sub.inputs.push_back(ValueInfo{name, 7, shape, {}});
    Tensor t;
    t.shape = shape;
    t.shape[0] = rows;
    t.integer = true;
    for (const auto& row : probe.rows) t.values.insert(t.values.end(), row.begin(), row.end());
    inputs[name] = t;
  }
  try {
    return Evaluate(sub, inputs).at(f.output);
  } catch (const ConvertError& e) {
    throw ConvertError(who + ": its mask or count could not be computed on probe ids (" + e.what() + ")");
  }
}

}  // namespace

PadRule ProbeMask(const IdFunction& mask, MaskUse use, int64_t dim, const std::string& who) {
  const Probe probe = MakeProbe(mask);
  Tensor m = Run(mask, probe, who);
  if (mask.negate) {
    for (double& v : m.values) v = v == 0.0 ? 1.0 : v == 1.0 ? 0.0 : v;
  }
  const int64_t rows = static_cast<int64_t>(probe.rows.size()), L = mask.length;
  std::vector<int64_t> s = m.shape;
  while (s.size() < 3) s.insert(s.begin(), 1);
  const bool fits = use == MaskUse::kBatchMatMul
                        ? m.shape.size() == 3 && s[0] == rows && s[1] == 1 && s[2] == L
                        : s.size() == 3 && s[0] == rows && (s[1] == L || s[1] == 1) && (s[2] == dim || s[2] == 1);
  if (!fits) {
    throw ConvertError(who + ": a sequence mask of shape " + ops::ShapeText(m.shape) + " on probe ids [" +
                       std::to_string(rows) + ", " + std::to_string(L) + "]; expected one value per row and position (" +
                       (use == MaskUse::kBatchMatMul ? "[B, 1, L]" : "broadcasting to [B, L, D]") + ")");
  }
  const bool matmul = use == MaskUse::kBatchMatMul;
  const int64_t dims = matmul ? 1 : s[2];  // values per (row, position)
  auto at = [&](int64_t b, int64_t l, int64_t d) {
    if (matmul) return m.values[static_cast<size_t>(b * L + l)];
    return m.values[static_cast<size_t>((b * s[1] + (s[1] == 1 ? 0 : l)) * s[2] + (s[2] == 1 ? 0 : d))];
  };
  // per candidate: -1 unseen, 0 masked, 1 kept
  std::vector<int> kept(probe.candidates.size(), -1);
  for (int64_t b = 0; b < rows; ++b) {
    for (int64_t l = 0; l < L; ++l) {
      const double v = at(b, l, 0);
      for (int64_t d = 1; d < dims; ++d) {
        if (at(b, l, d) != v) throw ConvertError(who + ": the sequence mask differs along the embedding dimension");
      }
      if (v != 0.0 && v != 1.0) {
        throw ConvertError(who + ": the sequence mask holds " + std::to_string(v) + ", not 0 or 1: a weighted pooling "
                           "is outside the family (sum and mean pooling, skipping one padding id)");
      }
      const int c = probe.candidate_at[b][l];
      if (c < 0) {
        if (v != 1.0) {
          throw ConvertError(who + ": the sequence mask drops an ordinary id: only one padding id may be skipped "
                             "(ids compared with anything else, e.g. by Less or Greater, are outside the family)");
        }
      } else if (kept[c] == -1) {
        kept[c] = static_cast<int>(v);
      } else if (kept[c] != static_cast<int>(v)) {
        throw ConvertError(who + ": the sequence mask depends on where an id stands, not only on the id (a length "
                           "column's mask is not read yet: give padded ids)");
      }
    }
  }
  PadRule pad;
  for (size_t c = 0; c < probe.candidates.size(); ++c) {
    if (kept[c] != 0) continue;
    if (pad.has_padding_id) {
      throw ConvertError(who + ": the sequence mask skips two ids (" + std::to_string(pad.padding_id) + " and " +
                         std::to_string(probe.candidates[c]) + "); the runtime skips one padding id");
    }
    pad.has_padding_id = true;
    pad.padding_id = probe.candidates[c];
  }
  return pad;
}

double ProbeCount(const IdFunction& count, const PadRule& pad, const std::vector<int64_t>& pooled_shape,
                  const std::string& who) {
  const Probe probe = MakeProbe(count);
  const Tensor c = Run(count, probe, who);
  const size_t rows = probe.rows.size();
  bool fits = c.shape.size() == pooled_shape.size() && c.shape[0] == static_cast<int64_t>(rows);
  for (size_t i = 1; fits && i < c.shape.size(); ++i) fits = c.shape[i] == 1;
  if (!fits) {
    throw ConvertError(who + ": divides a pooled sequence by a value of shape " + ops::ShapeText(c.shape) +
                       " on probe rows " + std::to_string(rows) + "; expected one count per row");
  }
  // epsilon: the excess of the rows with ids; an empty row's count when it agrees (exact there)
  bool have = false;
  double eps = 0.0;
  std::vector<double> empty_counts;
  for (size_t b = 0; b < rows; ++b) {
    int64_t valid = 0;
    for (int64_t id : probe.rows[b]) valid += !pad.has_padding_id || id != pad.padding_id;
    const double v = c.values[b];
    if (valid == 0) {
      if (!(v >= 0.0)) throw ConvertError(who + ": an empty sequence's count is " + std::to_string(v));
      empty_counts.push_back(v);
      continue;
    }
    const double e = v - static_cast<double>(valid);
    if (!have) {
      eps = e, have = true;
    } else if (std::fabs(e - eps) > 1e-9 * (1.0 + std::fabs(v))) {
      throw ConvertError(who + ": a mean divides by something other than the number of ids that count (" +
                         std::to_string(v) + " for " + std::to_string(valid) + " ids)");
    }
  }
  for (double v : empty_counts) {
    if (std::fabs(v - eps) <= 1e-9) eps = v;
  }
  if (!(eps >= 0.0) || eps >= 1.0) {
    throw ConvertError(who + ": a mean divides by the count of ids plus " + std::to_string(eps) +
                       "; expected a small epsilon >= 0");
  }
  return eps;
}

}  // namespace onnx_import
}  // namespace convert
}  // namespace ple
