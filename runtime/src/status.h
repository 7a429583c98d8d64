// Internal error values. Status carries a code and a message naming what was wrong (which
// tensor, which shape was expected and found); it allocates, so it is used while loading and
// preparing only. Run reports errors through SetLastError, which never allocates.
#ifndef PLE_RUNTIME_STATUS_H_
#define PLE_RUNTIME_STATUS_H_

#include <string>
#include <utility>

#include "ple/ple.h"

namespace ple::rt {

class Status {
 public:
  Status() = default;
  Status(ple_status code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }

  bool ok() const { return code_ == PLE_OK; }
  ple_status code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  ple_status code_ = PLE_OK;
  std::string message_;
};

// printf-style message into a Status.
Status MakeError(ple_status code, const char* format, ...) __attribute__((format(printf, 2, 3)));

// Stores `message` as this thread's last error (truncated to a fixed buffer; no allocation)
// and returns `code`.
ple_status SetLastError(ple_status code, const char* format, ...) __attribute__((format(printf, 2, 3)));
ple_status SetLastError(const Status& status);
void ClearLastError();
const char* LastError();

}  // namespace ple::rt

#endif  // PLE_RUNTIME_STATUS_H_
