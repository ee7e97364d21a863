// The one family of checks used everywhere: PNEUMA_CHECK(cond, printf-style message...) throws pneuma::Error
// carrying file:line. Leaf header: kernels, engine and tools all include it.
#pragma once
#include <cstdarg>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace pneuma {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
inline std::string format_message(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
inline std::string format_message(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  va_list copy;
  va_copy(copy, args);
  int length = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  std::string text(length > 0 ? static_cast<size_t>(length) : 0, '\0');
  if (length > 0) std::vsnprintf(text.data(), text.size() + 1, fmt, args);
  va_end(args);
  return text;
}
inline std::string format_message() { return {}; }

[[noreturn]] inline void fail(const char* file, int line, const std::string& message) {
  const char* base = file;
  for (const char* p = file; *p; ++p)
    if (*p == '/') base = p + 1;
  throw Error(message + " [" + base + ":" + std::to_string(line) + "]");
}
}  // namespace detail
}  // namespace pneuma

// PNEUMA_CHECK(x > 0, "x must be positive, got %d", x)
#define PNEUMA_CHECK(condition, ...)                                                        \
  do {                                                                                      \
    if (!(condition)) [[unlikely]]                                                          \
      ::pneuma::detail::fail(__FILE__, __LINE__, ::pneuma::detail::format_message(__VA_ARGS__)); \
  } while (0)

#define PNEUMA_FAIL(...) ::pneuma::detail::fail(__FILE__, __LINE__, ::pneuma::detail::format_message(__VA_ARGS__))
