// The real MobileNetV2 ImageNet weights (../shared/weights): the .pth and the .safetensors import to identical
// tensors, and `pneuma import` + `pneuma predict` with SAME padding and TF-slim preprocessing reproduce the top-1
// classes of ../shared/README.md and PyTorch's probabilities on the same preprocessed input
// (tests/fixtures/import/mobilenet_v2_tfslim_predictions.json, made by tools/make_import_reference.py).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/safetensors.h"
#include "tests/weights_import/import_test_support.h"
#include "weights_import/tensor_archive.h"

namespace pneuma::weights_import {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

const std::string kWeights =
    std::string(PNEUMA_SHARED_DIR) + "/weights/mobilenet_v2_imagenet/mobilenet_v2_1.0_224_tfslim";
const std::string kSamples = std::string(PNEUMA_SHARED_DIR) + "/weights/imagenet_samples/";

#define SKIP_WITHOUT_SHARED_WEIGHTS() \
  if (!fs::exists(kWeights + ".pth")) GTEST_SKIP() << "no " << kWeights << ".pth (../shared is missing)"

TEST(ImportRealWeights, PthAndSafetensorsHoldIdenticalTensors) {
  SKIP_WITHOUT_SHARED_WEIGHTS();
  const TensorArchive pth = read_tensor_archive(kWeights + ".pth");
  const TensorArchive safetensors = read_tensor_archive(kWeights + ".safetensors");
  ASSERT_EQ(pth.tensors.size(), 314u);  // 262 model tensors + 52 num_batches_tracked
  ASSERT_EQ(pth.tensors.size(), safetensors.tensors.size());
  for (size_t i = 0; i < pth.tensors.size(); ++i) {
    const NamedTensor& a = pth.tensors[i];
    ASSERT_TRUE(safetensors.contains(a.name)) << a.name;
    const Tensor& b = safetensors.at(a.name);
    ASSERT_EQ(a.tensor.dtype(), b.dtype()) << a.name;
    ASSERT_EQ(a.tensor.shape(), b.shape()) << a.name;
    EXPECT_EQ(std::memcmp(a.tensor.raw_data(), b.raw_data(), a.tensor.nbytes()), 0) << a.name << " differs";
  }
}

// `pneuma predict --json` of every class, as image → class → probability.
std::map<std::string, std::vector<double>> predict_all(const std::string& checkpoint,
                                                       const std::vector<std::string>& images,
                                                       const std::string& save_inputs) {
  std::string command = test::cli() + " predict " + checkpoint + " --json --top 1000 --save-inputs " + save_inputs;
  for (const std::string& image : images) command += " " + kSamples + image;
  const test::CommandResult result = test::run_command(command, false);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  std::map<std::string, std::vector<double>> out;
  for (const Json& entry : Json::parse(result.output)) {
    std::vector<double> probabilities(1000, -1);
    for (const Json& c : entry.at("top")) probabilities.at(c.at("class").get<size_t>()) = c.at("probability");
    out[fs::path(entry.at("image").get<std::string>()).filename().string()] = probabilities;
  }
  return out;
}

TEST(ImportRealWeights, PredictMatchesPyTorchWithSamePaddingAndTfSlimPreprocessing) {
  SKIP_WITHOUT_SHARED_WEIGHTS();
  const test::ScratchDirectory scratch;
  const std::string checkpoint = scratch.file("mobilenet_v2.safetensors");
  const test::CommandResult imported =
      test::run_command(test::cli() +
                        " import --from torchvision --arch mobilenet_v2 --padding same --normalization minus_one_one "
                        "--crop 0.875 --size 224 --class-names " +
                        kSamples + "imagenet_labels.txt " + kWeights + ".pth -o " + checkpoint);
  ASSERT_EQ(imported.exit_code, 0) << imported.output;

  const Json fixture = Json::parse(test::read_bytes(test::import_fixture("mobilenet_v2_tfslim_predictions.json")));
  std::vector<std::string> images;
  for (const Json& record : fixture.at("images")) images.push_back(record.at("image"));
  const std::string inputs_path = scratch.file("inputs.safetensors");
  const auto ours = predict_all(checkpoint, images, inputs_path);

  // The top-1 classes ../shared/README.md lists for these photos (Chicken: cock or hen).
  const std::map<std::string, std::vector<int>> readme = {{"cat.bmp", {285}},
                                                          {"parrot.jpg", {88}},
                                                          {"hot_dog.jpg", {934}},
                                                          {"Chicken.jpg", {7, 8}},
                                                          {"grace_hopper.bmp", {667}}};
  const SafetensorsFile inputs = read_safetensors(inputs_path);
  const Tensor& batch = inputs.at("inputs");
  ASSERT_EQ(batch.shape(), (Shape{static_cast<int64_t>(images.size()), 224, 224, 3}));
  const std::vector<float> pixels = batch.to_vector<float>();
  double largest_difference = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    const Json& record = fixture.at("images")[i];
    const std::string& image = images[i];
    SCOPED_TRACE(image);
    const std::vector<double>& p = ours.at(image);
    const auto top1 = std::max_element(p.begin(), p.end()) - p.begin();
    const auto& expected = readme.at(image);
    EXPECT_NE(std::find(expected.begin(), expected.end(), top1), expected.end()) << "top-1 " << top1;
    for (const Json& entry : record.at("top10")) {
      const double difference = std::abs(p.at(entry[0].get<size_t>()) - entry[1].get<double>());
      largest_difference = std::max(largest_difference, difference);
      EXPECT_LE(difference, 0.02) << "class " << entry[0];
    }
    // The fixture was computed on our preprocessing's output: it must still produce the same input.
    for (int c = 0; c < 3; ++c) {
      double sum = 0;
      const size_t count = 224 * 224;
      for (size_t k = 0; k < count; ++k) sum += pixels[i * count * 3 + k * 3 + c];
      EXPECT_NEAR(sum / count, record.at("input_mean")[c].get<double>(), 1e-4) << "channel " << c;
    }
  }
  std::printf("[ parity   ] max |p_ours - p_torch| over the top-10 classes of %zu photos: %.2e\n", images.size(),
              largest_difference);
}

TEST(ImportRealWeights, ImportIntoTheWrongArchitectureFailsAndWritesNothing) {
  SKIP_WITHOUT_SHARED_WEIGHTS();
  const test::ScratchDirectory scratch;
  const std::string output = scratch.file("wrong.safetensors");
  const test::CommandResult result = test::run_command(
      test::cli() + " import --from torchvision --arch efficientnet_b0 " + kWeights + ".pth -o " + output);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.output.rfind("pneuma import: error: ", 0), 0u) << result.output;
  EXPECT_NE(result.output.find("it holds a different architecture"), std::string::npos) << result.output;
  EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
  EXPECT_FALSE(fs::exists(output));
  EXPECT_TRUE(fs::is_empty(scratch.path())) << "a temporary file was left behind";
}

}  // namespace
}  // namespace pneuma::weights_import
