// Helpers shared by the weights_import tests: fixture paths, a scratch directory, whole-file I/O, and a minimal
// writer of stored (uncompressed) zip archives, so tests can rebuild a .pth or .npz with one entry changed and a
// valid CRC — the only way to reach the pickle and .npy parsers with corrupted content.
#pragma once
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "kernels/error.h"

namespace pneuma::test {

inline std::string import_fixture(const std::string& name) {
  return std::string(PNEUMA_SOURCE_DIR) + "/tests/fixtures/import/" + name;
}

class ScratchDirectory {
 public:
  explicit ScratchDirectory(const std::string& tag = "import") {
    std::string pattern = (std::filesystem::temp_directory_path() / ("pneuma-" + tag + "-XXXXXX")).string();
    PNEUMA_CHECK(::mkdtemp(pattern.data()) != nullptr, "mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDirectory() { std::filesystem::remove_all(path_); }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The pneuma CLI built with the tests, and the python with torch (PNEUMA_PYTHON, default Debian's).
inline std::string cli() { return PNEUMA_CLI_PATH; }
inline std::string python() {
  const char* configured = std::getenv("PNEUMA_PYTHON");
  return configured != nullptr && *configured ? configured : "/usr/bin/python3";
}
inline bool python_imports(const std::string& modules) {
  return std::system((python() + " -c 'import " + modules + "' > /dev/null 2>&1").c_str()) == 0;
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout, then stderr when `merge_stderr`
};

// Runs `command` through the shell and captures its output.
inline CommandResult run_command(const std::string& command, bool merge_stderr = true) {
  CommandResult result;
  FILE* pipe = ::popen((command + (merge_stderr ? " 2>&1" : "")).c_str(), "r");
  PNEUMA_CHECK(pipe != nullptr, "cannot run %s", command.c_str());
  char buffer[4096];
  for (size_t got; (got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) result.output.append(buffer, got);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  PNEUMA_CHECK(in.good(), "cannot read %s", path.c_str());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Replaces the file rather than truncating it (ext4 flushes a truncated-and-rewritten file, which is slow).
inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::filesystem::remove(path);
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline uint32_t crc32(const std::string& bytes) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char b : bytes) crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

// A zip archive of stored entries: local headers, data, central directory, end record (no zip64).
inline std::string make_stored_zip(const std::vector<std::pair<std::string, std::string>>& entries) {
  auto u16 = [](std::string& out, uint32_t v) {
    out += static_cast<char>(v & 0xFF), out += static_cast<char>(v >> 8 & 0xFF);
  };
  auto u32 = [&](std::string& out, uint32_t v) { u16(out, v & 0xFFFF), u16(out, v >> 16); };
  std::string body, directory;
  for (const auto& [name, data] : entries) {
    const uint32_t offset = static_cast<uint32_t>(body.size()), crc = crc32(data);
    const auto size = static_cast<uint32_t>(data.size());
    auto common = [&](std::string& out) {
      u16(out, 20), u16(out, 0), u16(out, 0), u16(out, 0), u16(out, 0x21);  // version, flags, stored, time, date
      u32(out, crc), u32(out, size), u32(out, size), u16(out, static_cast<uint32_t>(name.size())), u16(out, 0);
    };
    u32(body, 0x04034b50);
    common(body);
    body += name;
    body += data;
    u32(directory, 0x02014b50);
    u16(directory, 20);
    common(directory);
    u16(directory, 0), u16(directory, 0), u16(directory, 0), u32(directory, 0), u32(directory, offset);
    directory += name;
  }
  std::string out = body + directory;
  u32(out, 0x06054b50), u16(out, 0), u16(out, 0);
  u16(out, static_cast<uint32_t>(entries.size())), u16(out, static_cast<uint32_t>(entries.size()));
  u32(out, static_cast<uint32_t>(directory.size())), u32(out, static_cast<uint32_t>(body.size())), u16(out, 0);
  return out;
}

// The entries of a zip file whose entries are stored uncompressed (torch.save, np.savez), found through the
// central directory. Enough for the fixtures; the code under test never uses it.
inline std::vector<std::pair<std::string, std::string>> read_stored_zip(const std::string& bytes) {
  auto u16 = [&](size_t at) {
    return static_cast<uint32_t>(static_cast<unsigned char>(bytes.at(at)) | static_cast<unsigned char>(bytes.at(at + 1))
                                                                                << 8);
  };
  auto u32 = [&](size_t at) { return u16(at) | u16(at + 2) << 16; };
  size_t end = bytes.size() - 22;
  while (u32(end) != 0x06054b50) {
    PNEUMA_CHECK(end > 0, "no zip end record");
    --end;
  }
  const uint32_t count = u16(end + 10);
  size_t at = u32(end + 16);
  std::vector<std::pair<std::string, std::string>> entries;
  for (uint32_t i = 0; i < count; ++i) {
    PNEUMA_CHECK(u32(at) == 0x02014b50 && u16(at + 10) == 0, "entry %u is not a stored central directory entry", i);
    const uint32_t size = u32(at + 24), name_length = u16(at + 28), extra = u16(at + 30), comment = u16(at + 32);
    const uint32_t local = u32(at + 42);
    std::string name = bytes.substr(at + 46, name_length);
    const size_t data = local + 30 + u16(local + 26) + u16(local + 28);
    entries.emplace_back(std::move(name), bytes.substr(data, size));
    at += 46 + name_length + extra + comment;
  }
  return entries;
}

}  // namespace pneuma::test
