// The decoded-image cache: reused across runs, identical to decoding, and rebuilt (never trusted) when a source
// changes, the file is corrupt or truncated, or the geometry differs.
#include <gtest/gtest.h>

#include <filesystem>

#include "data_test_support.h"
#include "engine/data/image_cache.h"
#include "engine/data/loader.h"
#include "kernels/error.h"

namespace pneuma::data {
namespace {
using namespace testing;
namespace fs = std::filesystem;

// cxr_tiny copied into a temp folder, so tests may change the sources.
struct CopiedFixture {
  TempDir dir;
  Dataset dataset;
  std::vector<size_t> all;
  CopiedFixture() {
    fs::copy(kFixtures + "cxr_tiny", dir / "images", fs::copy_options::recursive);
    dataset = load_image_folder(dir / "images");
    for (size_t i = 0; i < dataset.size(); ++i) all.push_back(i);
  }
};

PreprocessOptions geometry(int size) {
  PreprocessOptions options;
  options.height = options.width = size;
  return options;
}

std::vector<uint8_t> cached_pixels(const ImageCache& cache, size_t index, int size) {
  std::vector<uint8_t> pixels(static_cast<size_t>(size) * size * 3);
  EXPECT_TRUE(cache.read(index, pixels.data()));
  return pixels;
}

// Opens the cache, capturing what it prints.
std::unique_ptr<ImageCache> open_cache(const std::string& path, const CopiedFixture& f, const PreprocessOptions& pre,
                                       std::string* messages = nullptr) {
  ::testing::internal::CaptureStderr();
  auto cache = std::make_unique<ImageCache>(path, f.dataset, f.all, pre, 2, false);
  const std::string printed = ::testing::internal::GetCapturedStderr();
  if (messages) *messages = printed;
  return cache;
}

TEST(DataImageCache, BuildsOnceMatchesDecodingAndIsReused) {
  CopiedFixture f;
  const std::string path = f.dir / "cache.bin";
  auto cache = open_cache(path, f, geometry(20));
  EXPECT_EQ(cache->build_stats().decoded, 16);
  EXPECT_TRUE(cache->build_stats().rewritten);
  for (size_t i = 0; i < f.dataset.size(); ++i)
    EXPECT_EQ(cached_pixels(*cache, i, 20), prepare_pixels(decode_image(f.dataset.samples[i].path), geometry(20)));
  for (const auto& entry : fs::directory_iterator(f.dir.path()))  // the temporary file is gone
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
  std::string messages;
  auto again = open_cache(path, f, geometry(20), &messages);
  EXPECT_EQ(again->build_stats().reused, 16);
  EXPECT_EQ(again->build_stats().decoded, 0);
  EXPECT_FALSE(again->build_stats().rewritten);
  EXPECT_EQ(messages, "");
  EXPECT_EQ(cached_pixels(*again, 5, 20), cached_pixels(*cache, 5, 20));
}

TEST(DataImageCache, LoaderGivesTheSameBatchesWithAndWithoutCache) {
  CopiedFixture f;
  LoaderOptions options;
  options.batch_size = 7;
  options.seed = 3;
  options.preprocess = PreprocessOptions::imagenet(20);
  AugmentOptions augment;
  augment.rotation_degrees = 10;
  augment.brightness_delta = 0.1;
  options.augment = augment;
  DataLoader plain(f.dataset, f.all, options);
  options.cache_path = f.dir / "loader.cache";
  ::testing::internal::CaptureStderr();
  DataLoader cached(f.dataset, f.all, options);
  ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(fs::exists(options.cache_path));
  plain.start_epoch(1);
  cached.start_epoch(1);
  Batch a, b;
  while (plain.next(a)) {
    ASSERT_TRUE(cached.next(b));
    EXPECT_EQ(a.sample_indices, b.sample_indices);
    EXPECT_EQ(a.images.to_vector<float>(), b.images.to_vector<float>());
  }
  EXPECT_FALSE(cached.next(b));
}

TEST(DataImageCache, ChangedSourceIsRebuilt) {
  CopiedFixture f;
  const std::string path = f.dir / "cache.bin";
  open_cache(path, f, geometry(16));
  // Replace one source with a flat gray image (new size and modification time).
  const std::string& changed = f.dataset.samples[3].path;
  write_pnm(changed, 10, 10, 1, std::vector<uint8_t>(100, 77));
  std::string messages;
  auto cache = open_cache(path, f, geometry(16), &messages);
  EXPECT_EQ(cache->build_stats().decoded, 1);
  EXPECT_EQ(cache->build_stats().reused, 15);
  EXPECT_NE(messages.find("stale"), std::string::npos) << messages;
  EXPECT_EQ(cached_pixels(*cache, 3, 16), std::vector<uint8_t>(16 * 16 * 3, 77));
}

TEST(DataImageCache, CorruptTruncatedOrForeignFilesAreRebuilt) {
  CopiedFixture f;
  const std::string path = f.dir / "cache.bin";
  const std::vector<uint8_t> expected = cached_pixels(*open_cache(path, f, geometry(16)), 9, 16);
  const std::string good = read_file_bytes(path);

  std::string corrupt = good;  // one flipped bit in the pixels of some entry
  corrupt[good.size() / 3] ^= 0x10;
  write_file_bytes(path, corrupt);
  std::string messages;
  auto cache = open_cache(path, f, geometry(16), &messages);
  EXPECT_EQ(cache->build_stats().decoded, 1);
  EXPECT_NE(messages.find("corrupt"), std::string::npos) << messages;
  EXPECT_EQ(cached_pixels(*cache, 9, 16), expected);
  cache.reset();

  for (const std::string& bad : {good.substr(0, good.size() - 100), good.substr(0, 30), std::string("hello")}) {
    write_file_bytes(path, bad);
    cache = open_cache(path, f, geometry(16), &messages);
    EXPECT_EQ(cache->build_stats().decoded, 16) << messages;
    EXPECT_NE(messages.find("rebuilding"), std::string::npos) << messages;
    EXPECT_EQ(cached_pixels(*cache, 9, 16), expected);
    cache.reset();
  }

  // Another geometry: rebuilt for the new one.
  cache = open_cache(path, f, geometry(12), &messages);
  EXPECT_EQ(cache->build_stats().decoded, 16);
  EXPECT_NE(messages.find("built for 16x16x3"), std::string::npos) << messages;
}

TEST(DataImageCache, UnreadableSourceIsRememberedNotRetried) {
  CopiedFixture f;
  write_file_bytes(f.dataset.samples[2].path, "broken");
  const std::string path = f.dir / "cache.bin";
  auto cache = open_cache(path, f, geometry(16));
  EXPECT_EQ(cache->build_stats().unreadable, 1);
  std::vector<uint8_t> pixels(16 * 16 * 3);
  EXPECT_FALSE(cache->read(2, pixels.data()));
  cache = open_cache(path, f, geometry(16));
  EXPECT_FALSE(cache->build_stats().rewritten);
  EXPECT_EQ(cache->build_stats().unreadable, 1);
  EXPECT_THROW(ImageCache(f.dir / "strict.bin", f.dataset, f.all, geometry(16), 2, true), Error);
  EXPECT_FALSE(fs::exists(f.dir / "strict.bin"));
  // A source deleted after loading the dataset is remembered the same way.
  fs::remove(f.dataset.samples[7].path);
  cache = open_cache(path, f, geometry(16));
  EXPECT_TRUE(cache->build_stats().rewritten);
  EXPECT_EQ(cache->build_stats().unreadable, 2);
  cache = open_cache(path, f, geometry(16));
  EXPECT_FALSE(cache->build_stats().rewritten);
  EXPECT_FALSE(cache->read(7, pixels.data()));
}

}  // namespace
}  // namespace pneuma::data
