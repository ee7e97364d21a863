// The batch loader: shapes and values, determinism across thread counts and prefetch depths, resuming at a
// batch, balanced sampling, and unreadable images (skipped and counted, or an error when strict).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "data_test_support.h"
#include "engine/data/loader.h"
#include "kernels/error.h"

namespace pneuma::data {
namespace {
using namespace testing;

std::vector<size_t> all_indices(const Dataset& dataset) {
  std::vector<size_t> indices(dataset.size());
  for (size_t i = 0; i < indices.size(); ++i) indices[i] = i;
  return indices;
}

LoaderOptions small_options(int threads, int prefetch) {
  LoaderOptions options;
  options.batch_size = 5;
  options.threads = threads;
  options.prefetch_batches = prefetch;
  options.seed = 42;
  options.preprocess = PreprocessOptions::imagenet(24);
  AugmentOptions augment;
  augment.rotation_degrees = 20;
  augment.zoom = 0.1;
  augment.shift_x = augment.shift_y = 0.1;
  augment.horizontal_flip = true;
  augment.brightness_low = 0.9;
  augment.brightness_high = 1.1;
  augment.contrast = 0.1;
  options.augment = augment;
  return options;
}

struct Epoch {
  std::vector<std::vector<float>> images;
  std::vector<std::vector<int32_t>> labels;
  std::vector<std::vector<size_t>> samples;
};

Epoch run_epoch(DataLoader& loader, int64_t epoch, int64_t skip = 0) {
  Epoch result;
  loader.start_epoch(epoch, skip);
  Batch batch;
  while (loader.next(batch)) {
    EXPECT_EQ(batch.epoch, epoch);
    EXPECT_EQ(batch.batch_index, skip + static_cast<int64_t>(result.images.size()));
    result.images.push_back(batch.images.to_vector<float>());
    result.labels.push_back(batch.labels.to_vector<int32_t>());
    result.samples.push_back(batch.sample_indices);
  }
  return result;
}

TEST(DataLoader, BatchesHaveTheRightShapeLabelsAndValues) {
  const Dataset dataset = load_image_folder(kFixtures + "cxr_tiny");
  LoaderOptions options;
  options.batch_size = 6;
  options.shuffle = false;
  options.preprocess = PreprocessOptions::minus_one_to_one(32);
  DataLoader loader(dataset, all_indices(dataset), options);
  EXPECT_EQ(loader.batches_per_epoch(), 3);
  loader.start_epoch(0);
  Batch batch;
  int64_t seen = 0;
  while (loader.next(batch)) {
    const int64_t n = batch.images.dim(0);
    EXPECT_EQ(batch.images.shape(), (Shape{n, 32, 32, 3}));
    EXPECT_EQ(batch.labels.shape(), (Shape{n}));
    EXPECT_EQ(batch.labels.dtype(), DType::i32);
    EXPECT_EQ(n, seen < 12 ? 6 : 4);
    const std::vector<int32_t> labels = batch.labels.to_vector<int32_t>();
    const std::vector<float> images = batch.images.to_vector<float>();
    for (int64_t k = 0; k < n; ++k) {
      EXPECT_EQ(batch.sample_indices[k], static_cast<size_t>(seen + k));  // no shuffle: in order
      EXPECT_EQ(labels[k], dataset.samples[seen + k].label);
      const std::vector<float> single = preprocess_file(dataset.samples[seen + k].path, options.preprocess).to_vector<float>();
      EXPECT_TRUE(std::equal(single.begin(), single.end(), images.begin() + k * 32 * 32 * 3));
    }
    for (float v : images) ASSERT_TRUE(v >= -1.0f && v <= 1.0f);
    seen += n;
  }
  EXPECT_EQ(seen, 16);
  options.drop_last = true;
  EXPECT_EQ(DataLoader(dataset, all_indices(dataset), options).batches_per_epoch(), 2);
}

TEST(DataLoader, SameBatchesForAnyThreadCountAndPrefetchDepth) {
  const Dataset dataset = load_image_folder(kFixtures + "cxr_tiny");
  DataLoader reference(dataset, all_indices(dataset), small_options(0, 1));
  const Epoch expected = run_epoch(reference, 3);
  ASSERT_EQ(expected.images.size(), 4u);
  std::set<size_t> visited;
  for (const auto& samples : expected.samples) visited.insert(samples.begin(), samples.end());
  EXPECT_EQ(visited.size(), 16u);  // a permutation
  for (auto [threads, prefetch] : {std::pair{1, 1}, {2, 4}, {3, 2}}) {
    DataLoader loader(dataset, all_indices(dataset), small_options(threads, prefetch));
    const Epoch got = run_epoch(loader, 3);
    EXPECT_EQ(got.samples, expected.samples) << threads << " threads";
    EXPECT_EQ(got.labels, expected.labels);
    EXPECT_EQ(got.images, expected.images) << threads << " threads";  // bit-identical
  }
  const Epoch other = run_epoch(reference, 4);
  EXPECT_NE(other.samples, expected.samples);  // each epoch has its own order
}

TEST(DataLoader, ResumingAtABatchReproducesTheRestOfTheEpoch) {
  const Dataset dataset = load_image_folder(kFixtures + "cxr_tiny");
  DataLoader loader(dataset, all_indices(dataset), small_options(2, 2));
  const Epoch full = run_epoch(loader, 5);
  // A fresh loader (as after a restart) asked for epoch 5 from batch 2.
  DataLoader resumed(dataset, all_indices(dataset), small_options(2, 3));
  run_epoch(resumed, 1);  // some other epoch first, abandoned midway
  resumed.start_epoch(0);
  Batch batch;
  ASSERT_TRUE(resumed.next(batch));
  const Epoch tail = run_epoch(resumed, 5, 2);
  ASSERT_EQ(tail.images.size(), full.images.size() - 2);
  for (size_t b = 0; b < tail.images.size(); ++b) {
    EXPECT_EQ(tail.samples[b], full.samples[b + 2]);
    EXPECT_EQ(tail.images[b], full.images[b + 2]);
  }
  EXPECT_TRUE(run_epoch(resumed, 5, loader.batches_per_epoch()).images.empty());
  EXPECT_THROW(resumed.start_epoch(5, loader.batches_per_epoch() + 1), Error);
}

TEST(DataLoader, BalancedSamplingDrawsClassesEquallyAndDeterministically) {
  // An imbalanced subset of cxr_tiny: 4 images of class 0, 1 of class 1.
  const Dataset dataset = load_image_folder(kFixtures + "cxr_tiny");
  std::vector<size_t> indices;
  for (size_t i = 0; i < dataset.size(); ++i)
    if (dataset.samples[i].label == 0 || (dataset.samples[i].label == 1 && indices.size() < 5)) indices.push_back(i);
  ASSERT_EQ(indices.size(), 5u);
  LoaderOptions options = small_options(0, 1);
  options.balanced_sampling = true;
  const DataLoader loader(dataset, indices, options);
  std::map<int32_t, int> per_class;
  for (int64_t epoch = 0; epoch < 400; ++epoch) {
    const std::vector<size_t> order = loader.epoch_order(epoch);
    ASSERT_EQ(order.size(), 5u);
    for (size_t i : order) ++per_class[dataset.samples[i].label];
  }
  EXPECT_NEAR(per_class[0], 1000, 100);
  EXPECT_NEAR(per_class[1], 1000, 100);
  EXPECT_EQ(DataLoader(dataset, indices, options).epoch_order(7), loader.epoch_order(7));
}

TEST(DataLoader, UnreadableImagesAreSkippedOrFatalWhenStrict) {
  TempDir dir;
  const Dataset source = load_image_folder(kFixtures + "ct_tiny");
  Dataset dataset = source;
  const std::string truncated = dir / "truncated.png", garbage = dir / "garbage.jpg";
  const std::string bytes = read_file_bytes(source.samples[0].path);
  write_file_bytes(truncated, bytes.substr(0, bytes.size() / 3));
  write_file_bytes(garbage, "definitely not a JPEG");
  dataset.samples[1].path = truncated;
  dataset.samples[6].path = garbage;
  LoaderOptions options = small_options(2, 2);
  options.batch_size = 4;
  options.shuffle = false;
  {
    DataLoader loader(dataset, all_indices(dataset), options);
    for (int epoch = 0; epoch < 2; ++epoch) {
      ::testing::internal::CaptureStderr();
      const Epoch result = run_epoch(loader, epoch);
      const std::string warnings = ::testing::internal::GetCapturedStderr();
      ASSERT_EQ(result.samples.size(), 2u);
      EXPECT_EQ(result.samples[0], (std::vector<size_t>{0, 2, 3}));  // sample 1 left out: a smaller batch
      EXPECT_EQ(result.samples[1], (std::vector<size_t>{4, 5, 7}));
      EXPECT_EQ(result.images[0].size(), 3u * 24 * 24 * 3);
      EXPECT_EQ(loader.skipped_images(), 2);
      if (epoch == 0) {  // one line per file, the first time it is met
        EXPECT_NE(warnings.find("truncated.png"), std::string::npos) << warnings;
        EXPECT_NE(warnings.find("garbage.jpg"), std::string::npos) << warnings;
        EXPECT_EQ(std::count(warnings.begin(), warnings.end(), '\n'), 2) << warnings;
      } else {
        EXPECT_EQ(warnings, "");
      }
    }
  }
  options.strict = true;
  DataLoader strict(dataset, all_indices(dataset), options);
  strict.start_epoch(0);
  Batch batch;
  try {
    strict.next(batch);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("truncated.png"), std::string::npos) << error.what();
  }
}

TEST(DataLoader, InvalidUseIsAClearError) {
  const Dataset dataset = load_image_folder(kFixtures + "cxr_tiny");
  EXPECT_THROW(DataLoader(dataset, {}, LoaderOptions{}), Error);
  EXPECT_THROW(DataLoader(dataset, {99}, LoaderOptions{}), Error);
  LoaderOptions options;
  options.batch_size = 0;
  EXPECT_THROW(DataLoader(dataset, {0}, options), Error);
  DataLoader loader(dataset, {0, 1}, LoaderOptions{});
  Batch batch;
  EXPECT_THROW(loader.next(batch), Error);  // no start_epoch
}

}  // namespace
}  // namespace pneuma::data
