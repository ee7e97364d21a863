// Normalization (weights_import/preprocess.h): presets in pixel units, JSON round trip and validation, and images
// turned into model inputs for 3- and 1-channel models.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "weights_import/preprocess.h"

namespace pneuma::weights_import {
namespace {

const std::string kGray = std::string(PNEUMA_SOURCE_DIR) + "/tests/fixtures/images/gray16_5x3.png";

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(ImportPreprocess, PresetsInPixelUnits) {
  const Normalization tf = Normalization::preset("minus_one_one");
  EXPECT_EQ(tf.mean, (std::vector<double>{127.5, 127.5, 127.5}));
  EXPECT_EQ(tf.std, (std::vector<double>{127.5, 127.5, 127.5}));
  const Normalization imagenet = Normalization::preset("imagenet", 3, 256, 0.875);
  EXPECT_NEAR(imagenet.mean[1], 0.456 * 255, 1e-9);
  EXPECT_NEAR(imagenet.std[2], 0.225 * 255, 1e-9);
  EXPECT_EQ(imagenet.height, 256);
  const Normalization gray = Normalization::preset("imagenet", 1);
  ASSERT_EQ(gray.mean.size(), 1u);
  EXPECT_NEAR(gray.mean[0], (0.485 + 0.456 + 0.406) / 3 * 255, 1e-9);
  EXPECT_EQ(Normalization::preset("zero_one").std, (std::vector<double>{255, 255, 255}));
  EXPECT_NE(error_of([] { Normalization::preset("caffe"); }).find("imagenet, minus_one_one or zero_one"),
            std::string::npos);
}

TEST(ImportPreprocess, JsonRoundTripAndValidation) {
  const Normalization original = Normalization::preset("imagenet", 3, 240, 0.9);
  const nlohmann::json json = original;
  EXPECT_EQ(json.at("resize"), "bilinear_antialiased");
  const Normalization back = json.get<Normalization>();
  EXPECT_EQ(back.mean, original.mean);
  EXPECT_EQ(back.std, original.std);
  EXPECT_EQ(back.width, 240);
  EXPECT_EQ(back.center_crop_fraction, 0.9);
  EXPECT_EQ(back.name, "imagenet");

  auto parse = [](const std::string& text) {
    return error_of([&] { nlohmann::json::parse(text).get<Normalization>(); });
  };
  EXPECT_NE(parse(R"({"mean": [0], "std": [1], "channels": 3})").find("1 means and 1 stds for 3 channels"),
            std::string::npos);
  EXPECT_NE(parse(R"({"mean": [0,0,0], "std": [1,1,1], "resize": "nearest"})").find("resize policy 'nearest'"),
            std::string::npos);
  EXPECT_NE(parse(R"({"mean": [0,0,0], "std": [1,1,1], "gamma": 2})").find("unknown key 'gamma'"), std::string::npos);
  EXPECT_NE(parse(R"({"mean": "zero", "std": [1,1,1]})").find("wrong type"), std::string::npos);
  EXPECT_NE(parse(R"({"mean": [0,0,0], "std": [1,1,1], "center_crop_fraction": 1.5})").find("outside (0, 1]"),
            std::string::npos);
  EXPECT_NE(parse(R"({"std": [1,1,1]})").find("'mean' and 'std' are required"), std::string::npos);
}

TEST(ImportPreprocess, GrayImagesFeedThreeAndOneChannelModels) {
  Normalization rgb = Normalization::preset("minus_one_one", 3, 4);
  const Tensor three = preprocess_images({kGray, kGray}, rgb);
  ASSERT_EQ(three.shape(), (Shape{2, 4, 4, 3}));
  const std::vector<float> v = three.to_vector<float>();
  for (size_t p = 0; p < v.size(); p += 3) {
    EXPECT_EQ(v[p], v[p + 1]);
    EXPECT_EQ(v[p], v[p + 2]);
    EXPECT_GE(v[p], -1.0f);
    EXPECT_LE(v[p], 1.0f);
  }
  EXPECT_EQ(std::vector<float>(v.begin(), v.begin() + 48), std::vector<float>(v.begin() + 48, v.end()));
  const Tensor one = preprocess_image(kGray, Normalization::preset("minus_one_one", 1, 4));
  ASSERT_EQ(one.shape(), (Shape{1, 4, 4, 1}));
  const std::vector<float> g = one.to_vector<float>();
  for (size_t p = 0; p < g.size(); ++p) EXPECT_EQ(g[p], v[p * 3]);
  EXPECT_NE(error_of([] { preprocess_images({}, Normalization::preset("imagenet")); }).find("no images"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              preprocess_image("/nonexistent.png", Normalization::preset("imagenet"));
            }).find("/nonexistent.png"),
            std::string::npos);
}

}  // namespace
}  // namespace pneuma::weights_import
