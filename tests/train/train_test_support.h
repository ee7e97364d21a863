// Shared pieces of the trainer tests: a small separable image set, a fresh run folder, a tiny model built from a
// seed, and byte-level comparison of the tensors of two checkpoints.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "engine/rng.h"
#include "engine/safetensors.h"
#include "engine/tensor.h"
#include "models/tiny_mbconv_net.h"

namespace pneuma::train::testing {

// `count` images of 12×12×3; class c (of 3) brightens channel c, plus noise: separable but not trivially.
inline void separable_images(int64_t count, uint64_t seed, Tensor& images, Tensor& labels) {
  Generator generator(seed);
  images = Tensor::normal({count, 12, 12, 3}, 0, 1, generator);
  std::vector<int32_t> values(count);
  float* pixels = images.data<float>();
  for (int64_t i = 0; i < count; ++i) {
    values[i] = static_cast<int32_t>(i % 3);
    for (int64_t p = 0; p < 12 * 12; ++p) pixels[(i * 144 + p) * 3 + values[i]] += 1.5f;
  }
  labels = Tensor::from_vector(values, {count});
}

inline std::unique_ptr<models::TinyMbconvNet> tiny_model(uint64_t seed, int64_t classes = 3) {
  manual_seed(seed);  // dropout and stochastic depth draw from the default generator
  Generator init(seed);
  models::TinyMbconvNetOptions options;
  options.classes = classes;
  options.width = 8;
  return std::make_unique<models::TinyMbconvNet>(options, init);
}

// A fresh, empty folder under the system's temporary directory, removed with the object.
class TemporaryFolder {
 public:
  explicit TemporaryFolder(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              ("pneuma_" + name + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TemporaryFolder() { std::filesystem::remove_all(path_); }
  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Every tensor of `a` exists in `b` with the same dtype, shape and bytes (and vice versa); metadata is ignored.
inline void expect_same_tensors(const std::string& a_path, const std::string& b_path) {
  const SafetensorsFile a = read_safetensors(a_path), b = read_safetensors(b_path);
  ASSERT_EQ(a.tensors.size(), b.tensors.size()) << a_path << " vs " << b_path;
  for (const NamedTensor& entry : a.tensors) {
    ASSERT_TRUE(b.contains(entry.name)) << entry.name;
    const Tensor& other = b.at(entry.name);
    ASSERT_EQ(entry.tensor.shape(), other.shape()) << entry.name;
    ASSERT_EQ(entry.tensor.dtype(), other.dtype()) << entry.name;
    EXPECT_EQ(0, std::memcmp(entry.tensor.raw_data(), other.raw_data(), entry.tensor.nbytes()))
        << "tensor " << entry.name << " differs";
  }
}

}  // namespace pneuma::train::testing
