#include "kernels/kernels.h"

namespace ple::rt {
namespace kernels {

void qs8_pair_blocks(const int8_t* w, size_t w_tile_stride, size_t tiles, size_t blocks, int8_t* out) {
  for (size_t t = 0; t < tiles; ++t) {
    const int8_t* from = w + t * w_tile_stride;  // [blocks][16 channels][4 inputs]
    int8_t* to = out + t * w_tile_stride;
    for (size_t b = 0; b + 1 < blocks; b += 2) {  // a pair: [8 channel pairs][2 channels][8 inputs]
      const int8_t* first = from + b * 64;
      int8_t* pair = to + b * 64;
      for (size_t c = 0; c < 16; ++c) {
        for (size_t j = 0; j < 4; ++j) {
          pair[8 * c + j] = first[4 * c + j];
          pair[8 * c + 4 + j] = first[64 + 4 * c + j];
        }
      }
    }
    if (blocks % 2 != 0) {  // the odd last block: [8 channel pairs][2 channels][4 inputs], the same order
      const size_t b = blocks - 1;
      for (size_t i = 0; i < 64; ++i) to[b * 64 + i] = from[b * 64 + i];
    }
  }
}

}  // namespace kernels
}  // namespace ple::rt
