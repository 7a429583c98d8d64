// The feature layer of a model file: embedding tables, features, encoders (model_reader.h).
#include <cmath>
#include <set>
#include <string>

#include "load/model_reader.h"
#include "run/encoder.h"

namespace ple::rt {

// The embedding tables: float32, float16, or int8 rows with a float16 scale each.
Status ModelReader::ReadTables(const fb::Model& root) {
  LoadedModel& m = *model_;
  const auto* tables = root.tables();
  if (tables == nullptr) return Status::Ok();
  for (uint32_t t = 0; t < tables->size(); ++t) {
    const fb::EmbeddingTable* table = tables->Get(t);
    TableSpec info;
    info.name = table->name()->str();
    const fb::Tensor* rows = table->rows();
    const std::string what = "tables." + info.name;
    const auto* shape = rows->shape();
    if (shape == nullptr || shape->size() != 2 || shape->Get(0) == 0 || shape->Get(1) == 0 ||
        shape->Get(1) > kMaxWidth) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "%s: a [vocabulary, dim] shape expected", what.c_str());
    }
    info.rows = shape->Get(0);
    info.dim = shape->Get(1);
    if (rows->dtype() == fb::DType::I8) {
      const uint64_t bytes = uint64_t{info.rows} * info.dim;
      const auto* scales = table->row_scales();
      if (rows->data() == nullptr || rows->data()->size() != bytes || scales == nullptr ||
          scales->size() != info.rows) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "%s: %llu int8 bytes and %u row scales expected", what.c_str(),
                         static_cast<unsigned long long>(bytes), info.rows);
      }
      info.data = rows->data()->data();
      info.int8 = true;
      info.row_scales = scales->data();
    } else if (rows->dtype() == fb::DType::F16) {
      const uint64_t bytes = uint64_t{info.rows} * info.dim * 2;
      if (rows->data() == nullptr || rows->data()->size() != bytes) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "%s: %llu data bytes expected for float16", what.c_str(),
                         static_cast<unsigned long long>(bytes));
      }
      info.data = rows->data()->data();
      info.f16 = true;
    } else {
      const float* data = nullptr;
      Status status = ReadTensor(rows, what, {info.rows, info.dim}, &data);
      if (!status.ok()) return status;
      info.data = data;
    }
    m.tables_.push_back(std::move(info));
  }
  return Status::Ok();
}

Status ModelReader::ReadFeatureLayer(const fb::Model& root) {
  LoadedModel& m = *model_;
  const auto* inputs = root.inputs();
  const auto* features = root.features();
  if ((inputs != nullptr) == (features != nullptr)) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "the model needs exactly one of 'inputs' and 'features'");
  }
  Status status = ReadTables(root);
  if (!status.ok()) return status;
  std::set<std::string> names;
  uint64_t row_width = 0;
  const uint32_t count = inputs ? inputs->size() : features->size();
  if (count == 0) return MakeError(PLE_ERROR_INVALID_MODEL, "the model has no inputs");
  for (uint32_t i = 0; i < count; ++i) {
    FeatureSpec info;
    fb::Scope scope;
    if (inputs != nullptr) {
      const fb::Input* in = inputs->Get(i);
      info.name = in->name()->str();
      info.width = in->width();
      scope = in->scope();
    } else {
      const fb::Feature* f = features->Get(i);
      info.name = f->name()->str();
      info.width = f->width();
      scope = f->scope();
      status = ReadFeature(*f, &info);
      if (!status.ok()) return status;
    }
    if (scope != fb::Scope::Candidate && scope != fb::Scope::Request) {
      return MakeError(PLE_ERROR_UNSUPPORTED, "feature '%s': scope %d unknown", info.name.c_str(),
                       static_cast<int>(scope));
    }
    info.scope = scope == fb::Scope::Request ? PLE_SCOPE_REQUEST : PLE_SCOPE_CANDIDATE;
    if (info.width == 0 || info.width > kMaxWidth) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': width %u outside [1, %u]", info.name.c_str(),
                       info.width, kMaxWidth);
    }
    if (!names.insert(info.name).second) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "input name '%s' appears twice", info.name.c_str());
    }
    info.row_offset = static_cast<uint32_t>(row_width);
    row_width += info.width;
    if (row_width > kMaxWidth) return MakeError(PLE_ERROR_INVALID_MODEL, "input row wider than %u floats", kMaxWidth);
    m.features_.push_back(std::move(info));
  }
  m.row_width_ = static_cast<uint32_t>(row_width);
  uint32_t request_offset = 0, candidate_offset = 0;
  bool seen_candidate = false;
  for (FeatureSpec& f : m.features_) {
    const bool request = f.scope == PLE_SCOPE_REQUEST;
    f.segment_offset = request ? request_offset : candidate_offset;
    (request ? request_offset : candidate_offset) += f.width;
    if (request && seen_candidate) m.request_first_ = false;
    seen_candidate = seen_candidate || !request;
    m.dense_only_ = m.dense_only_ && f.kind == FeatureKind::kDense;
  }
  m.request_width_ = request_offset;
  if (const auto* extras = root.extras()) {
    for (uint32_t i = 0; i < extras->size(); ++i) {
      const std::string name = extras->Get(i)->str();
      if (name.empty() || !names.insert(name).second) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "extra '%s' is empty or already a feature or an extra", name.c_str());
      }
      m.extras_.push_back(name);
    }
  }
  return Status::Ok();
}

// A dense feature: optional normalization (finite means, finite stds > 0) and its NaN policy.
Status ModelReader::ReadDenseFeature(const fb::Feature& f, FeatureSpec* info) {
  const std::string& name = info->name;
  info->kind = FeatureKind::kDense;
  const auto* mean = f.normalize_mean();
  const auto* std_dev = f.normalize_std();
  if ((mean != nullptr) != (std_dev != nullptr) ||
      (mean != nullptr && (mean->size() != info->width || std_dev->size() != info->width))) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': normalize needs %u means and %u stds", name.c_str(),
                     info->width, info->width);
  }
  if (mean != nullptr) {
    for (uint32_t i = 0; i < info->width; ++i) {
      if (!std::isfinite(mean->Get(i)) || !(std_dev->Get(i) > 0.0f) || !std::isfinite(std_dev->Get(i))) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': normalize value %u is not finite or std <= 0",
                         name.c_str(), i);
      }
    }
    info->normalize_mean = mean->data();
    info->normalize_std = std_dev->data();
  }
  if (f.nan_policy() != fb::NanPolicy::Error && f.nan_policy() != fb::NanPolicy::Replace) {
    return MakeError(PLE_ERROR_UNSUPPORTED, "feature '%s': nan policy %d unknown", name.c_str(),
                     static_cast<int>(f.nan_policy()));
  }
  info->nan_replace = f.nan_policy() == fb::NanPolicy::Replace;
  info->nan_replacement = f.nan_replacement();
  if (!std::isfinite(info->nan_replacement)) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': nan replacement is not finite", name.c_str());
  }
  return Status::Ok();
}

Status ModelReader::ReadFeature(const fb::Feature& f, FeatureSpec* info) {
  const LoadedModel& m = *model_;
  const std::string& name = info->name;
  switch (f.kind()) {
    case fb::FeatureKind::Dense:
      return ReadDenseFeature(f, info);
    case fb::FeatureKind::Sparse:
    case fb::FeatureKind::Sequence:
      break;
    default:
      return MakeError(PLE_ERROR_UNSUPPORTED, "feature '%s': kind %d unknown", name.c_str(), static_cast<int>(f.kind()));
  }
  info->kind = f.kind() == fb::FeatureKind::Sparse ? FeatureKind::kSparse : FeatureKind::kSequence;
  if (f.table() >= m.tables_.size()) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': table index %u out of range [0, %zu)", name.c_str(),
                     f.table(), m.tables_.size());
  }
  info->table = f.table();
  const TableSpec& table = m.tables_[info->table];
  if (info->width != table.dim) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': width %u differs from table '%s' dim %u", name.c_str(),
                     info->width, table.name.c_str(), table.dim);
  }
  switch (f.oov_policy()) {
    case fb::OovPolicy::Error: info->oov = OovPolicy::kError; break;
    case fb::OovPolicy::OovRow: info->oov = OovPolicy::kOovRow; break;
    case fb::OovPolicy::Hash: info->oov = OovPolicy::kHash; break;
    default:
      return MakeError(PLE_ERROR_UNSUPPORTED, "feature '%s': oov policy %d unknown", name.c_str(),
                       static_cast<int>(f.oov_policy()));
  }
  info->oov_row = f.oov_row();
  if (info->oov == OovPolicy::kOovRow && info->oov_row >= table.rows) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': oov row %u outside table '%s' of %u rows", name.c_str(),
                     info->oov_row, table.name.c_str(), table.rows);
  }
  if (info->kind == FeatureKind::kSequence) {
    info->max_length = f.max_length();
    if (info->max_length == 0 || info->max_length > (1u << 20)) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': max_length %u outside [1, 2^20]", name.c_str(),
                       info->max_length);
    }
    if (f.pooling() != fb::Pooling::Sum && f.pooling() != fb::Pooling::Mean) {
      return MakeError(PLE_ERROR_UNSUPPORTED, "feature '%s': pooling %d unknown", name.c_str(),
                       static_cast<int>(f.pooling()));
    }
    info->mean_pooling = f.pooling() == fb::Pooling::Mean;
    info->has_padding_id = f.has_padding_id();
    info->padding_id = f.padding_id();
    info->mean_eps = f.mean_eps();
    if (!(info->mean_eps >= 0.0f) || !std::isfinite(info->mean_eps)) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': mean_eps must be finite and >= 0", name.c_str());
    }
  }
  if (f.encoder() != nullptr) return ReadEncoder(*f.encoder(), table.rows, info);
  return Status::Ok();
}

// A string or int64 vocabulary: keys sorted and unique (strings valid UTF-8, their offsets
// from 0 to the byte count), ids and the OOV id inside the table.
Status ModelReader::ReadVocabulary(const fb::Encoder& e, uint32_t table_rows, FeatureSpec* info) {
  const std::string& name = info->name;
  EncoderSpec& out = info->encoder;
  auto id_in_table = [&](int64_t id) { return id >= 0 && static_cast<uint64_t>(id) < table_rows; };
  const bool strings = e.kind() == fb::EncoderKind::StringVocabulary;
  const auto* ids = e.ids();
  const size_t n = ids ? ids->size() : 0;
  if (n == 0 || n > kMaxVocabularyKeys) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': vocabulary of %zu keys outside [1, %zu]", name.c_str(),
                     n, kMaxVocabularyKeys);
  }
  for (size_t i = 0; i < n; ++i) {
    if (!id_in_table(ids->Get(i))) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': vocabulary id %lld outside the table's %u rows",
                       name.c_str(), static_cast<long long>(ids->Get(i)), table_rows);
    }
  }
  if (strings) {
    const auto* offsets = e.string_offsets();
    const auto* bytes = e.string_bytes();
    if (offsets == nullptr || bytes == nullptr || offsets->size() != n + 1 || offsets->Get(0) != 0 ||
        offsets->Get(static_cast<uint32_t>(n)) != bytes->size()) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': string vocabulary offsets do not match its %zu keys",
                       name.c_str(), n);
    }
    for (size_t i = 0; i < n; ++i) {
      const uint32_t begin = offsets->Get(static_cast<uint32_t>(i)), end = offsets->Get(static_cast<uint32_t>(i + 1));
      if (end < begin || !IsValidUtf8(bytes->data() + begin, end - begin)) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': vocabulary key %zu is not valid UTF-8",
                         name.c_str(), i);
      }
      if (i > 0) {
        const uint32_t previous = offsets->Get(static_cast<uint32_t>(i - 1));
        if (CompareBytes(bytes->data() + previous, begin - previous, bytes->data() + begin, end - begin) >= 0) {
          return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': vocabulary keys are not sorted and unique at %zu",
                           name.c_str(), i);
        }
      }
    }
    out.string_offsets = offsets->data();
    out.string_bytes = bytes->data();
    out.bytes = offsets->size() * 4 + bytes->size() + n * 8;
  } else {
    const auto* keys = e.int_keys();
    if (keys == nullptr || keys->size() != n) {
      return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': %u int keys for %zu ids", name.c_str(),
                       keys ? keys->size() : 0, n);
    }
    for (size_t i = 1; i < n; ++i) {
      if (keys->Get(static_cast<uint32_t>(i - 1)) >= keys->Get(static_cast<uint32_t>(i))) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': vocabulary keys are not sorted and unique at %zu",
                         name.c_str(), i);
      }
    }
    out.int_keys = keys->data();
    out.bytes = n * 16;
  }
  out.kind = strings ? EncoderKind::kStringVocabulary : EncoderKind::kIntVocabulary;
  out.size = n;
  out.ids = ids->data();
  out.has_oov_id = e.has_oov_id();
  out.oov_id = e.oov_id();
  if (out.has_oov_id && !id_in_table(out.oov_id)) {
    return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': oov id %lld outside the table's %u rows", name.c_str(),
                     static_cast<long long>(out.oov_id), table_rows);
  }
  return Status::Ok();
}

// Checks everything a lookup relies on (sorted keys, offsets in range, valid UTF-8, ids inside
// the table), so encoding never reads outside the file.
Status ModelReader::ReadEncoder(const fb::Encoder& e, uint32_t table_rows, FeatureSpec* info) {
  const std::string& name = info->name;
  EncoderSpec& out = info->encoder;
  switch (e.kind()) {
    case fb::EncoderKind::None:
      return Status::Ok();
    case fb::EncoderKind::StringVocabulary:
    case fb::EncoderKind::IntVocabulary:
      return ReadVocabulary(e, table_rows, info);
    case fb::EncoderKind::HashString:
    case fb::EncoderKind::HashInt:
      if (e.buckets() == 0 || e.buckets() > table_rows) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': %llu hash buckets outside [1, %u] (the table's rows)",
                         name.c_str(), static_cast<unsigned long long>(e.buckets()), table_rows);
      }
      out.kind = e.kind() == fb::EncoderKind::HashString ? EncoderKind::kHashString : EncoderKind::kHashInt;
      out.buckets = e.buckets();
      return Status::Ok();
    case fb::EncoderKind::Boundaries: {
      const auto* b = e.boundaries();
      const size_t n = b ? b->size() : 0;
      if (n == 0 || n + 1 > table_rows) {
        return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': %zu boundaries make %zu buckets, the table has %u rows",
                         name.c_str(), n, n + 1, table_rows);
      }
      for (size_t i = 0; i < n; ++i) {
        const float x = b->Get(static_cast<uint32_t>(i));
        if (!std::isfinite(x) || (i > 0 && !(b->Get(static_cast<uint32_t>(i - 1)) < x))) {
          return MakeError(PLE_ERROR_INVALID_MODEL, "feature '%s': boundaries must be finite and strictly ascending (%zu)",
                           name.c_str(), i);
        }
      }
      out.kind = EncoderKind::kBoundaries;
      out.size = n;
      out.boundaries = b->data();
      out.bytes = n * 4;
      return Status::Ok();
    }
  }
  return MakeError(PLE_ERROR_UNSUPPORTED, "feature '%s': encoder kind %d unknown", name.c_str(),
                   static_cast<int>(e.kind()));
}

}  // namespace ple::rt
