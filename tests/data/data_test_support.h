// Helpers for the data-pipeline tests: a self-deleting temporary folder, writing small PGM/PPM images (stb
// reads them; no encoder library is needed), copying and truncating files, and the shared data paths.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace pneuma::data::testing {

inline const std::string kSharedData = std::string(PNEUMA_SHARED_DIR) + "/data/";
inline const std::string kFixtures = kSharedData + "fixtures/";

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "pneuma_data_XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) ? pattern : "";
    EXPECT_FALSE(path_.empty()) << "mkdtemp failed";
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void write_file_bytes(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// Binary PGM (channels 1) or PPM (channels 3) of HWC uint8 pixels.
inline void write_pnm(const std::string& path, int height, int width, int channels, const std::vector<uint8_t>& pixels) {
  ASSERT_EQ(pixels.size(), static_cast<size_t>(height) * width * channels);
  const std::string header = std::string(channels == 1 ? "P5" : "P6") + "\n" + std::to_string(width) + " " +
                             std::to_string(height) + "\n255\n";
  write_file_bytes(path, header + std::string(pixels.begin(), pixels.end()));
}

inline bool shared_data_present(const std::string& folder) {
  return std::filesystem::exists(kSharedData + folder + "/labels.csv");
}

}  // namespace pneuma::data::testing
