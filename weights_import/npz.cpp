// The .npz reader: lists the zip's .npy entries and parses each one's header and data with every size checked.
#include "weights_import/npz.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "kernels/error.h"
#include "weights_import/printable.h"
#include "weights_import/zip_archive.h"

namespace pneuma::weights_import {
namespace {

constexpr uint64_t kMaxArrayBytes = 1ull << 40;
constexpr size_t kMaxRank = 32;

// The header's dict literal: string keys; values are strings, True/False or tuples of integers.
struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& label) : text_(text), label_(label) {}

  NpyHeader parse() {
    NpyHeader header;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = string_literal();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (peek() != '\'' && peek() != '"')
          fail("'descr' is not a simple dtype string (structured arrays are not supported)");
        header.descr = string_literal();
        seen_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = boolean();
        seen_order = true;
      } else if (key == "shape") {
        header.shape = int_tuple();
        seen_shape = true;
      } else {
        fail("unexpected key '" + printable(key) + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++position_;
        continue;
      }
      skip_space();
      if (peek() != '}') fail("expected ',' or '}'");
    }
    ++position_;
    if (!seen_descr || !seen_order || !seen_shape) fail("needs 'descr', 'fortran_order' and 'shape'");
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    PNEUMA_FAIL("%s: .npy header at character %zu: %s", label_.c_str(), position_, message.c_str());
  }
  char peek() const { return position_ < text_.size() ? text_[position_] : '\0'; }
  void skip_space() {
    while (position_ < text_.size() && (text_[position_] == ' ' || text_[position_] == '\t')) ++position_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++position_;
  }
  std::string string_literal() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const size_t end = text_.find(quote, position_ + 1);
    if (end == std::string_view::npos || end - position_ > 256) fail("unterminated string");
    std::string out(text_.substr(position_ + 1, end - position_ - 1));
    position_ = end + 1;
    return out;
  }
  bool boolean() {
    if (text_.substr(position_, 4) == "True") {
      position_ += 4;
      return true;
    }
    if (text_.substr(position_, 5) == "False") {
      position_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  Shape int_tuple() {
    expect('(');
    Shape shape;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') fail("shape entries must be non-negative integers");
      uint64_t value = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (value > (1ull << 50)) fail("shape entry too large");
        value = value * 10 + static_cast<uint64_t>(peek() - '0');
        ++position_;
      }
      if (peek() == 'L') ++position_;  // Python 2 longs
      shape.push_back(static_cast<int64_t>(value));
      if (shape.size() > kMaxRank) fail("more than 32 dimensions");
      skip_space();
      if (peek() == ',') {
        ++position_;
      } else if (peek() != ')') {
        fail("expected ',' or ')' in the shape");
      }
    }
    ++position_;
    return shape;
  }

  std::string_view text_;
  const std::string& label_;
  size_t position_ = 0;
};

struct NpyType {
  DType dtype;
  size_t size;
  bool boolean;
};

NpyType parse_descr(const std::string& descr, bool& big_endian, const std::string& label) {
  PNEUMA_CHECK(descr.size() == 3, "%s: dtype '%s' is not supported (<f4, <f8, <f2, <i8, <i4, |u1, |b1 are)",
               label.c_str(), printable(descr).c_str());
  const char order = descr[0];
  PNEUMA_CHECK(order == '<' || order == '>' || order == '|' || order == '=', "%s: dtype '%s' has an unknown byte order",
               label.c_str(), printable(descr).c_str());
  big_endian = order == '>';
  const std::string code = descr.substr(1);
  if (code == "f4") return {DType::f32, 4, false};
  if (code == "f8") return {DType::f64, 8, false};
  if (code == "f2") return {DType::f16, 2, false};
  if (code == "i8") return {DType::i64, 8, false};
  if (code == "i4") return {DType::i32, 4, false};
  if (code == "u1") return {DType::u8, 1, false};
  if (code == "b1") return {DType::u8, 1, true};
  PNEUMA_FAIL("%s: dtype '%s' is not supported (<f4, <f8, <f2, <i8, <i4, |u1, |b1 are)", label.c_str(),
              printable(descr).c_str());
}

}  // namespace

Tensor parse_npy(const std::string& bytes, const std::string& label) {
  PNEUMA_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0,
               "%s: not a .npy array (no \\x93NUMPY magic)", label.c_str());
  const int major = static_cast<unsigned char>(bytes[6]);
  PNEUMA_CHECK(major >= 1 && major <= 3, "%s: .npy format version %d.%d is not supported (1.0 to 3.0 are)",
               label.c_str(), major, static_cast<unsigned char>(bytes[7]));
  const size_t length_bytes = major == 1 ? 2 : 4;
  PNEUMA_CHECK(bytes.size() >= 8 + length_bytes, "%s: truncated .npy header", label.c_str());
  uint64_t header_length = 0;
  for (size_t i = length_bytes; i-- > 0;) header_length = header_length << 8 | static_cast<unsigned char>(bytes[8 + i]);
  const uint64_t data_start = 8 + length_bytes + header_length;
  PNEUMA_CHECK(data_start <= bytes.size(), "%s: .npy header length %llu runs past the end (%zu bytes)", label.c_str(),
               static_cast<unsigned long long>(header_length), bytes.size());
  const std::string_view header_text(bytes.data() + 8 + length_bytes, header_length);
  const NpyHeader header = HeaderParser(header_text, label).parse();

  bool big_endian = false;
  const NpyType type = parse_descr(header.descr, big_endian, label);
  uint64_t count = 1;
  for (int64_t dim : header.shape)
    PNEUMA_CHECK(
        !__builtin_mul_overflow(count, static_cast<uint64_t>(dim), &count) && count <= kMaxArrayBytes / type.size,
        "%s: shape %s is too large", label.c_str(), shape_string(header.shape).c_str());
  const uint64_t data_bytes = count * type.size;
  PNEUMA_CHECK(bytes.size() - data_start == data_bytes,
               "%s: holds %llu data bytes after its header (byte %llu) but %s %s needs %llu", label.c_str(),
               static_cast<unsigned long long>(bytes.size() - data_start), static_cast<unsigned long long>(data_start),
               header.descr.c_str(), shape_string(header.shape).c_str(), static_cast<unsigned long long>(data_bytes));

  Tensor tensor = Tensor::empty(header.shape, type.dtype);
  char* out = static_cast<char*>(tensor.raw_data());
  const char* in = bytes.data() + data_start;
  const size_t rank = header.shape.size();
  if (!header.fortran_order || rank < 2) {
    if (data_bytes > 0) std::memcpy(out, in, data_bytes);
  } else {
    // Fortran order: element (i0, ..., in-1) sits at Σ i_d · Π_{e<d} shape_e.
    std::vector<int64_t> fortran_strides(rank, 1);
    for (size_t d = 1; d < rank; ++d) fortran_strides[d] = fortran_strides[d - 1] * header.shape[d - 1];
    std::vector<int64_t> index(rank, 0);
    for (uint64_t i = 0; i < count; ++i) {
      int64_t source = 0;
      for (size_t d = 0; d < rank; ++d) source += index[d] * fortran_strides[d];
      std::memcpy(out + i * type.size, in + source * type.size, type.size);
      for (size_t d = rank; d-- > 0;) {
        if (++index[d] < header.shape[d]) break;
        index[d] = 0;
      }
    }
  }
  if (big_endian && type.size > 1)
    for (uint64_t i = 0; i < count; ++i) std::reverse(out + i * type.size, out + (i + 1) * type.size);
  if (type.boolean)
    for (uint64_t i = 0; i < count; ++i) out[i] = out[i] != 0;
  return tensor;
}

TensorArchive read_npz(const std::string& path) {
  const std::string label = "NumPy archive " + path;
  ZipArchive zip(path, label);
  TensorArchive archive;
  archive.path = path;
  archive.metadata["format"] = "npz";
  std::set<std::string> names;
  for (const ZipArchive::Entry& entry : zip.entries()) {
    if (!entry.name.empty() && entry.name.back() == '/') continue;  // directory entries
    PNEUMA_CHECK(entry.name.size() > 4 && entry.name.compare(entry.name.size() - 4, 4, ".npy") == 0,
                 "%s: entry '%s' is not a .npy array", label.c_str(), printable(entry.name).c_str());
    const std::string name = entry.name.substr(0, entry.name.size() - 4);
    PNEUMA_CHECK(names.insert(name).second, "%s: array '%s' appears twice", label.c_str(), printable(name).c_str());
    Tensor tensor = parse_npy(zip.read(entry, kMaxArrayBytes), label + ": array '" + printable(name) + "'");
    archive.tensors.push_back({name, std::move(tensor)});
  }
  return archive;
}

}  // namespace pneuma::weights_import
