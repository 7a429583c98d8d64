#include "run/feature_layer.h"

#include <cmath>
#include <cstring>

#include "kernels/kernels.h"
#include "status.h"

namespace ple::rt {
namespace {

// The table row an id reads, or false when the id is out of vocabulary under the error policy.
bool MapId(const FeatureSpec& feature, uint32_t vocabulary, int64_t id, uint32_t* row) {
  if (id >= 0 && id < static_cast<int64_t>(vocabulary)) {
    *row = static_cast<uint32_t>(id);
    return true;
  }
  switch (feature.oov) {
    case OovPolicy::kError:
      return false;
    case OovPolicy::kOovRow:
      *row = feature.oov_row;
      return true;
    case OovPolicy::kHash: {
      const int64_t v = static_cast<int64_t>(vocabulary);
      *row = static_cast<uint32_t>(((id % v) + v) % v);  // floor modulo: -1 -> v - 1
      return true;
    }
  }
  return false;
}

ple_status OovError(const FeatureSpec& feature, const TableSpec& table, int64_t id, size_t row) {
  return SetLastError(PLE_ERROR_INVALID_ARGUMENT,
                      "feature '%s': id %lld of candidate %zu is outside the vocabulary [0, %u) of table '%s' "
                      "(oov policy: error)",
                      feature.name.c_str(), static_cast<long long>(id), row, table.rows, table.name.c_str());
}

// out[c] = table row `row` (dim values), or out[c] += it when `accumulate`.
void ReadRow(const TableSpec& table, uint32_t row, float* out, bool accumulate) {
  if (table.int8) {
    const float scale = kernels::f16_to_f32(table.row_scales[row]);
    const int8_t* values = static_cast<const int8_t*>(table.data) + size_t{row} * table.dim;
    for (uint32_t c = 0; c < table.dim; ++c) {
      const float v = scale * static_cast<float>(values[c]);
      out[c] = accumulate ? out[c] + v : v;
    }
    return;
  }
  if (!table.f16) {
    const float* values = static_cast<const float*>(table.data) + size_t{row} * table.dim;
    if (accumulate) {
      for (uint32_t c = 0; c < table.dim; ++c) out[c] += values[c];
    } else {
      std::memcpy(out, values, table.dim * sizeof(float));
    }
    return;
  }
  const uint16_t* values = static_cast<const uint16_t*>(table.data) + size_t{row} * table.dim;
  for (uint32_t c = 0; c < table.dim; ++c) {
    const float v = kernels::f16_to_f32(values[c]);
    out[c] = accumulate ? out[c] + v : v;
  }
}

// True when no value is NaN or infinite: an exponent field of all ones, plus one in its lowest
// bit, carries into bit 31, and only then. Integer and/add/or over the bits, which the
// compiler vectorizes (a float comparison chain it does not).
bool AllFinite(const float* values, size_t count) {
  uint32_t carried = 0;
  for (size_t i = 0; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, values + i, sizeof bits);
    carried |= (bits & 0x7f800000u) + 0x00800000u;
  }
  return (carried & 0x80000000u) == 0;
}

}  // namespace

ple_status AssembleFeature(const LoadedModel& model, const FeatureSpec& feature, FeatureSource* source, size_t first_row,
                           size_t rows, size_t row_label, float* out, size_t out_stride, size_t column) {
  switch (feature.kind) {
    case FeatureKind::kDense:
      for (size_t r = 0; r < rows; ++r) {
        const float* in = source->dense + (first_row + r) * source->dense_stride;
        float* dst = out + r * out_stride + column;
        // Fast path: every value finite, copied or normalized with the same operations as below.
        if (AllFinite(in, feature.width)) {
          if (feature.normalize_mean == nullptr) {
            std::memcpy(dst, in, feature.width * sizeof(float));
          } else {
            for (uint32_t c = 0; c < feature.width; ++c) dst[c] = (in[c] - feature.normalize_mean[c]) / feature.normalize_std[c];
          }
          continue;
        }
        for (uint32_t c = 0; c < feature.width; ++c) {
          float v = in[c];
          if (!std::isfinite(v)) {
            if (!feature.nan_replace) {
              return SetLastError(PLE_ERROR_INVALID_ARGUMENT,
                                  "feature '%s': value %u of candidate %zu is %s (nan policy: error)",
                                  feature.name.c_str(), c, row_label + r, std::isnan(v) ? "NaN" : "infinite");
            }
            v = feature.nan_replacement;
          }
          if (feature.normalize_mean != nullptr) v = (v - feature.normalize_mean[c]) / feature.normalize_std[c];
          dst[c] = v;
        }
      }
      return PLE_OK;
    case FeatureKind::kSparse: {
      const TableSpec& table = model.tables()[feature.table];
      for (size_t r = 0; r < rows; ++r) {
        const int64_t id = source->ids[first_row + r];
        uint32_t row = 0;
        if (!MapId(feature, table.rows, id, &row)) return OovError(feature, table, id, row_label + r);
        ReadRow(table, row, out + r * out_stride + column, /*accumulate=*/false);
      }
      return PLE_OK;
    }
    case FeatureKind::kSequence: {
      const TableSpec& table = model.tables()[feature.table];
      for (size_t r = 0; r < rows; ++r) {
        const size_t length = source->lengths ? source->lengths[first_row + r] : feature.max_length;
        if (length > feature.max_length) {
          return SetLastError(PLE_ERROR_INVALID_ARGUMENT, "feature '%s': candidate %zu has %zu ids, max_length is %u",
                              feature.name.c_str(), row_label + r, length, feature.max_length);
        }
        const int64_t* ids = source->lengths ? source->ids + source->next_id
                                             : source->ids + (first_row + r) * feature.max_length;
        if (source->lengths) source->next_id += length;
        float* dst = out + r * out_stride + column;
        std::memset(dst, 0, table.dim * sizeof(float));
        uint32_t count = 0;
        for (size_t i = 0; i < length; ++i) {
          if (feature.has_padding_id && ids[i] == feature.padding_id) continue;
          uint32_t row = 0;
          if (!MapId(feature, table.rows, ids[i], &row)) return OovError(feature, table, ids[i], row_label + r);
          ReadRow(table, row, dst, /*accumulate=*/true);
          ++count;
        }
        if (feature.mean_pooling && count > 0) {
          const float divisor = static_cast<float>(count) + feature.mean_eps;
          for (uint32_t c = 0; c < table.dim; ++c) dst[c] /= divisor;
        }
      }
      return PLE_OK;
    }
  }
  return SetLastError(PLE_ERROR_INTERNAL, "feature '%s': unknown kind", feature.name.c_str());
}

}  // namespace ple::rt
