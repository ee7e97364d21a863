#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/data/image.h"
#include "kernels/error.h"

namespace pneuma {
namespace {

const std::string kFixtures = std::string(PNEUMA_SOURCE_DIR) + "/tests/fixtures/images/";
const std::string kSharedFixtures = std::string(PNEUMA_SHARED_DIR) + "/data/fixtures/";

TEST(Image, DecodesSixteenBitPngScaledToEightBitRange) {
  Image image = decode_image(kFixtures + "gray16_5x3.png");
  ASSERT_EQ(image.height, 3);
  ASSERT_EQ(image.width, 5);
  ASSERT_EQ(image.channels, 1);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 5; ++x) EXPECT_NEAR(image.at(y, x, 0), (y * 5 + x) * 4000 * 255.0 / 65535.0, 1e-3);
}

TEST(Image, DecodesRealChestXray) {
  const std::string path = kSharedFixtures + "cxr_tiny/normal";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "shared fixtures not found at " << path;
  for (const auto& entry : std::filesystem::directory_iterator(path)) {
    Image image = decode_image(entry.path().string());
    EXPECT_GT(image.height, 8);
    EXPECT_GT(image.width, 8);
    EXPECT_TRUE(image.channels == 1 || image.channels == 3);
    Image rgb = to_rgb(to_grayscale(image));
    EXPECT_EQ(rgb.channels, 3);
    float low = 255, high = 0;
    for (float v : rgb.pixels) {
      low = std::min(low, v);
      high = std::max(high, v);
    }
    EXPECT_LT(low, high);  // not a blank image
  }
}

TEST(Image, CorruptTruncatedAndMissingFilesAreClearErrors) {
  const auto directory = std::filesystem::temp_directory_path() / "pneuma_image_test";
  std::filesystem::create_directories(directory);
  const std::string truncated = (directory / "truncated.png").string();
  {
    std::ifstream in(kFixtures + "gray16_5x3.png", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream out(truncated, std::ios::binary);
    out.write(bytes.data(), 40);
  }
  const std::string garbage = (directory / "garbage.jpg").string();
  std::ofstream(garbage) << "this is not an image";
  for (const std::string& path : {truncated, garbage, (directory / "missing.png").string()}) {
    try {
      decode_image(path);
      FAIL() << "expected an error for " << path;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
  std::filesystem::remove_all(directory);
}

TEST(Image, ResizeKeepsConstantsAndAveragesWhenShrinking) {
  Image image;
  image.height = 8;
  image.width = 8;
  image.channels = 1;
  image.pixels.resize(64);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) image.pixels[y * 8 + x] = ((x + y) % 2) ? 200.0f : 0.0f;  // checkerboard
  Image small = resize_bilinear_antialiased(image, 2, 2);
  for (float v : small.pixels) EXPECT_NEAR(v, 100.0f, 15.0f);  // antialiased: the mean, not an aliased sample
  Image flat = image;
  std::fill(flat.pixels.begin(), flat.pixels.end(), 77.0f);
  for (float v : resize_bilinear_antialiased(flat, 5, 11).pixels) EXPECT_NEAR(v, 77.0f, 1e-4);
  for (float v : resize_bilinear_antialiased(flat, 3, 3).pixels) EXPECT_NEAR(v, 77.0f, 1e-4);
}

TEST(Image, CenterCropTakesTheMiddle) {
  Image image;
  image.height = 8;
  image.width = 8;
  image.channels = 1;
  for (int i = 0; i < 64; ++i) image.pixels.push_back(static_cast<float>(i));
  Image crop = center_crop(image, 0.5);
  ASSERT_EQ(crop.height, 4);
  ASSERT_EQ(crop.width, 4);
  EXPECT_EQ(crop.at(0, 0, 0), 18.0f);
  EXPECT_THROW(center_crop(image, 0.0), Error);
}

}  // namespace
}  // namespace pneuma
