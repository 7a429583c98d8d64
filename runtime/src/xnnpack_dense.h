// The XNNPACK kernel path (built when PLE_XNNPACK is on; xnnpack_dense_stub.cc otherwise).
#ifndef PLE_RUNTIME_XNNPACK_DENSE_H_
#define PLE_RUNTIME_XNNPACK_DENSE_H_

#include <cstddef>
#include <memory>

#include "dense_kernel.h"

namespace ple::rt {

// Initialises XNNPACK once per process; false when not built or the CPU is unsupported.
bool XnnpackAvailable();

Status CreateXnnpackDenseKernel(const DenseSpec& spec, std::unique_ptr<DenseKernel>* out, size_t* packed_bytes);

size_t XnnpackPackedBytesBound(const DenseSpec& spec);

}  // namespace ple::rt

#endif  // PLE_RUNTIME_XNNPACK_DENSE_H_
