// Internal access behind the C API handles, for the project's own tools and tests (e.g.
// ple-conformance records gate weights through the session). Not part of the public API.
#ifndef PLE_RUNTIME_CAPI_C_API_INTERNAL_H_
#define PLE_RUNTIME_CAPI_C_API_INTERNAL_H_

#include "ple/ple.h"
#include "run/session.h"

namespace ple::rt {

Session* InternalSession(ple_session* session);

// ple_model_open_buffer_copy without the FlatBuffers verifier, for one fuzz target only (see
// LoadedModel::Load): the buffer must be a verifier-valid file with scalar fields overwritten.
ple_status OpenModelSkippingVerifier(const void* data, size_t size_bytes, ple_model** out_model);

}  // namespace ple::rt

#endif  // PLE_RUNTIME_CAPI_C_API_INTERNAL_H_
