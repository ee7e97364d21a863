// Loading datasets from class folders and labels CSVs: the real shared data, the fixtures, and every error a
// user can hit (missing folder, empty class, unknown label, missing column or file).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "data_test_support.h"
#include "engine/data/csv.h"
#include "engine/data/dataset.h"
#include "kernels/error.h"

namespace pneuma::data {
namespace {
using namespace testing;

// Runs `body`, expecting a pneuma::Error whose message contains every one of `parts`.
template <class Body>
void expect_error(Body&& body, std::initializer_list<std::string> parts) {
  try {
    body();
    ADD_FAILURE() << "expected an error mentioning " << *parts.begin();
  } catch (const Error& error) {
    for (const std::string& part : parts)
      EXPECT_NE(std::string(error.what()).find(part), std::string::npos) << error.what() << "\nlacks: " << part;
  }
}

TEST(DataDataset, ImageFolderReadsFixtureClassesSorted) {
  const Dataset dataset = load_image_folder(kFixtures + "cxr_tiny");
  EXPECT_EQ(dataset.class_names, (std::vector<std::string>{"bacterial", "covid", "normal", "viral"}));
  ASSERT_EQ(dataset.size(), 16u);
  for (int c = 0; c < 4; ++c)
    EXPECT_EQ(std::count_if(dataset.samples.begin(), dataset.samples.end(), [&](const Sample& s) { return s.label == c; }), 4);
  for (const Sample& s : dataset.samples) {
    EXPECT_NE(s.path.find("/" + dataset.class_names[s.label] + "/"), std::string::npos) << s.path;
    EXPECT_EQ(s.split, "");
  }
  EXPECT_TRUE(std::is_sorted(dataset.samples.begin(), dataset.samples.end(),
                             [](const Sample& a, const Sample& b) { return a.path < b.path; }));
}

TEST(DataDataset, ImageFolderWithSplitFoldersAndGivenClassOrder) {
  TempDir dir;
  const std::vector<uint8_t> pixels(4 * 4, 128);
  for (const char* file : {"train/dog/a.pgm", "train/dog/b.pgm", "train/cat/c.pgm", "test/cat/d.pgm",
                           "test/dog/sub/e.pgm"})
    write_pnm(dir / file, 4, 4, 1, pixels);
  write_file_bytes(dir / "train/cat/notes.txt", "not an image");
  write_file_bytes(dir / "train/cat/.hidden.pgm", "hidden");
  ImageFolderOptions options;
  options.classes = {"dog", "cat"};
  const Dataset dataset = load_image_folder(dir.path(), options);
  EXPECT_EQ(dataset.class_names, (std::vector<std::string>{"dog", "cat"}));
  ASSERT_EQ(dataset.size(), 5u);
  int test_count = 0;
  for (const Sample& s : dataset.samples) {
    EXPECT_TRUE(s.split == "train" || s.split == "test");
    test_count += s.split == "test";
    EXPECT_EQ(s.label, s.path.find("/dog/") != std::string::npos ? 0 : 1) << s.path;
  }
  EXPECT_EQ(test_count, 2);
}

TEST(DataDataset, ImageFolderErrors) {
  TempDir dir;
  expect_error([&] { load_image_folder(dir / "nowhere"); }, {"nowhere", "does not exist"});
  expect_error([&] { load_image_folder(dir.path()); }, {"no class sub-folders"});
  write_pnm(dir / "a/x.pgm", 2, 2, 1, {1, 2, 3, 4});
  std::filesystem::create_directories(dir / "b");
  write_file_bytes(dir / "b/readme.txt", "no images here");
  expect_error([&] { load_image_folder(dir.path()); }, {"/b", "holds no image"});
  ImageFolderOptions options;
  options.classes = {"a", "zebra"};
  expect_error([&] { load_image_folder(dir.path(), options); }, {"'zebra'", "has no folder"});
  std::filesystem::remove_all(dir / "b");
  std::filesystem::create_directories(dir / "train/a");
  expect_error([&] { load_image_folder(dir.path()); }, {"mixes split folders"});
}

TEST(DataDataset, KermanyCsvHasOfficialSplitsPatientsAndBinaryLabels) {
  if (!shared_data_present("kermany_cxr224")) GTEST_SKIP() << "no shared data";
  const Dataset dataset = load_csv_dataset(kSharedData + "kermany_cxr224/labels.csv");
  EXPECT_EQ(dataset.class_names, (std::vector<std::string>{"bacterial", "normal", "viral"}));
  ASSERT_EQ(dataset.size(), 5840u);
  int64_t train = 0, test = 0;
  for (const Sample& s : dataset.samples) {
    train += s.split == "train";
    test += s.split == "test";
    EXPECT_FALSE(s.patient_id.empty());
  }
  EXPECT_EQ(train, 5216);
  EXPECT_EQ(test, 624);
  std::vector<size_t> all(dataset.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  EXPECT_EQ(class_counts(dataset, all), (std::vector<int64_t>{2530 + 242, 1341 + 234, 1345 + 148}));

  CsvDatasetOptions binary;
  binary.label_column = "binary_label";
  binary.classes = {"normal", "pneumonia"};
  const Dataset two = load_csv_dataset(kSharedData + "kermany_cxr224/labels.csv", binary);
  EXPECT_EQ(class_counts(two, all), (std::vector<int64_t>{1341 + 234, 2530 + 242 + 1345 + 148}));
  EXPECT_TRUE(std::filesystem::is_regular_file(two.samples.front().path));
}

TEST(DataDataset, CsvGroupColumnIsFoundAutomatically) {
  if (!shared_data_present("ct_sarscov2_256")) GTEST_SKIP() << "no shared data";
  const Dataset dataset = load_csv_dataset(kSharedData + "ct_sarscov2_256/labels.csv");
  ASSERT_EQ(dataset.size(), 2481u);
  EXPECT_EQ(dataset.samples.front().group, "g0000");
  EXPECT_TRUE(dataset.samples.front().patient_id.empty());  // the column exists but is empty
  CsvDatasetOptions none;
  none.group_column = "";
  EXPECT_TRUE(load_csv_dataset(kSharedData + "ct_sarscov2_256/labels.csv", none).samples.front().group.empty());
}

TEST(DataDataset, FixtureCsvFilteredByTask) {
  CsvDatasetOptions options;
  options.filter_column = "task";
  options.filter_value = "ct_tiny";
  const Dataset dataset = load_csv_dataset(kFixtures + "labels.csv", options);
  EXPECT_EQ(dataset.class_names, (std::vector<std::string>{"covid", "noncovid"}));
  EXPECT_EQ(dataset.size(), 8u);
  options.filter_value = "no_such_task";
  expect_error([&] { load_csv_dataset(kFixtures + "labels.csv", options); }, {"no rows", "task = no_such_task"});
}

TEST(DataDataset, CsvErrorsNameTheLine) {
  TempDir dir;
  write_pnm(dir / "img/a.pgm", 2, 2, 1, {1, 2, 3, 4});
  write_file_bytes(dir / "labels.csv", "file,label\nimg/a.pgm,cat\nimg/a.pgm,dog\n\"img/a.pgm\",bird\n");
  CsvDatasetOptions options;
  options.classes = {"cat", "dog"};
  expect_error([&] { load_csv_dataset(dir / "labels.csv", options); }, {"labels.csv line 4", "'bird'", "cat, dog"});
  options.classes = {};
  EXPECT_EQ(load_csv_dataset(dir / "labels.csv", options).class_names,
            (std::vector<std::string>{"bird", "cat", "dog"}));

  write_file_bytes(dir / "missing.csv", "file,label\nimg/a.pgm,cat\nimg/b.pgm,cat\n");
  expect_error([&] { load_csv_dataset(dir / "missing.csv"); }, {"missing.csv line 3", "img/b.pgm", "not found"});
  write_file_bytes(dir / "columns.csv", "path,label\nimg/a.pgm,cat\n");
  expect_error([&] { load_csv_dataset(dir / "columns.csv"); }, {"no file column 'file'", "columns: path, label"});
  write_file_bytes(dir / "split.csv", "file,label,split\nimg/a.pgm,cat,holdout\n");
  expect_error([&] { load_csv_dataset(dir / "split.csv"); }, {"split.csv line 2", "'holdout'"});
  write_file_bytes(dir / "ragged.csv", "file,label\nimg/a.pgm\n");
  expect_error([&] { load_csv_dataset(dir / "ragged.csv"); }, {"ragged.csv line 2", "1 fields"});
  expect_error([&] { load_csv_dataset(dir / "absent.csv"); }, {"absent.csv", "does not exist"});
}

TEST(DataDataset, CsvParserHandlesQuotesCrLfAndBom) {
  const CsvTable table = parse_csv("\xEF\xBB\xBF" "a,b\r\n\"x, \"\"y\"\"\",2\r\n\r\n\"multi\nline\",3\n", "t");
  EXPECT_EQ(table.header, (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(table.rows.size(), 2u);
  EXPECT_EQ(table.rows[0].fields, (std::vector<std::string>{"x, \"y\"", "2"}));
  EXPECT_EQ(table.rows[0].line, 2);
  EXPECT_EQ(table.rows[1].fields[0], "multi\nline");
  EXPECT_EQ(table.rows[1].line, 4);
  expect_error([] { parse_csv("a\n\"open", "t.csv"); }, {"t.csv line 2", "unterminated"});
}

}  // namespace
}  // namespace pneuma::data
