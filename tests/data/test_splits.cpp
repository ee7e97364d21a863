// Splits: stratified by class, group-disjoint (patients, near-duplicate CT slices), seeded, predefined splits
// kept; class weights.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "data_test_support.h"
#include "engine/data/class_balance.h"
#include "engine/data/splits.h"
#include "kernels/error.h"

namespace pneuma::data {
namespace {
using namespace testing;

std::vector<double> proportions(const Dataset& dataset, const std::vector<size_t>& part) {
  const std::vector<int64_t> counts = class_counts(dataset, part);
  std::vector<double> p;
  for (int64_t c : counts) p.push_back(static_cast<double>(c) / static_cast<double>(part.size()));
  return p;
}

void expect_stratified(const Dataset& dataset, const std::vector<size_t>& a, const std::vector<size_t>& b,
                       double tolerance) {
  const auto pa = proportions(dataset, a), pb = proportions(dataset, b);
  for (size_t c = 0; c < pa.size(); ++c)
    EXPECT_NEAR(pa[c], pb[c], tolerance) << "class " << dataset.class_names[c];
}

void expect_partition(const Splits& splits, size_t expected_total) {
  std::set<size_t> seen;
  for (const auto* part : {&splits.train, &splits.val, &splits.test})
    for (size_t i : *part) EXPECT_TRUE(seen.insert(i).second) << "sample " << i << " is in two splits";
  EXPECT_EQ(seen.size(), expected_total);
}

TEST(DataSplits, KermanyValCarvedFromTrainByPatient) {
  if (!shared_data_present("kermany_cxr224")) GTEST_SKIP() << "no shared data";
  const Dataset dataset = load_csv_dataset(kSharedData + "kermany_cxr224/labels.csv");
  SplitOptions options;
  options.val_fraction = 0.1;
  options.seed = 7;
  const Splits splits = make_splits(dataset, options);
  EXPECT_EQ(resolve_group_by(dataset, "auto"), "patient_id");
  EXPECT_EQ(splits.test.size(), 624u);  // the official test split is kept
  EXPECT_EQ(splits.train.size() + splits.val.size(), 5216u);
  EXPECT_NEAR(static_cast<double>(splits.val.size()) / 5216.0, 0.1, 0.01);
  expect_partition(splits, 5840);
  for (size_t i : splits.val) EXPECT_EQ(dataset.samples[i].split, "train");
  // No patient of the carved validation split is in train.
  EXPECT_TRUE(groups_in_several_splits(dataset, Splits{splits.train, splits.val, {}}, "patient_id").empty());
  expect_stratified(dataset, splits.train, splits.val, 0.01);
  // The official split reuses file-name patient numbers between its train and test folders; we keep it as is.
  EXPECT_FALSE(groups_in_several_splits(dataset, splits, "patient_id").empty());

  // Pooled (ignoring the official split), every split is patient-disjoint.
  options.use_existing_splits = false;
  options.test_fraction = 0.15;
  const Splits pooled = make_splits(dataset, options);
  expect_partition(pooled, 5840);
  EXPECT_TRUE(groups_in_several_splits(dataset, pooled, "patient_id").empty());
  expect_stratified(dataset, pooled.train, pooled.test, 0.01);
  expect_stratified(dataset, pooled.train, pooled.val, 0.01);
  EXPECT_NEAR(static_cast<double>(pooled.test.size()) / 5840.0, 0.15, 0.01);

  // Seeded: the same seed gives the same split, another seed another one.
  EXPECT_EQ(make_splits(dataset, options).val, pooled.val);
  options.seed = 8;
  EXPECT_NE(make_splits(dataset, options).val, pooled.val);
}

TEST(DataSplits, SarsCov2GroupedByNearDuplicateGroup) {
  if (!shared_data_present("ct_sarscov2_256")) GTEST_SKIP() << "no shared data";
  const Dataset dataset = load_csv_dataset(kSharedData + "ct_sarscov2_256/labels.csv");
  EXPECT_EQ(resolve_group_by(dataset, "auto"), "group");
  SplitOptions options;
  options.val_fraction = 0.15;
  options.test_fraction = 0.15;
  const Splits splits = make_splits(dataset, options);
  expect_partition(splits, 2481);
  EXPECT_TRUE(groups_in_several_splits(dataset, splits, "group").empty());
  expect_stratified(dataset, splits.train, splits.val, 0.02);
  expect_stratified(dataset, splits.train, splits.test, 0.02);
  // Splitting by single image would scatter near-duplicate slices: the check detects it.
  options.group_by = "none";
  EXPECT_FALSE(groups_in_several_splits(dataset, make_splits(dataset, options), "group").empty());
  EXPECT_THROW(resolve_group_by(dataset, "patient_id"), Error);  // the column is empty
}

TEST(DataSplits, UcsdPredefinedSplitsAreKept) {
  if (!shared_data_present("ct_ucsd_covidct")) GTEST_SKIP() << "no shared data";
  const Dataset dataset = load_csv_dataset(kSharedData + "ct_ucsd_covidct/labels.csv");
  const Splits splits = make_splits(dataset, SplitOptions{});
  EXPECT_EQ(splits.train.size(), 425u);
  EXPECT_EQ(splits.val.size(), 118u);
  EXPECT_EQ(splits.test.size(), 203u);
  EXPECT_TRUE(groups_in_several_splits(dataset, splits, "patient_id").empty());
  EXPECT_NE(describe_splits(dataset, splits).find("val 118 (covid 60, noncovid 58)"), std::string::npos)
      << describe_splits(dataset, splits);
}

TEST(DataSplits, EmptyRequestedSplitIsAnError) {
  Dataset dataset;
  dataset.root = "tiny";
  dataset.class_names = {"a", "b"};
  for (int i = 0; i < 6; ++i) dataset.samples.push_back(Sample{"x" + std::to_string(i), i % 2, "p", "", ""});
  SplitOptions options;  // everything is one patient: no whole group is left for val
  try {
    make_splits(dataset, options);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("the val split of tiny is empty"), std::string::npos) << error.what();
  }
  options.val_fraction = 0.6;
  options.test_fraction = 0.5;
  EXPECT_THROW(make_splits(dataset, options), Error);
  options = SplitOptions{};
  options.group_by = "none";
  options.val_fraction = 0.34;
  const Splits splits = make_splits(dataset, options);
  EXPECT_EQ(splits.val.size(), 2u);
  EXPECT_EQ(class_counts(dataset, splits.val), (std::vector<int64_t>{1, 1}));
  options.group_by = "patients";
  EXPECT_THROW(make_splits(dataset, options), Error);
}

TEST(DataSplits, BalancedClassWeights) {
  Dataset dataset;
  dataset.class_names = {"a", "b", "c"};
  std::vector<size_t> all;
  for (int i = 0; i < 10; ++i) {
    dataset.samples.push_back(Sample{"x", i < 6 ? 0 : i < 9 ? 1 : 2, "", "", ""});
    all.push_back(i);
  }
  const std::vector<double> weights = balanced_class_weights(dataset, all);
  ASSERT_EQ(weights.size(), 3u);
  EXPECT_DOUBLE_EQ(weights[0], 10.0 / (3 * 6));
  EXPECT_DOUBLE_EQ(weights[1], 10.0 / (3 * 3));
  EXPECT_DOUBLE_EQ(weights[2], 10.0 / 3);
  try {
    balanced_class_weights(dataset, {0, 1, 6});
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("class 'c'"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace pneuma::data
