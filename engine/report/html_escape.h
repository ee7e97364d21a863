// Escaping text for HTML/SVG element content and attribute values (& < > " '), and formatting numbers for SVG
// coordinates and tables without locale surprises.
#pragma once
#include <string>
#include <string_view>

namespace pneuma::report {

std::string escape_html(std::string_view text);
// Fixed-point with `decimals` digits; "–" (en dash) for NaN, "∞"/"-∞" for infinities.
std::string format_number(double value, int decimals);

}  // namespace pneuma::report
