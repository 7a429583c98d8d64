#include "status.h"

#include <cstdarg>
#include <cstdio>

namespace ple::rt {
namespace {

// Fixed per-thread buffer: reporting an error must not allocate (Run uses it).
constexpr size_t kLastErrorBytes = 1024;
thread_local char g_last_error[kLastErrorBytes] = "";

}  // namespace

Status MakeError(ple_status code, const char* format, ...) {
  char buffer[kLastErrorBytes];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof(buffer), format, args);
  va_end(args);
  return Status(code, buffer);
}

ple_status SetLastError(ple_status code, const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vsnprintf(g_last_error, kLastErrorBytes, format, args);
  va_end(args);
  return code;
}

ple_status SetLastError(const Status& status) {
  std::snprintf(g_last_error, kLastErrorBytes, "%s", status.message().c_str());
  return status.code();
}

void ClearLastError() { g_last_error[0] = '\0'; }

const char* LastError() { return g_last_error; }

}  // namespace ple::rt
