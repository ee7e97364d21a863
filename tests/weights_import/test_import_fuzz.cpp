// Randomised corruption of every checkpoint format we read (.pth, .safetensors, Keras .h5, .npz): truncation at
// many offsets, random byte flips, garbage headers and huge length fields, on the raw files and — because zip CRCs
// catch raw damage before our parsers see it — inside the zip entries (data.pkl, storages, .npy) re-zipped with
// valid CRCs. Thousands of cases; each must end in success or a pneuma::Error, never a crash, a hang or another
// exception type. Deterministic: the generator is seeded per file and mutation kind.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "tests/weights_import/import_test_support.h"
#include "weights_import/tensor_archive.h"

namespace pneuma::weights_import {
namespace {

struct FuzzStatistics {
  int cases = 0, errors = 0;
};

// Runs the reader on `bytes`; any exception other than pneuma::Error fails the test. Returns whether it threw.
bool read_must_not_misbehave(const test::ScratchDirectory& scratch, const std::string& extension,
                             const std::string& bytes, const std::string& what, FuzzStatistics& statistics) {
  const std::string path = scratch.file("case" + extension);
  test::write_bytes(path, bytes);
  ++statistics.cases;
  try {
    const TensorArchive archive = read_tensor_archive(path);
    for (const NamedTensor& t : archive.tensors) EXPECT_TRUE(t.tensor.is_contiguous()) << what;
    return false;
  } catch (const Error& error) {
    ++statistics.errors;
    const std::string message = error.what();
    EXPECT_FALSE(message.empty()) << what;
    EXPECT_EQ(message.find('\n'), std::string::npos) << what << ": " << message;
    return true;
  } catch (const std::exception& other) {
    ADD_FAILURE() << what << ": threw a non-pneuma exception: " << other.what();
  }
  return true;
}

// The mutation kinds, each producing `count` variants of `original` from `random`.
std::string flip_bytes(std::string bytes, std::mt19937_64& random) {
  const int flips = 1 + static_cast<int>(random() % 4);
  for (int i = 0; i < flips && !bytes.empty(); ++i) bytes[random() % bytes.size()] = static_cast<char>(random());
  return bytes;
}

std::string garbage_header(std::string bytes, std::mt19937_64& random) {
  const size_t count = std::min<size_t>(bytes.size(), 1 + random() % 64);
  for (size_t i = 0; i < count; ++i) bytes[i] = static_cast<char>(random());
  return bytes;
}

std::string huge_length(std::string bytes, std::mt19937_64& random) {
  static const uint64_t values[] = {0xFFFFFFFFull,         0x7FFFFFFFull,         0x80000000ull, 0xFFFFFFFFFFFFFFFFull,
                                    0x7FFFFFFFFFFFFFFFull, 0x0000000100000000ull, 0xFFFFull,     0x10000000ull};
  const uint64_t value = values[random() % std::size(values)];
  const size_t width = random() % 2 ? 8 : 4;
  if (bytes.size() < width) return bytes;
  const size_t at = random() % (bytes.size() - width + 1);
  for (size_t i = 0; i < width; ++i) bytes[at + i] = static_cast<char>(value >> (8 * i) & 0xFF);
  return bytes;
}

std::vector<size_t> truncation_offsets(size_t size, size_t count) {
  std::vector<size_t> offsets;
  for (size_t i = 0; i < std::min<size_t>(size, 48); ++i) offsets.push_back(i);    // headers
  for (size_t i = size > 48 ? size - 48 : 0; i < size; ++i) offsets.push_back(i);  // trailers
  for (size_t i = 0; i < count; ++i) offsets.push_back(i * size / count);          // spread
  return offsets;
}

void fuzz_raw_file(const std::string& fixture, const std::string& extension, int variants_per_kind,
                   FuzzStatistics& statistics) {
  const test::ScratchDirectory scratch("fuzz");
  const std::string original = test::read_bytes(test::import_fixture(fixture));
  for (size_t offset : truncation_offsets(original.size(), static_cast<size_t>(variants_per_kind))) {
    const bool threw = read_must_not_misbehave(scratch, extension, original.substr(0, offset),
                                               fixture + " truncated at " + std::to_string(offset), statistics);
    EXPECT_TRUE(threw) << fixture << " truncated to " << offset << " bytes was accepted";
  }
  std::mt19937_64 random(std::hash<std::string>{}(fixture));
  for (int i = 0; i < variants_per_kind; ++i) {
    read_must_not_misbehave(scratch, extension, flip_bytes(original, random), fixture + " flip " + std::to_string(i),
                            statistics);
    read_must_not_misbehave(scratch, extension, garbage_header(original, random),
                            fixture + " garbage header " + std::to_string(i), statistics);
    read_must_not_misbehave(scratch, extension, huge_length(original, random),
                            fixture + " huge length " + std::to_string(i), statistics);
  }
}

// Mutates one entry of a stored zip (the pickle, a storage, an .npy) and re-zips with valid CRCs.
void fuzz_zip_entry(const std::string& fixture, const std::string& extension, const std::string& entry_suffix,
                    int variants_per_kind, FuzzStatistics& statistics) {
  const test::ScratchDirectory scratch("fuzz-entry");
  const auto entries = test::read_stored_zip(test::read_bytes(test::import_fixture(fixture)));
  std::mt19937_64 random(std::hash<std::string>{}(fixture + entry_suffix));
  for (size_t target = 0; target < entries.size(); ++target) {
    const std::string& name = entries[target].first;
    if (name.size() < entry_suffix.size() ||
        name.compare(name.size() - entry_suffix.size(), std::string::npos, entry_suffix) != 0)
      continue;
    const std::string& original = entries[target].second;
    auto run = [&](const std::string& content, const std::string& what) {
      auto mutated = entries;
      mutated[target].second = content;
      read_must_not_misbehave(scratch, extension, test::make_stored_zip(mutated), fixture + ":" + name + " " + what,
                              statistics);
    };
    for (size_t offset : truncation_offsets(original.size(), static_cast<size_t>(variants_per_kind)))
      run(original.substr(0, offset), "truncated at " + std::to_string(offset));
    for (int i = 0; i < variants_per_kind; ++i) {
      run(flip_bytes(original, random), "flip " + std::to_string(i));
      run(huge_length(original, random), "huge length " + std::to_string(i));
    }
  }
}

TEST(ImportFuzz, CorruptedFilesOnlyEverRaisePneumaErrors) {
  const auto start = std::chrono::steady_clock::now();
  FuzzStatistics statistics;
  fuzz_raw_file("tensors.pth", ".pth", 150, statistics);
  fuzz_raw_file("tensors.safetensors", ".safetensors", 150, statistics);
  fuzz_raw_file("keras_weights.h5", ".h5", 150, statistics);
  fuzz_raw_file("keras_model.h5", ".h5", 100, statistics);
  fuzz_raw_file("tensors.npz", ".npz", 150, statistics);
  fuzz_raw_file("compressed.npz", ".npz", 100, statistics);
  fuzz_zip_entry("tensors.pth", ".pth", "data.pkl", 400, statistics);
  fuzz_zip_entry("rebuild_v3.pth", ".pth", "data.pkl", 200, statistics);
  fuzz_zip_entry("tensors.pth", ".pth", "/data/3", 20, statistics);
  fuzz_zip_entry("tensors.npz", ".npz", "fortran_3d.npy", 150, statistics);
  fuzz_zip_entry("tensors.npz", ".npz", "c_f4.npy", 150, statistics);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ fuzz     ] %d corrupted files, %d rejected with pneuma::Error, in %.1f s\n", statistics.cases,
              statistics.errors, seconds);
  EXPECT_GT(statistics.cases, 5000);
  EXPECT_GT(statistics.errors, statistics.cases / 2);
}

}  // namespace
}  // namespace pneuma::weights_import
