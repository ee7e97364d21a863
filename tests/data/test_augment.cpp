// Augmentation geometry (exact turns, flips, shifts, fill modes, zoom, random resized crop) and photometric
// ranges, and the keyed determinism of the random parameters.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/data/augment.h"
#include "kernels/error.h"

namespace pneuma::data {
namespace {

// An image whose every value is distinct: v(y, x, c) = (y · width + x) · channels + c.
std::vector<float> ramp(int height, int width, int channels) {
  std::vector<float> pixels(static_cast<size_t>(height) * width * channels);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>(i % 251);
  return pixels;
}

std::vector<float> warp(const GeometricValues& values, const std::vector<float>& input, int height, int width,
                        int channels, AugmentOptions options = {}) {
  std::vector<float> output(input.size(), -1.0f);
  apply_augmentation(make_geometric_params(values, height, width), options, input.data(), output.data(), height, width,
                     channels);
  return output;
}

float at(const std::vector<float>& pixels, int width, int channels, int y, int x, int c) {
  return pixels[(static_cast<size_t>(y) * width + x) * channels + c];
}

TEST(DataAugment, NinetyDegreeTurnIsRot90) {
  const int n = 6, channels = 3;
  const std::vector<float> input = ramp(n, n, channels);
  GeometricValues turn;
  turn.rotation_degrees = 90;  // counter-clockwise, like numpy.rot90
  const std::vector<float> output = warp(turn, input, n, n, channels);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x)
      for (int c = 0; c < channels; ++c)
        ASSERT_EQ(at(output, n, channels, y, x, c), at(input, n, channels, x, n - 1 - y, c)) << y << "," << x;
  turn.rotation_degrees = -90;
  const std::vector<float> back = warp(turn, output, n, n, channels);
  EXPECT_EQ(back, input);
}

TEST(DataAugment, FlipsMirrorTheImage) {
  const int height = 5, width = 7, channels = 1;
  const std::vector<float> input = ramp(height, width, channels);
  GeometricValues flip;
  flip.flip_horizontal = true;
  const std::vector<float> horizontal = warp(flip, input, height, width, channels);
  flip = {};
  flip.flip_vertical = true;
  const std::vector<float> vertical = warp(flip, input, height, width, channels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      EXPECT_EQ(at(horizontal, width, 1, y, x, 0), at(input, width, 1, y, width - 1 - x, 0));
      EXPECT_EQ(at(vertical, width, 1, y, x, 0), at(input, width, 1, height - 1 - y, x, 0));
    }
}

TEST(DataAugment, IntegerShiftWithEveryFillMode) {
  // One row a b c d (10, 20, 30, 40) shifted right by 3 pixels: what enters on the left is the fill.
  const std::vector<float> row = {10, 20, 30, 40};
  GeometricValues shift;
  shift.shift_x_pixels = 3;
  const auto shifted = [&](FillMode mode) {
    AugmentOptions options;
    options.fill_mode = mode;
    options.fill_value = 7;
    return warp(shift, row, 1, 4, 1, options);
  };
  EXPECT_EQ(shifted(FillMode::nearest), (std::vector<float>{10, 10, 10, 10}));
  EXPECT_EQ(shifted(FillMode::constant), (std::vector<float>{7, 7, 7, 10}));
  EXPECT_EQ(shifted(FillMode::reflect), (std::vector<float>{30, 20, 10, 10}));  // c b a | a
  EXPECT_EQ(shifted(FillMode::wrap), (std::vector<float>{20, 30, 40, 10}));     // b c d | a
  EXPECT_EQ(fill_mode_from_name("reflect"), FillMode::reflect);
  EXPECT_THROW(fill_mode_from_name("mirror"), Error);
}

TEST(DataAugment, ZoomMagnifiesAboutTheCentre) {
  const int n = 9;
  const std::vector<float> input = ramp(n, n, 1);
  GeometricValues zoom;
  zoom.zoom = 2;  // output pixel (4 + d) samples input (4 + d / 2)
  const std::vector<float> output = warp(zoom, input, n, n, 1);
  EXPECT_EQ(at(output, n, 1, 4, 4, 0), at(input, n, 1, 4, 4, 0));
  EXPECT_FLOAT_EQ(at(output, n, 1, 4, 6, 0), at(input, n, 1, 4, 5, 0));
  EXPECT_FLOAT_EQ(at(output, n, 1, 4, 5, 0), 0.5f * (at(input, n, 1, 4, 4, 0) + at(input, n, 1, 4, 5, 0)));
}

TEST(DataAugment, CropBoxIsStretchedOverTheOutput) {
  const int n = 8;
  const std::vector<float> input = ramp(n, n, 1);
  GeometricValues crop;  // the top-left quarter, magnified 2×: output (2y+1, 2x+1) lies a quarter pixel past (y, x)
  crop.crop_x = crop.crop_y = 0;
  crop.crop_width = crop.crop_height = 4;
  const AugmentParams params = make_geometric_params(crop, n, n);
  EXPECT_DOUBLE_EQ(params.matrix[0][0], 0.5);
  EXPECT_DOUBLE_EQ(params.matrix[0][2], -0.25);
  const std::vector<float> output = warp(crop, input, n, n, 1);
  EXPECT_FLOAT_EQ(at(output, n, 1, 0, 0, 0), at(input, n, 1, 0, 0, 0));  // clamped at the border (nearest)
  EXPECT_FLOAT_EQ(at(output, n, 1, 7, 7, 0),
                  0.75f * 0.75f * at(input, n, 1, 3, 3, 0) + 0.75f * 0.25f * at(input, n, 1, 3, 4, 0) +
                      0.25f * 0.75f * at(input, n, 1, 4, 3, 0) + 0.25f * 0.25f * at(input, n, 1, 4, 4, 0));
}

TEST(DataAugment, NoOptionsIsTheIdentity) {
  const AugmentOptions options;
  EXPECT_FALSE(options.any_geometric());
  EXPECT_FALSE(options.any_photometric());
  const AugmentParams params = draw_augment_params(options, 12, 10, 3, 4, 5);
  EXPECT_TRUE(params.identity_geometry);
  const std::vector<float> input = ramp(12, 10, 3);
  std::vector<float> output(input.size());
  apply_augmentation(params, options, input.data(), output.data(), 12, 10, 3);
  EXPECT_EQ(output, input);
}

TEST(DataAugment, DrawsStayInRangeAndAreKeyedBySeedEpochPosition) {
  AugmentOptions options;
  options.rotation_degrees = 15;
  options.zoom = 0.1;
  options.shift_x = options.shift_y = 0.1;
  options.horizontal_flip = true;
  options.brightness_low = 0.8;
  options.brightness_high = 1.2;
  options.brightness_delta = 0.1;
  options.contrast = 0.2;
  options.validate();
  double factor_sum = 0, factor_min = 2, factor_max = 0;
  int flips = 0;
  const int draws = 2000;
  for (int p = 0; p < draws; ++p) {
    const AugmentParams a = draw_augment_params(options, 64, 64, 11, 2, p);
    const AugmentParams b = draw_augment_params(options, 64, 64, 11, 2, p);
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) ASSERT_EQ(a.matrix[i][j], b.matrix[i][j]);
    ASSERT_EQ(a.brightness_factor, b.brightness_factor);
    EXPECT_GE(a.brightness_factor, 0.8);
    EXPECT_LE(a.brightness_factor, 1.2);
    EXPECT_LE(std::fabs(a.brightness_offset), 0.1 * 255);
    EXPECT_GE(a.contrast_factor, 0.8);
    EXPECT_LE(a.contrast_factor, 1.2);
    // |det| = 1 / zoom² ∈ [1/1.1², 1/0.9²]
    const double det = std::fabs(a.matrix[0][0] * a.matrix[1][1] - a.matrix[0][1] * a.matrix[1][0]);
    EXPECT_GE(det, 1 / (1.1 * 1.1) - 1e-9);
    EXPECT_LE(det, 1 / (0.9 * 0.9) + 1e-9);
    flips += a.matrix[0][0] < 0;  // rotations stay within ±15°, so a negative x scale means a flip
    factor_sum += a.brightness_factor;
    factor_min = std::min(factor_min, a.brightness_factor);
    factor_max = std::max(factor_max, a.brightness_factor);
  }
  EXPECT_NEAR(factor_sum / draws, 1.0, 0.01);
  EXPECT_LT(factor_min, 0.81);
  EXPECT_GT(factor_max, 1.19);
  EXPECT_NEAR(flips, draws / 2, draws / 10);
  const AugmentParams base = draw_augment_params(options, 64, 64, 11, 2, 0);
  EXPECT_NE(draw_augment_params(options, 64, 64, 12, 2, 0).brightness_factor, base.brightness_factor);
  EXPECT_NE(draw_augment_params(options, 64, 64, 11, 3, 0).brightness_factor, base.brightness_factor);
  EXPECT_NE(draw_augment_params(options, 64, 64, 11, 2, 1).brightness_factor, base.brightness_factor);
  // Enabling another op does not change the draws of this one.
  AugmentOptions more = options;
  more.vertical_flip = true;
  more.random_resized_crop = true;
  EXPECT_EQ(draw_augment_params(more, 64, 64, 11, 2, 0).brightness_factor, base.brightness_factor);
}

TEST(DataAugment, PhotometricOpsOnAConstantImage) {
  AugmentOptions options;
  AugmentParams params;
  params.brightness_factor = 1.25;
  params.brightness_offset = -10;
  const std::vector<float> flat(4 * 4 * 3, 100.0f);
  std::vector<float> output(flat.size());
  apply_augmentation(params, options, flat.data(), output.data(), 4, 4, 3);
  for (float v : output) EXPECT_FLOAT_EQ(v, 115.0f);
  params.brightness_factor = 3;  // 300 clips to 255, then -10
  apply_augmentation(params, options, flat.data(), output.data(), 4, 4, 3);
  for (float v : output) EXPECT_FLOAT_EQ(v, 245.0f);
  // Contrast scales the deviation from each channel's mean and keeps the mean.
  params = AugmentParams{};
  params.contrast_factor = 0.5;
  const std::vector<float> two_level = {50, 150, 50, 150};
  std::vector<float> contrasted(4);
  apply_augmentation(params, options, two_level.data(), contrasted.data(), 2, 2, 1);
  EXPECT_EQ(contrasted, (std::vector<float>{75, 125, 75, 125}));
}

TEST(DataAugment, RandomResizedCropFollowsTorchvisionRanges) {
  AugmentOptions options;
  options.random_resized_crop = true;
  options.crop_scale_low = 0.25;
  options.crop_scale_high = 0.5;
  for (int p = 0; p < 500; ++p) {
    const AugmentParams a = draw_augment_params(options, 40, 60, 5, 0, p);
    const double crop_width = a.matrix[0][0] * 60, crop_height = a.matrix[1][1] * 40;
    const double area = crop_width * crop_height / (40.0 * 60.0);
    EXPECT_GE(area, 0.25 * 0.9) << p;  // rounding to whole pixels
    EXPECT_LE(area, 0.5 * 1.1) << p;
    const double ratio = crop_width / crop_height;
    EXPECT_GE(ratio, 0.75 * 0.9);
    EXPECT_LE(ratio, 4.0 / 3.0 * 1.1);
    // The box lies inside the image: output pixel centres map into [-0.5, size - 0.5].
    for (double x : {0.0, 59.0}) {
      const double sx = a.matrix[0][0] * x + a.matrix[0][2];
      EXPECT_GE(sx, -0.5 - 1e-9);
      EXPECT_LE(sx, 59.5 + 1e-9);
    }
  }
}

TEST(DataAugment, GrayImageAugmentsLikeItsThreeChannelCopy) {
  // The loader augments gray images at one channel and replicates afterwards: that must equal augmenting the
  // replicated image, for the geometric and the photometric ops.
  const int height = 11, width = 13;
  const std::vector<float> gray = ramp(height, width, 1);
  std::vector<float> rgb(gray.size() * 3);
  for (size_t p = 0; p < gray.size(); ++p) rgb[p * 3] = rgb[p * 3 + 1] = rgb[p * 3 + 2] = gray[p];
  AugmentOptions options;
  options.rotation_degrees = 30;
  options.zoom = 0.2;
  options.shift_x = 0.2;
  options.brightness_low = 0.7;
  options.brightness_high = 1.3;
  options.contrast = 0.3;
  options.fill_mode = FillMode::reflect;
  for (int position = 0; position < 20; ++position) {
    const AugmentParams params = draw_augment_params(options, height, width, 9, 1, position);
    std::vector<float> one(gray.size()), three(rgb.size());
    apply_augmentation(params, options, gray.data(), one.data(), height, width, 1);
    apply_augmentation(params, options, rgb.data(), three.data(), height, width, 3);
    for (size_t p = 0; p < one.size(); ++p)
      for (int c = 0; c < 3; ++c) ASSERT_EQ(three[p * 3 + c], one[p]) << position << " " << p;
  }
}

TEST(DataAugment, InvalidOptionsAreRejected) {
  AugmentOptions options;
  options.zoom = 1.5;
  EXPECT_THROW(options.validate(), Error);
  options = {};
  options.brightness_low = 1.2;
  options.brightness_high = 0.8;
  try {
    options.validate();
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("brightness range"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace pneuma::data
