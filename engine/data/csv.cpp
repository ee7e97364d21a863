// RFC 4180 CSV parsing (see csv.h).
#include "engine/data/csv.h"

#include <fstream>
#include <sstream>

#include "kernels/error.h"

namespace pneuma::data {

CsvTable parse_csv(const std::string& text, const std::string& label) {
  CsvTable table;
  size_t pos = (text.compare(0, 3, "\xEF\xBB\xBF") == 0) ? 3 : 0;
  int line = 1;
  bool first = true;
  while (pos < text.size()) {
    CsvRow row;
    row.line = line;
    std::string field;
    bool row_done = false;
    while (!row_done) {
      field.clear();
      if (pos < text.size() && text[pos] == '"') {
        const int quote_line = line;
        ++pos;
        while (true) {
          PNEUMA_CHECK(pos < text.size(), "%s line %d: unterminated quoted field", label.c_str(), quote_line);
          const char c = text[pos++];
          if (c == '"') {
            if (pos < text.size() && text[pos] == '"') {
              field += '"';
              ++pos;
            } else {
              break;
            }
          } else {
            if (c == '\n') ++line;
            field += c;
          }
        }
        PNEUMA_CHECK(pos >= text.size() || text[pos] == ',' || text[pos] == '\n' || text[pos] == '\r',
                     "%s line %d: text after a closing quote", label.c_str(), line);
      } else {
        while (pos < text.size() && text[pos] != ',' && text[pos] != '\n' && text[pos] != '\r') field += text[pos++];
      }
      row.fields.push_back(field);
      if (pos < text.size() && text[pos] == ',') {
        ++pos;
      } else {
        if (pos < text.size() && text[pos] == '\r') ++pos;
        if (pos < text.size() && text[pos] == '\n') ++pos;
        ++line;
        row_done = true;
      }
    }
    if (row.fields.size() == 1 && row.fields[0].empty()) continue;  // blank line
    if (first) {
      table.header = std::move(row.fields);
      first = false;
    } else {
      table.rows.push_back(std::move(row));
    }
  }
  return table;
}

CsvTable read_csv_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  PNEUMA_CHECK(file.good(), "cannot open CSV file %s", path.c_str());
  std::ostringstream buffer;
  buffer << file.rdbuf();
  PNEUMA_CHECK(!file.bad(), "cannot read CSV file %s", path.c_str());
  return parse_csv(buffer.str(), path);
}

}  // namespace pneuma::data
