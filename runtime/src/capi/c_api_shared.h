// What the C API's files share (internal to capi/): the handles behind the opaque C types,
// the struct-size rule, the exception guard, and the status helpers. docs/c-api.md states the
// contracts these implement.
#ifndef PLE_RUNTIME_CAPI_C_API_SHARED_H_
#define PLE_RUNTIME_CAPI_C_API_SHARED_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "load/model.h"
#include "ple/ple.h"
#include "run/session.h"
#include "status.h"

struct ple_model {
  std::shared_ptr<const ple::rt::LoadedModel> model;
};

struct ple_session {
  std::unique_ptr<ple::rt::Session> session;
  std::vector<ple::rt::FeatureSource> sources;  // scratch: one per feature and extra
  std::vector<uint8_t> given;                   // scratch: which were given
};

struct ple_request {
  std::shared_ptr<const ple::rt::LoadedModel> model;
  std::vector<float> values;                    // the request-scope columns (LoadedModel::request_width)
  uint64_t generation = 0;                      // 0: not set yet
  std::vector<ple::rt::FeatureSource> sources;  // scratch
  std::vector<uint8_t> given;                   // scratch
};

namespace ple::capi {

using rt::SetLastError;

inline ple_status Fail(const rt::Status& status) { return SetLastError(status); }

// The struct rule of docs/c-api.md: a caller's struct may come from an older header (a smaller
// struct_size) or a newer one (larger). It must hold the fields the struct had when it was
// introduced, which end at `first_bytes`; a field added since is read or written only when
// PLE_COVERS says struct_size reaches past it (otherwise its default applies).
#define PLE_COVERS(s, type, field) ((s)->struct_size >= offsetof(type, field) + sizeof((s)->field))

ple_status CheckStructSize(uint32_t struct_size, size_t first_bytes, const char* name, const char* hint);

// Where the first version of each struct ended.
constexpr size_t kOpenOptionsFirstBytes = offsetof(ple_model_open_options, public_key) + sizeof(const uint8_t*);
constexpr size_t kSessionOptionsFirstBytes = offsetof(ple_session_options, kernel_path) + sizeof(ple_kernel_path);
constexpr size_t kSessionInfoFirstBytes = offsetof(ple_session_info, packed_weight_bytes) + sizeof(size_t);
constexpr size_t kScoreParamsFirstBytes = offsetof(ple_score_params, transform_offset) + sizeof(float);
constexpr size_t kExpertInfoFirstBytes = offsetof(ple_expert_info, parameters) + sizeof(uint64_t);
constexpr size_t kGateInfoFirstBytes = offsetof(ple_gate_info, parameters) + sizeof(uint64_t);
constexpr size_t kCpuClassesFirstBytes = offsetof(ple_cpu_classes, num_classes) + sizeof(uint32_t);

// ABI 1.2's layouts, the same on every target (no padding before a 64-bit field).
static_assert(offsetof(ple_session_options, cpus) == 20 && offsetof(ple_session_options, cpu_mask) == 24 &&
                  sizeof(ple_session_options) == 32,
              "ple_session_options: ABI 1.2 appends cpus and cpu_mask after record_gates");
static_assert(offsetof(ple_cpu_classes, cpus) == 8 && offsetof(ple_cpu_classes, allowed) == 32 &&
                  offsetof(ple_cpu_classes, num_classes) == 40,
              "ple_cpu_classes: four 64-bit masks after struct_size and source");

// Runs `call(context)` and turns any exception into a status. One out-of-line copy of the
// handlers serves every entry point (Guard below only adds a trampoline): a template holding
// the handlers cost about 300 bytes per entry point.
ple_status GuardCall(ple_status (*call)(void*), void* context);

template <typename Function>
ple_status Guard(Function&& function) {
  using F = std::remove_reference_t<Function>;
  return GuardCall([](void* f) { return (*static_cast<F*>(f))(); }, &function);
}

}  // namespace ple::capi

#endif  // PLE_RUNTIME_CAPI_C_API_SHARED_H_
