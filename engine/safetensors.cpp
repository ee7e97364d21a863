#include "engine/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

namespace pneuma {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; add byte swapping");

namespace {

using Json = nlohmann::ordered_json;  // keeps the header's tensor order

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the reference implementation's limit
constexpr size_t kMaxRank = 32;                    // far beyond any real tensor; stops absurd headers early

// Names come from untrusted files: keep error messages on one printable line.
std::string printable(const std::string& text) {
  std::string out;
  for (unsigned char c : text.substr(0, 200)) {
    if (c >= 0x20 && c != 0x7f) {
      out += static_cast<char>(c);
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    }
  }
  return text.size() > 200 ? out + "..." : out;
}

// A JSON value from the file for an error message. Only flat values are dumped: dump() recurses, and a hostile
// header can nest arrays millions deep.
std::string describe(const Json& value) {
  if (value.is_primitive()) return printable(value.dump());
  if (value.is_array() && value.size() <= 8 &&
      std::all_of(value.begin(), value.end(), [](const Json& v) { return v.is_primitive(); }))
    return printable(value.dump());
  return std::string("a JSON ") + value.type_name();
}

struct DTypeSpelling {
  const char* name;
  DType dtype;
};
constexpr DTypeSpelling kSupported[] = {{"F32", DType::f32}, {"F64", DType::f64}, {"BF16", DType::bf16},
                                        {"F16", DType::f16}, {"I32", DType::i32}, {"I64", DType::i64},
                                        {"U8", DType::u8}};
// Valid safetensors dtypes we cannot hold (yet): rejected with a clearer message than "unknown".
constexpr const char* kUnsupported[] = {"BOOL", "I8",      "I16",      "U16",      "U32",     "U64",  "C64",
                                        "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4"};

// ---- file descriptor plumbing -------------------------------------------------------------------
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Reads exactly `bytes` at `offset` (the caller has checked the range against the file size).
void read_exactly(int fd, const std::string& path, void* destination, size_t bytes, uint64_t offset) {
  char* out = static_cast<char*>(destination);
  while (bytes > 0) {
    const ssize_t got = ::pread(fd, out, bytes, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    PNEUMA_CHECK(got >= 0, "safetensors %s: read failed at byte %llu: %s", path.c_str(),
                 static_cast<unsigned long long>(offset), std::strerror(errno));
    PNEUMA_CHECK(got > 0, "safetensors %s: file ended early at byte %llu (changed while reading?)", path.c_str(),
                 static_cast<unsigned long long>(offset));
    out += got;
    bytes -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
}

// ---- header parsing -----------------------------------------------------------------------------
struct TensorEntry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;  // relative to the data section
};

DType parse_dtype(const Json& value, const std::string& path, const std::string& name) {
  PNEUMA_CHECK(value.is_string(), "safetensors %s: tensor '%s': \"dtype\" must be a string", path.c_str(),
               printable(name).c_str());
  const std::string& text = value.get_ref<const std::string&>();
  for (const DTypeSpelling& s : kSupported)
    if (text == s.name) return s.dtype;
  for (const char* unsupported : kUnsupported)
    PNEUMA_CHECK(text != unsupported, "safetensors %s: tensor '%s': dtype %s is not supported (F32, F64, BF16, F16, "
                 "I32, I64 and U8 are)", path.c_str(), printable(name).c_str(), unsupported);
  PNEUMA_FAIL("safetensors %s: tensor '%s': unknown dtype '%s'", path.c_str(), printable(name).c_str(),
              printable(text).c_str());
}

// Shape and its byte size, checked for negative dimensions and overflow.
Shape parse_shape(const Json& value, const std::string& path, const std::string& name, size_t element_bytes,
                  uint64_t& bytes) {
  PNEUMA_CHECK(value.is_array(), "safetensors %s: tensor '%s': \"shape\" must be an array", path.c_str(),
               printable(name).c_str());
  PNEUMA_CHECK(value.size() <= kMaxRank, "safetensors %s: tensor '%s': rank %zu exceeds %zu", path.c_str(),
               printable(name).c_str(), value.size(), kMaxRank);
  Shape shape;
  uint64_t count = 1;
  for (const Json& dim : value) {
    PNEUMA_CHECK(dim.is_number_unsigned() && dim.get<uint64_t>() <= uint64_t{std::numeric_limits<int64_t>::max()},
                 "safetensors %s: tensor '%s': shape entry %s is not a non-negative integer", path.c_str(),
                 printable(name).c_str(), describe(dim).c_str());
    const uint64_t d = dim.get<uint64_t>();
    PNEUMA_CHECK(!__builtin_mul_overflow(count, d, &count) && count <= uint64_t{std::numeric_limits<int64_t>::max()},
                 "safetensors %s: tensor '%s': shape %s overflows", path.c_str(), printable(name).c_str(),
                 describe(value).c_str());
    shape.push_back(static_cast<int64_t>(d));
  }
  PNEUMA_CHECK(!__builtin_mul_overflow(count, uint64_t{element_bytes}, &bytes),
               "safetensors %s: tensor '%s': shape %s overflows", path.c_str(), printable(name).c_str(),
               shape_string(shape).c_str());
  return shape;
}

TensorEntry parse_entry(const std::string& name, const Json& value, const std::string& path) {
  PNEUMA_CHECK(value.is_object(), "safetensors %s: tensor '%s': entry must be an object", path.c_str(),
               printable(name).c_str());
  for (const char* key : {"dtype", "shape", "data_offsets"})
    PNEUMA_CHECK(value.contains(key), "safetensors %s: tensor '%s': missing \"%s\"", path.c_str(),
                 printable(name).c_str(), key);
  TensorEntry entry;
  entry.name = name;
  entry.dtype = parse_dtype(value["dtype"], path, name);
  uint64_t bytes = 0;
  entry.shape = parse_shape(value["shape"], path, name, dtype_size(entry.dtype), bytes);
  const Json& offsets = value["data_offsets"];
  PNEUMA_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                   offsets[1].is_number_unsigned(),
               "safetensors %s: tensor '%s': \"data_offsets\" must be two non-negative integers, got %s", path.c_str(),
               printable(name).c_str(), describe(offsets).c_str());
  entry.begin = offsets[0].get<uint64_t>();
  entry.end = offsets[1].get<uint64_t>();
  PNEUMA_CHECK(entry.begin <= entry.end && entry.end - entry.begin == bytes,
               "safetensors %s: tensor '%s': data_offsets [%llu, %llu] hold %s bytes but %s %s needs %llu",
               path.c_str(), printable(name).c_str(), static_cast<unsigned long long>(entry.begin),
               static_cast<unsigned long long>(entry.end),
               entry.begin <= entry.end ? std::to_string(entry.end - entry.begin).c_str() : "negative",
               safetensors_dtype_name(entry.dtype), shape_string(entry.shape).c_str(),
               static_cast<unsigned long long>(bytes));
  return entry;
}

std::map<std::string, std::string> parse_metadata(const Json& value, const std::string& path) {
  PNEUMA_CHECK(value.is_object(), "safetensors %s: \"__metadata__\" must be an object of strings", path.c_str());
  std::map<std::string, std::string> metadata;
  for (const auto& [key, text] : value.items()) {
    PNEUMA_CHECK(text.is_string(), "safetensors %s: \"__metadata__\" entry '%s' is not a string", path.c_str(),
                 printable(key).c_str());
    metadata[key] = text.get<std::string>();
  }
  return metadata;
}

Json parse_header_json(const std::string& text, const std::string& path) {
  // nlohmann keeps the last of duplicate keys silently; a duplicated tensor name is a corrupt file.
  std::set<std::string> top_level_keys;
  std::string duplicate;
  auto watch_duplicates = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::key && depth == 1 && !top_level_keys.insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  Json header;
  try {
    header = Json::parse(text, watch_duplicates);
  } catch (const Json::parse_error& e) {
    PNEUMA_FAIL("safetensors %s: header is not valid JSON at file byte %llu: %s", path.c_str(),
                static_cast<unsigned long long>(8 + e.byte), printable(e.what()).c_str());
  } catch (const Json::exception& e) {  // e.g. a number too large for a double
    PNEUMA_FAIL("safetensors %s: header (file bytes 8..%zu) is not valid JSON: %s", path.c_str(), 8 + text.size(),
                printable(e.what()).c_str());
  }
  PNEUMA_CHECK(duplicate.empty(), "safetensors %s: header names '%s' twice", path.c_str(),
               printable(duplicate).c_str());
  PNEUMA_CHECK(header.is_object(), "safetensors %s: header must be a JSON object", path.c_str());
  return header;
}

// Tensors must tile the data section exactly: no overlap, no gap, nothing left over (as the reference reader).
void check_layout(std::vector<TensorEntry> entries, uint64_t data_bytes, uint64_t data_start,
                  const std::string& path) {
  std::sort(entries.begin(), entries.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  for (const TensorEntry& e : entries) {
    PNEUMA_CHECK(e.begin == expected,
                 "safetensors %s: tensor '%s': data_offsets [%llu, %llu] (file byte %llu) %s the previous tensor "
                 "ending at %llu", path.c_str(), printable(e.name).c_str(), static_cast<unsigned long long>(e.begin),
                 static_cast<unsigned long long>(e.end), static_cast<unsigned long long>(data_start + e.begin),
                 e.begin < expected ? "overlap" : "leave a gap after", static_cast<unsigned long long>(expected));
    PNEUMA_CHECK(e.end <= data_bytes,
                 "safetensors %s: tensor '%s': data_offsets [%llu, %llu] run past the end of the data section "
                 "(%llu bytes from file byte %llu; truncated file?)", path.c_str(), printable(e.name).c_str(),
                 static_cast<unsigned long long>(e.begin), static_cast<unsigned long long>(e.end),
                 static_cast<unsigned long long>(data_bytes), static_cast<unsigned long long>(data_start));
    expected = e.end;
  }
  PNEUMA_CHECK(expected == data_bytes,
               "safetensors %s: %llu bytes after the last tensor (file byte %llu) belong to no tensor",
               path.c_str(), static_cast<unsigned long long>(data_bytes - expected),
               static_cast<unsigned long long>(data_start + expected));
}

}  // namespace

const char* safetensors_dtype_name(DType dtype) {
  for (const DTypeSpelling& s : kSupported)
    if (s.dtype == dtype) return s.name;
  return "unknown";
}

bool SafetensorsFile::contains(const std::string& name) const {
  return std::any_of(tensors.begin(), tensors.end(), [&](const NamedTensor& t) { return t.name == name; });
}

const Tensor& SafetensorsFile::at(const std::string& name) const {
  for (const NamedTensor& t : tensors)
    if (t.name == name) return t.tensor;
  PNEUMA_FAIL("safetensors %s: no tensor named '%s'", path.c_str(), name.c_str());
}

// ---- reader -------------------------------------------------------------------------------------
SafetensorsFile read_safetensors(const std::string& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  PNEUMA_CHECK(fd.get() >= 0, "safetensors %s: cannot open: %s", path.c_str(), std::strerror(errno));
  struct stat info {};
  PNEUMA_CHECK(::fstat(fd.get(), &info) == 0, "safetensors %s: cannot stat: %s", path.c_str(), std::strerror(errno));
  PNEUMA_CHECK(S_ISREG(info.st_mode), "safetensors %s: not a regular file", path.c_str());
  const uint64_t file_size = static_cast<uint64_t>(info.st_size);
  PNEUMA_CHECK(file_size >= 8, "safetensors %s: %llu bytes is too short for the 8-byte header length",
               path.c_str(), static_cast<unsigned long long>(file_size));

  uint64_t header_bytes = 0;
  read_exactly(fd.get(), path, &header_bytes, 8, 0);
  PNEUMA_CHECK(header_bytes >= 2 && header_bytes <= file_size - 8 && header_bytes <= kMaxHeaderBytes,
               "safetensors %s: header length %llu at byte 0 does not fit the file of %llu bytes (limit %llu)",
               path.c_str(), static_cast<unsigned long long>(header_bytes), static_cast<unsigned long long>(file_size),
               static_cast<unsigned long long>(kMaxHeaderBytes));
  std::string text(header_bytes, '\0');
  read_exactly(fd.get(), path, text.data(), header_bytes, 8);
  const Json header = parse_header_json(text, path);

  SafetensorsFile file;
  file.path = path;
  std::vector<TensorEntry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      file.metadata = parse_metadata(value, path);
    } else {
      entries.push_back(parse_entry(name, value, path));
    }
  }
  const uint64_t data_start = 8 + header_bytes;
  check_layout(entries, file_size - data_start, data_start, path);

  file.tensors.reserve(entries.size());
  for (const TensorEntry& e : entries) {
    Tensor tensor = Tensor::empty(e.shape, e.dtype);
    tensor.set_name(e.name);
    if (e.end > e.begin) read_exactly(fd.get(), path, tensor.raw_data(), e.end - e.begin, data_start + e.begin);
    file.tensors.push_back({e.name, std::move(tensor)});
  }
  return file;
}

// ---- writer -------------------------------------------------------------------------------------
namespace {

// The temporary file: removed again unless committed by rename.
class TemporaryFile {
 public:
  TemporaryFile(std::string temporary, std::string final_path)
      : temporary_(std::move(temporary)), final_(std::move(final_path)) {
    // O_TRUNC, not O_EXCL: a temporary left by a crashed process with the same pid is ours to replace.
    fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot create " + temporary_);
  }
  ~TemporaryFile() {  // not reached when the constructor throws: nothing was created then
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temporary_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  void write(const void* data, size_t bytes) {
    const char* in = static_cast<const char*>(data);
    while (bytes > 0) {
      errno = 0;
      const ssize_t put = ::write(fd_, in, bytes);
      if (put < 0 && errno == EINTR) continue;
      if (put <= 0) fail("write failed");
      in += put;
      bytes -= static_cast<size_t>(put);
    }
  }

  void commit() {
    if (::fsync(fd_) != 0) fail("fsync failed");
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) fail("close failed");
    if (::rename(temporary_.c_str(), final_.c_str()) != 0) fail("rename from " + temporary_ + " failed");
    committed_ = true;
    sync_parent_directory();
  }

 private:
  [[noreturn]] void fail(const std::string& step) {
    const int error = errno == 0 ? EIO : errno;
    PNEUMA_FAIL("safetensors %s: %s: %s", final_.c_str(), step.c_str(), std::strerror(error));
  }
  // Makes the rename itself durable; best effort (some filesystems refuse to fsync a directory).
  void sync_parent_directory() {
    const size_t slash = final_.rfind('/');
    const std::string directory = slash == std::string::npos ? "." : (slash == 0 ? "/" : final_.substr(0, slash));
    FileDescriptor dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() >= 0) ::fsync(dir.get());
  }

  std::string temporary_, final_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // Everything that can fail without I/O happens before the temporary file exists.
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> host;
  host.reserve(tensors.size());
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const NamedTensor& t : tensors) {
    PNEUMA_CHECK(!t.name.empty() && t.name != "__metadata__", "safetensors %s: invalid tensor name '%s'",
                 path.c_str(), t.name.c_str());
    PNEUMA_CHECK(names.insert(t.name).second, "safetensors %s: tensor name '%s' given twice", path.c_str(),
                 t.name.c_str());
    PNEUMA_CHECK(t.tensor.defined(), "safetensors %s: tensor '%s' is undefined", path.c_str(), t.name.c_str());
    host.push_back(t.tensor.to(Device::cpu()).contiguous());
    const uint64_t bytes = host.back().nbytes();
    header[t.name] = {{"dtype", safetensors_dtype_name(t.tensor.dtype())},
                      {"shape", t.tensor.shape()},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const Json::exception& e) {  // names and metadata must be valid UTF-8
    PNEUMA_FAIL("safetensors %s: cannot encode the header: %s", path.c_str(), e.what());
  }
  text.resize((text.size() + 7) / 8 * 8, ' ');  // pad so the data section starts 8-byte aligned
  const uint64_t header_bytes = text.size();

  TemporaryFile file(path + ".tmp-" + std::to_string(::getpid()), path);
  file.write(&header_bytes, 8);
  file.write(text.data(), text.size());
  for (const Tensor& t : host)
    if (t.nbytes() > 0) file.write(t.raw_data(), t.nbytes());
  file.commit();
}

}  // namespace pneuma
