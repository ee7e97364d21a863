// Test helpers for generated HTML/SVG: a tag-balance checker (void elements, self-closing tags, raw <style> text)
// and extraction of the <svg> elements.
#pragma once
#include <string>
#include <vector>

namespace pneuma::report::testing {

// Empty when every element is closed in order; otherwise a message naming the first problem.
inline std::string tag_balance_error(const std::string& text) {
  static const std::vector<std::string> kVoid = {"meta", "img", "br", "hr", "input", "link"};
  std::vector<std::string> open;
  size_t i = 0;
  while ((i = text.find('<', i)) != std::string::npos) {
    if (text.compare(i, 4, "<!--") == 0) {
      i = text.find("-->", i);
      if (i == std::string::npos) return "unterminated comment";
      continue;
    }
    const size_t end = text.find('>', i);
    if (end == std::string::npos) return "unterminated tag at " + std::to_string(i);
    const std::string tag = text.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty()) return "empty tag";
    if (tag[0] == '!' || tag[0] == '?') continue;  // <!DOCTYPE>, <?xml?>
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (open.empty() || open.back() != name)
        return "</" + name + "> closes <" + (open.empty() ? std::string("nothing") : open.back()) + ">";
      open.pop_back();
      continue;
    }
    const std::string name = tag.substr(0, tag.find_first_of(" \n\t/"));
    if (tag.back() == '/') continue;
    bool is_void = false;
    for (const std::string& v : kVoid) is_void = is_void || v == name;
    if (is_void) continue;
    if (name == "style") {  // raw text up to </style>
      i = text.find("</style>", i);
      if (i == std::string::npos) return "unterminated <style>";
      i += 8;
      continue;
    }
    open.push_back(name);
  }
  return open.empty() ? "" : "<" + open.back() + "> never closed";
}

inline std::vector<std::string> svg_elements(const std::string& html) {
  std::vector<std::string> result;
  size_t i = 0;
  while ((i = html.find("<svg", i)) != std::string::npos) {
    const size_t end = html.find("</svg>", i);
    if (end == std::string::npos) break;
    result.push_back(html.substr(i, end + 6 - i));
    i = end + 6;
  }
  return result;
}

}  // namespace pneuma::report::testing
