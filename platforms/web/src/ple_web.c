/* Entry points for the JavaScript package (platforms/web/src/ple.js) that JavaScript cannot
 * call on the C API directly: those taking or returning C structs. JavaScript lays out no C
 * struct itself except ple_feature_values, whose layout it reads here at load
 * (ple_web_feature_values_layout). Everything else the package calls is the C API (ple.h),
 * exported from the module by name. wasm32: pointers and size_t are 4 bytes. */
#include <emscripten.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>

#include <ple/ple.h>

_Static_assert(sizeof(void*) == 4 && sizeof(size_t) == 4, "the package reads pointers and sizes as 32-bit");

/* Opens a model from `size` bytes at `data` (the caller's buffer, freed by the caller after the
 * call: the runtime keeps its own 64-byte-aligned copy). verify_checksum: 1 checks the file's
 * SHA-256 trailer; expected_sha256: NULL or 32 bytes. */
EMSCRIPTEN_KEEPALIVE ple_status ple_web_model_open(const void* data, size_t size, uint32_t verify_checksum,
                                                   const uint8_t* expected_sha256, ple_model** out_model) {
  ple_model_open_options options;
  ple_model_open_options_init(&options);
  options.always_copy = 1;
  options.verify_checksum = verify_checksum;
  options.expected_sha256 = expected_sha256;
  return ple_model_open_buffer_with_options(data, size, &options, out_model);
}

EMSCRIPTEN_KEEPALIVE ple_status ple_web_session_create(const ple_model* model, uint32_t max_batch,
                                                       uint32_t kernel_path, uint32_t record_gates,
                                                       ple_session** out_session) {
  ple_session_options options;
  ple_session_options_init(&options);
  options.max_batch = max_batch;
  options.kernel_path = (ple_kernel_path)kernel_path;
  options.record_gates = record_gates;
  return ple_session_create(model, &options, out_session);
}

/* out[0] kernel path, out[1] max_batch, out[2] arena bytes, out[3] packed weight bytes. */
EMSCRIPTEN_KEEPALIVE ple_status ple_web_session_info(const ple_session* session, uint32_t out[4]) {
  ple_session_info info = {sizeof(ple_session_info)};
  const ple_status status = ple_session_get_info(session, &info);
  if (status != PLE_OK) return status;
  out[0] = (uint32_t)info.kernel_path;
  out[1] = info.max_batch;
  out[2] = (uint32_t)info.arena_bytes;
  out[3] = (uint32_t)info.packed_weight_bytes;
  return PLE_OK;
}

/* out[0] sizeof(ple_feature_values), then the offsets of name, values, num_values, ids, num_ids, lengths. */
EMSCRIPTEN_KEEPALIVE void ple_web_feature_values_layout(uint32_t out[7]) {
  out[0] = sizeof(ple_feature_values);
  out[1] = offsetof(ple_feature_values, name);
  out[2] = offsetof(ple_feature_values, values);
  out[3] = offsetof(ple_feature_values, num_values);
  out[4] = offsetof(ple_feature_values, ids);
  out[5] = offsetof(ple_feature_values, num_ids);
  out[6] = offsetof(ple_feature_values, lengths);
}

/* 1 when the model has a ranking score (ple_model_get_score), 0 otherwise. */
EMSCRIPTEN_KEEPALIVE int ple_web_model_has_score(const ple_model* model) {
  ple_score_params score = {sizeof(ple_score_params)};
  return ple_model_get_score(model, &score) == PLE_OK;
}

/* out: input stream, input width, output width, layers. */
EMSCRIPTEN_KEEPALIVE ple_status ple_web_expert_info(const ple_model* model, size_t level, size_t expert,
                                                    uint32_t out[4]) {
  ple_expert_info info = {sizeof(ple_expert_info)};
  const ple_status status = ple_model_get_expert(model, level, expert, &info);
  if (status != PLE_OK) return status;
  out[0] = info.input_stream;
  out[1] = info.input_width;
  out[2] = info.output_width;
  out[3] = info.num_layers;
  return PLE_OK;
}

/* out: input stream, output stream, layers, experts; then the experts' indices in softmax order
 * (at most `capacity` - 4 of them). */
EMSCRIPTEN_KEEPALIVE ple_status ple_web_gate_info(const ple_model* model, size_t level, size_t gate, uint32_t* out,
                                                  size_t capacity) {
  ple_gate_info info = {sizeof(ple_gate_info)};
  const ple_status status = ple_model_get_gate(model, level, gate, &info);
  if (status != PLE_OK) return status;
  if (capacity < 4 + (size_t)info.num_experts) return PLE_ERROR_INVALID_ARGUMENT;
  out[0] = info.input_stream;
  out[1] = info.output_stream;
  out[2] = info.num_layers;
  out[3] = info.num_experts;
  for (uint32_t e = 0; e < info.num_experts; ++e) out[4 + e] = info.experts[e];
  return PLE_OK;
}

/* Bytes of the heap in use (dlmalloc's mallinfo): the package's tests check that runs allocate
 * nothing. */
EMSCRIPTEN_KEEPALIVE size_t ple_web_heap_bytes_in_use(void) { return (size_t)mallinfo().uordblks; }
