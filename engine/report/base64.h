// Base64 (RFC 4648, with padding) for embedding binary files such as PNGs as data: URIs.
#pragma once
#include <string>
#include <string_view>

namespace pneuma::report {

std::string base64_encode(std::string_view bytes);

}  // namespace pneuma::report
