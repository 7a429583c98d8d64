// Row blocking for the tile kernels: `block(std::integral_constant<int, R>{}, first_row)` over
// `rows` rows in blocks of MR, the last block with R = rows % MR. Every row takes the same
// instructions whatever block it falls in, so its result does not depend on the batch.
// Internal linkage: see quantize-params.h.
#ifndef PLE_RUNTIME_KERNELS_ROW_BLOCKS_H_
#define PLE_RUNTIME_KERNELS_ROW_BLOCKS_H_

#include <cstddef>
#include <type_traits>

namespace ple::rt {
namespace kernels {
namespace {

template <int N, typename Block>
inline void RemainingRows(size_t rest, size_t first_row, Block& block) {
  if constexpr (N > 0) {
    if (rest == N) {
      block(std::integral_constant<int, N>{}, first_row);
    } else {
      RemainingRows<N - 1>(rest, first_row, block);
    }
  }
}

template <int MR, typename Block>
inline void ForRowBlocks(size_t rows, Block&& block) {
  size_t r = 0;
  for (; r + MR <= rows; r += MR) block(std::integral_constant<int, MR>{}, r);
  RemainingRows<MR - 1>(rows - r, r, block);
}

}  // namespace
}  // namespace kernels
}  // namespace ple::rt

#endif  // PLE_RUNTIME_KERNELS_ROW_BLOCKS_H_
