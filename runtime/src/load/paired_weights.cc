// The i8mm path's int8 weights (LoadedModel::PairedInt8Weights): a model-owned copy in the paired
// layout, built once. The file's layout stays what every other path reads in place; this copy
// costs the model's int8 weight bytes in memory, and the file's weight pages are not read again
// on this path (docs/kernels.md, "The i8mm weight layout", has the measurements behind it).
#include <cstdlib>

#include "kernels/kernels.h"
#include "load/model.h"

namespace ple::rt {

size_t LoadedModel::int8_weight_bytes() const {
  size_t bytes = 0;
  for (const PackedGroup& g : packed_groups_) {
    if (g.type == WeightType::kI8) bytes += g.weight_bytes;
  }
  return bytes;
}

const int8_t* LoadedModel::PairedInt8Weights(const PackedGroup& g) const {
  std::call_once(paired_once_, [this] {
    paired_.resize(packed_groups_.size());
    for (size_t i = 0; i < packed_groups_.size(); ++i) {
      const PackedGroup& group = packed_groups_[i];
      if (group.type != WeightType::kI8 || group.weight_bytes == 0) continue;
      int8_t* copy = static_cast<int8_t*>(std::aligned_alloc(64, (group.weight_bytes + 63) / 64 * 64));
      if (copy == nullptr) {  // all or nothing: a session asking gets nullptr and says so
        paired_.clear();
        return;
      }
      paired_[i].reset(copy);
      const int8_t* weights = static_cast<const int8_t*>(group.weights);
      const size_t tiles = group.columns / 16, tile_stride = size_t{group.blocks} * 64;
      for (const QuantSlice& slice : group.slices) {
        const size_t offset = size_t{slice.first_block} * 64;
        kernels::qs8_pair_blocks(weights + offset, tile_stride, tiles, slice.blocks, copy + offset);
      }
    }
  });
  for (size_t i = 0; i < paired_.size(); ++i) {
    if (&packed_groups_[i] == &g) return paired_[i].get();
  }
  return nullptr;
}

}  // namespace ple::rt
