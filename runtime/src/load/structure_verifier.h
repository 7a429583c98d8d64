// The FlatBuffers verifier over a whole model file: every offset, vector and string in bounds,
// every table within depth and count caps. The semantic checks come after, in ModelReader.
#ifndef PLE_RUNTIME_LOAD_STRUCTURE_VERIFIER_H_
#define PLE_RUNTIME_LOAD_STRUCTURE_VERIFIER_H_

#include <cstddef>
#include <cstdint>

namespace ple::rt {

// True when `data` (`size` bytes, below FLATBUFFERS_MAX_BUFFER_SIZE, with the PLE1 identifier)
// is a structurally valid model buffer. Its own file so it stays at -O3 while the rest of the
// reader is compiled for size (runtime/CMakeLists.txt): it walks every table at load.
bool VerifyModelStructure(const uint8_t* data, size_t size);

}  // namespace ple::rt

#endif  // PLE_RUNTIME_LOAD_STRUCTURE_VERIFIER_H_
