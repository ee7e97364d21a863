// Cross-split duplicate detection: a file copy (exact), a re-encoded, brightened or resized copy (near) are
// found; unrelated chest X-rays and CT slices are not; drop_duplicates removes the evaluation side.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "data_test_support.h"
#include "engine/data/duplicates.h"
#include "engine/data/preprocess.h"
#include "kernels/error.h"

namespace pneuma::data {
namespace {
using namespace testing;

std::vector<uint8_t> gray_pixels(const Image& image, int height, int width) {
  PreprocessOptions options;
  options.height = height;
  options.width = width;
  options.channels = 1;
  return prepare_pixels(image, options);
}

TEST(DataDuplicates, CopiesAcrossSplitsAreFoundAndUnrelatedImagesAreNot) {
  TempDir dir;
  const Dataset fixtures = load_csv_dataset(kFixtures + "labels.csv");  // cxr_tiny and ct_tiny: 24 images
  ASSERT_EQ(fixtures.size(), 24u);
  Dataset dataset = fixtures;
  Splits splits;
  for (size_t i = 0; i < fixtures.size(); ++i) (i % 2 ? splits.test : splits.train).push_back(i);
  // Unrelated images only: nothing is reported.
  const DuplicateReport clean = find_cross_split_duplicates(dataset, splits);
  EXPECT_TRUE(clean.pairs.empty()) << clean.summary(dataset);

  // Copies of train images 0, 2 and 4 into val: a byte copy, a PGM re-encoding brightened by 8%, and a
  // re-encoding resized to 80% with a little noise.
  const auto add = [&](const std::string& path, int label) {
    dataset.samples.push_back(Sample{path, label, "", "", ""});
    splits.val.push_back(dataset.size() - 1);
  };
  write_file_bytes(dir / "copy.png", read_file_bytes(fixtures.samples[0].path));
  add(dir / "copy.png", fixtures.samples[0].label);
  const Image second = decode_image(fixtures.samples[2].path);
  std::vector<uint8_t> bright = gray_pixels(second, second.height, second.width);
  for (uint8_t& v : bright) v = static_cast<uint8_t>(std::min(255.0, std::round(v * 1.08)));
  write_pnm(dir / "bright.pgm", second.height, second.width, 1, bright);
  add(dir / "bright.pgm", fixtures.samples[2].label);
  const Image third = decode_image(fixtures.samples[4].path);
  const int h = third.height * 4 / 5, w = third.width * 4 / 5;
  std::vector<uint8_t> small = gray_pixels(third, h, w);
  for (size_t k = 0; k < small.size(); ++k) small[k] = static_cast<uint8_t>(std::clamp(small[k] + int(k * 7919 % 5) - 2, 0, 255));
  write_pnm(dir / "small.pgm", h, w, 1, small);
  add(dir / "small.pgm", fixtures.samples[4].label);

  const DuplicateReport report = find_cross_split_duplicates(dataset, splits);
  ASSERT_EQ(report.pairs.size(), 3u) << report.summary(dataset);
  EXPECT_EQ(report.exact_pairs, 1);
  EXPECT_EQ(report.near_pairs, 2);
  const size_t first_copy = fixtures.size();
  for (size_t p = 0; p < 3; ++p) {
    const DuplicatePair& pair = report.pairs[p];
    EXPECT_EQ(pair.first, 2 * p);
    EXPECT_EQ(pair.second, first_copy + p);
    EXPECT_EQ(pair.first_split, "train");
    EXPECT_EQ(pair.second_split, "val");
    EXPECT_EQ(pair.exact, p == 0);
    EXPECT_LE(pair.hamming, kDefaultHammingThreshold);
    EXPECT_GE(pair.correlation, kDefaultMinCorrelation);
  }
  EXPECT_NE(report.summary(dataset).find("copy.png  (identical files)"), std::string::npos) << report.summary(dataset);

  drop_duplicates(splits, report);
  EXPECT_TRUE(splits.val.empty());
  EXPECT_EQ(splits.train.size(), 12u);  // the training side is never touched
  EXPECT_EQ(splits.test.size(), 12u);
}

TEST(DataDuplicates, PerceptualHashIgnoresBrightnessButNotContent) {
  const Dataset fixtures = load_image_folder(kFixtures + "cxr_tiny");
  const Image a = decode_image(fixtures.samples[0].path);
  Image brighter = a;
  for (float& v : brighter.pixels) v = std::min(255.0f, v * 1.1f + 5);
  EXPECT_LE(hamming_distance(perceptual_hash(a), perceptual_hash(brighter)), 2);
  EXPECT_EQ(hamming_distance(perceptual_hash(a), perceptual_hash(a)), 0);
  EXPECT_EQ(std::popcount(perceptual_hash(a) ^ 0), std::popcount(perceptual_hash(a)));
  int far = 0;
  for (size_t i = 1; i < fixtures.size(); ++i)
    far += hamming_distance(perceptual_hash(a), perceptual_hash(decode_image(fixtures.samples[i].path))) > 8;
  EXPECT_GE(far, 12);  // most other X-rays differ by more than the threshold
  EXPECT_NE(content_hash(fixtures.samples[0].path), content_hash(fixtures.samples[1].path));
}

TEST(DataDuplicates, KermanyPatientSplitKeepsItsExactDuplicatesTogether) {
  if (!shared_data_present("kermany_cxr224")) GTEST_SKIP() << "no shared data";
  // The official train split has exact duplicates (7 pairs among the viral images), all within a patient: a
  // patient-grouped carve keeps each pair on one side, a carve by single image does not. Only the viral
  // class is checked, to keep the test fast.
  const Dataset all = load_csv_dataset(kSharedData + "kermany_cxr224/labels.csv");
  Dataset viral = all;
  viral.samples.clear();
  for (const Sample& s : all.samples)
    if (s.split == "train" && all.class_names[s.label] == "viral") viral.samples.push_back(s);
  ASSERT_EQ(viral.size(), 1345u);
  SplitOptions options;
  options.val_fraction = 0.5;
  const DuplicateReport by_patient = find_cross_split_duplicates(viral, make_splits(viral, options));
  EXPECT_EQ(by_patient.exact_pairs, 0) << by_patient.summary(viral);
  EXPECT_TRUE(by_patient.unreadable.empty());
  options.group_by = "none";
  const DuplicateReport by_image = find_cross_split_duplicates(viral, make_splits(viral, options));
  EXPECT_GT(by_image.exact_pairs, 0) << by_image.summary(viral);
  for (const DuplicatePair& pair : by_image.pairs)
    if (pair.exact) {
      EXPECT_EQ(viral.samples[pair.first].patient_id, viral.samples[pair.second].patient_id);
    }
}

}  // namespace
}  // namespace pneuma::data
