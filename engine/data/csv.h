// A small RFC 4180 CSV reader (comma separated, double-quoted fields with "" escapes and embedded newlines,
// CRLF or LF line ends, an optional UTF-8 byte-order mark). Used for labels files.
#pragma once
#include <string>
#include <vector>

namespace pneuma::data {

struct CsvRow {
  std::vector<std::string> fields;
  int line = 0;  // 1-based line on which the row starts (the header is line 1)
};

struct CsvTable {
  std::vector<std::string> header;
  std::vector<CsvRow> rows;  // blank lines are skipped
};

CsvTable parse_csv(const std::string& text, const std::string& label);  // label names the source in errors
CsvTable read_csv_file(const std::string& path);

}  // namespace pneuma::data
