// engine/explain heat-map colouring, overlays and PNG output (round trip through our decoder, atomic writes).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "engine/data/image.h"
#include "engine/explain/heat_map.h"
#include "engine/explain/png.h"
#include "kernels/error.h"

namespace pneuma::explain {
namespace {

TEST(HeatMap, TurboRunsFromDarkBlueThroughGreenToDarkRed) {
  const auto low = turbo_color(0.0), middle = turbo_color(0.5), high = turbo_color(1.0);
  EXPECT_GT(low[2], low[0]);                             // blue end
  EXPECT_GT(middle[1], std::max(middle[0], middle[2]));  // green middle
  EXPECT_GT(high[0], std::max(high[1], high[2]));        // red end
  EXPECT_EQ(turbo_color(-3.0), low);                     // clamped
  EXPECT_EQ(turbo_color(7.0), high);
  for (double t = 0.0; t <= 1.0; t += 0.01)
    for (float v : turbo_color(t)) {
      EXPECT_GE(v, 0.0f);
      EXPECT_LE(v, 255.0f);
    }
}

TEST(HeatMap, OverlayBlendsGrayImageWithTheColormap) {
  const Image gray{2, 3, 1, {0, 50, 100, 150, 200, 250}};
  const Tensor map = Tensor::from_vector<float>({0.0f, 0.2f, 0.4f, 0.6f, 0.8f, 1.0f}, {2, 3});
  const Image unchanged = overlay_heat_map(gray, map, 0.0);
  ASSERT_EQ(unchanged.channels, 3);
  for (int p = 0; p < 6; ++p)
    for (int c = 0; c < 3; ++c) EXPECT_FLOAT_EQ(unchanged.pixels[p * 3 + c], gray.pixels[p]);
  const Image colour_only = overlay_heat_map(gray, map, 1.0);
  EXPECT_EQ(colour_only.pixels, colorize_heat_map(map).pixels);
  const Image half = overlay_heat_map(gray, map, 0.5);
  const auto colour = turbo_color(0.6);
  EXPECT_FLOAT_EQ(half.pixels[3 * 3 + 1], 0.5f * 150.0f + 0.5f * colour[1]);
  EXPECT_THROW(overlay_heat_map(gray, Tensor::zeros({3, 2}), 0.5), Error);
  EXPECT_THROW(overlay_heat_map(gray, map, 1.5), Error);
}

TEST(Png, RoundTripsThroughTheDecoderAndWritesAtomically) {
  Image rgb{5, 7, 3, {}};
  for (int i = 0; i < 5 * 7 * 3; ++i) rgb.pixels.push_back(static_cast<float>((i * 37) % 256) + 0.3f);
  rgb.pixels[4] = 300.0f;  // clamped
  rgb.pixels[5] = -2.0f;
  const std::string bytes = encode_png(rgb);
  ASSERT_GT(bytes.size(), 8u);
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
  EXPECT_EQ(encode_png(rgb), bytes);  // deterministic
  const Image decoded =
      decode_image_from_memory(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), "round trip");
  ASSERT_EQ(decoded.height, 5);
  ASSERT_EQ(decoded.width, 7);
  ASSERT_EQ(decoded.channels, 3);
  for (size_t i = 0; i < decoded.pixels.size(); ++i) {
    const float expected = i == 4 ? 255.0f : i == 5 ? 0.0f : std::nearbyint(rgb.pixels[i]);
    EXPECT_EQ(decoded.pixels[i], expected) << i;
  }

  const std::filesystem::path directory = std::filesystem::temp_directory_path() / "pneuma_png_test";
  std::filesystem::remove_all(directory);
  std::filesystem::create_directories(directory);
  const std::string path = (directory / "overlay.png").string();
  write_png(path, rgb);
  EXPECT_EQ(decode_image(path).pixels, decoded.pixels);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(directory), std::filesystem::directory_iterator()), 1);
  EXPECT_THROW(write_png((directory / "no" / "such" / "dir.png").string(), rgb), Error);
  EXPECT_THROW(encode_png(Image{2, 2, 3, {1, 2, 3}}), Error);
  std::filesystem::remove_all(directory);
}

}  // namespace
}  // namespace pneuma::explain
