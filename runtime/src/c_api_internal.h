// Internal access behind the C API handles, for the project's own tools and tests (e.g.
// ple-conformance records gate weights through the session). Not part of the public API.
#ifndef PLE_RUNTIME_C_API_INTERNAL_H_
#define PLE_RUNTIME_C_API_INTERNAL_H_

#include "ple/ple.h"
#include "session.h"

namespace ple::rt {

Session* InternalSession(ple_session* session);

}  // namespace ple::rt

#endif  // PLE_RUNTIME_C_API_INTERNAL_H_
