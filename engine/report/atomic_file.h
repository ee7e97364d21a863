// Writing a whole file atomically: the bytes go to `<path>.tmp-<pid>`, which is fsynced and renamed over `path`, so
// a reader never sees a half-written file and a failure leaves no temporary behind.
#pragma once
#include <string>
#include <string_view>

namespace pneuma {

// `what` names the kind of file in error messages ("report", "metrics", "png", ...).
void write_file_atomically(const std::string& path, std::string_view bytes, const char* what);

}  // namespace pneuma
