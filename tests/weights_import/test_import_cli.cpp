// `pneuma import` and `pneuma predict` end to end without any framework: a torchvision-layout checkpoint is made
// from one of our models (conv weights back to OIHW) as .safetensors, imported, and used to classify an image.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "models/registry.h"
#include "tests/weights_import/import_test_support.h"
#include "weights_import/model_checkpoint.h"

namespace pneuma::weights_import {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

const std::string kImage = std::string(PNEUMA_SOURCE_DIR) + "/tests/fixtures/images/gray16_5x3.png";

// A torchvision-named, torchvision-layout MobileNetV2 (width 0.35) with `classes` outputs.
std::string write_torchvision_checkpoint(const test::ScratchDirectory& scratch, int64_t classes) {
  models::ModelConfig config;
  config.architecture = "mobilenet_v2";
  config.width_multiplier = 0.35;
  config.classes = classes;
  auto model = models::create_model(config);
  std::vector<NamedTensor> tensors;
  for (const auto& [name, tensor] : model->named_tensors())
    tensors.push_back({name, tensor.rank() == 4 ? tensor.permute({0, 3, 1, 2}).contiguous() : tensor});
  const std::string path = scratch.file("torchvision_" + std::to_string(classes) + ".safetensors");
  write_safetensors(path, tensors);
  return path;
}

class ImportCli : public testing::Test {
 protected:
  test::ScratchDirectory scratch;
  std::string import_command(const std::string& source, const std::string& output, const std::string& extra = "") {
    return test::cli() + " import --from torchvision --arch mobilenet_v2 --width 0.35 --size 32 " + extra + " " +
           source + " -o " + output;
  }
};

TEST_F(ImportCli, ImportThenPredictTextAndJson) {
  const std::string source = write_torchvision_checkpoint(scratch, 3);
  const std::string names = scratch.file("names.txt");
  test::write_bytes(names, "normal\nbacterial\nviral\n");
  const std::string checkpoint = scratch.file("model.safetensors");
  const test::CommandResult imported =
      test::run_command(import_command(source, checkpoint, "--classes 3 --class-names " + names));
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  EXPECT_NE(imported.output.find("imported 262 tensors"), std::string::npos) << imported.output;
  const ModelCheckpoint loaded = load_model_checkpoint(checkpoint);
  EXPECT_EQ(loaded.class_names, (std::vector<std::string>{"normal", "bacterial", "viral"}));
  EXPECT_EQ(loaded.metadata.at("imported_source"), "torchvision");
  EXPECT_EQ(loaded.metadata.at("imported_format"), "safetensors");
  EXPECT_EQ(loaded.normalization.name, "imagenet");
  EXPECT_EQ(loaded.normalization.height, 32);

  const test::CommandResult text =
      test::run_command(test::cli() + " predict " + checkpoint + " " + kImage + " --top 2");
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_EQ(text.output.rfind(kImage + "\n  1. ", 0), 0u) << text.output;
  EXPECT_NE(text.output.find("\n  2. "), std::string::npos) << text.output;
  EXPECT_EQ(text.output.find("\n  3. "), std::string::npos) << text.output;

  const test::CommandResult json =
      test::run_command(test::cli() + " predict " + checkpoint + " " + kImage + " " + kImage + " --json", false);
  ASSERT_EQ(json.exit_code, 0) << json.output;
  const Json parsed = Json::parse(json.output);
  ASSERT_EQ(parsed.size(), 2u);
  double total = 0;
  for (const Json& c : parsed[0].at("top")) total += c.at("probability").get<double>();
  EXPECT_NEAR(total, 1.0, 1e-5);
  EXPECT_EQ(parsed[0].at("top"), parsed[1].at("top"));
  EXPECT_EQ(parsed[0].at("top").size(), 3u);

  const std::string labels = scratch.file("labels.txt");
  test::write_bytes(labels, "background\nA\nB\nC\n");  // a leading "background" line is skipped
  const test::CommandResult relabelled = test::run_command(
      test::cli() + " predict " + checkpoint + " " + kImage + " --labels " + labels + " --json", false);
  ASSERT_EQ(relabelled.exit_code, 0) << relabelled.output;
  const std::string first = Json::parse(relabelled.output)[0].at("top")[0].at("name");
  EXPECT_TRUE(first == "A" || first == "B" || first == "C") << first;
}

TEST_F(ImportCli, GrayscaleImportMatchesTheRgbModelOnGrayImages) {
  const std::string source = write_torchvision_checkpoint(scratch, 3);
  const std::string rgb = scratch.file("rgb.safetensors"), gray = scratch.file("gray.safetensors");
  const std::string common = "--classes 3 --normalization minus_one_one";
  ASSERT_EQ(test::run_command(import_command(source, rgb, common)).exit_code, 0);
  const test::CommandResult imported = test::run_command(import_command(source, gray, common + " --in-channels 1"));
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  EXPECT_EQ(load_model_checkpoint(gray).model->in_channels(), 1);
  auto probabilities = [&](const std::string& checkpoint) {
    const test::CommandResult result =
        test::run_command(test::cli() + " predict " + checkpoint + " " + kImage + " --json", false);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    std::vector<double> p(3);
    const Json parsed = Json::parse(result.output);
    for (const Json& c : parsed[0].at("top"))
      p.at(c.at("class").get<size_t>()) = c.at("probability");
    return p;
  };
  const std::vector<double> a = probabilities(rgb), b = probabilities(gray);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(a[i], b[i], 1e-5) << "class " << i;
}

TEST_F(ImportCli, ErrorsAreOneLineAndLeaveNoOutput) {
  const std::string source = write_torchvision_checkpoint(scratch, 3);
  const std::string output = scratch.file("out.safetensors");
  auto expect_error = [&](const std::string& command, const std::string& expected, bool no_output = true) {
    const test::CommandResult result = test::run_command(command);
    EXPECT_EQ(result.exit_code, 1) << command;
    EXPECT_NE(result.output.find(expected), std::string::npos) << result.output;
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
    if (no_output) {
      EXPECT_FALSE(fs::exists(output)) << command;
    }
  };
  expect_error(import_command(scratch.file("missing.pth"), output), "cannot open");
  expect_error(import_command(source, output, "--classes 5"), "classifier of another shape (2)");
  expect_error(import_command(source, output, "--classes 3 --class-names " + scratch.file("none.txt")),
               "cannot read class names");
  expect_error(test::cli() + " import --from keras --arch mobilenet_v2 --width 0.35 " + source + " -o " + output,
               "unexpected in the checkpoint (262)");
  EXPECT_NE(
      test::run_command(test::cli() + " import --from caffe --arch mobilenet_v2 " + source + " -o " + output).exit_code,
      0);
  EXPECT_FALSE(fs::exists(output));

  // --classifier drop imports a backbone under a new head.
  const test::CommandResult dropped =
      test::run_command(import_command(source, output, "--classes 5 --classifier drop"));
  ASSERT_EQ(dropped.exit_code, 0) << dropped.output;
  EXPECT_NE(dropped.output.find("classifier (drop): 2 tensors keep their fresh initialisation"), std::string::npos)
      << dropped.output;
  expect_error(test::cli() + " predict " + output + " " + scratch.file("missing.png"), "missing.png", false);
  const std::string labels = scratch.file("labels.txt");
  test::write_bytes(labels, "a\nb\n");
  expect_error(test::cli() + " predict " + output + " " + kImage + " --labels " + labels, "2 labels for 5 classes",
               false);
}

}  // namespace
}  // namespace pneuma::weights_import
