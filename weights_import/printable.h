// Names and strings read from untrusted files, made safe for a one-line error message: control and non-ASCII
// bytes become \xNN escapes and long text is cut.
#pragma once
#include <cstdio>
#include <string>
#include <string_view>

namespace pneuma::weights_import {

inline std::string printable(std::string_view text, size_t limit = 160) {
  std::string out;
  for (unsigned char c : text.substr(0, limit)) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    }
  }
  return text.size() > limit ? out + "..." : out;
}

}  // namespace pneuma::weights_import
