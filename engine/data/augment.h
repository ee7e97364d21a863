// Random training augmentation as the studies use it (Keras ImageDataGenerator / preprocessing layers and
// torchvision): rotation, zoom, shift, flips and random resized crop compose into ONE affine map sampled
// bilinearly, followed by photometric ops (multiplicative brightness range, additive brightness, contrast).
// Geometric order: the crop box is taken first, then rotation, zoom and shift act about the image centre, then the
// flips (as a RandomResizedCrop → RandomRotation → RandomFlip pipeline would). Images are HWC in [0, 255] (float
// or uint8 in, float out) and keep their size. Parameters are drawn from Philox keyed by (seed, epoch, position in
// epoch), so they do not depend on threads or on which worker draws them.
#pragma once
#include <cstdint>
#include <string_view>

namespace pneuma::data {

// How samples outside the image are filled (Keras names; ImageDataGenerator defaults to nearest, the
// RandomRotation/RandomZoom/RandomTranslation layers to reflect):
//   nearest  a a a | a b c d | d d d      constant  k k k | a b c d | k k k   (k = fill_value)
//   reflect  c b a | a b c d | d c b      wrap      b c d | a b c d | a b c
// (reflect mirrors about the outer edge of the border pixel, as scipy's and Keras's "reflect" do.)
enum class FillMode { nearest, constant, reflect, wrap };
FillMode fill_mode_from_name(const std::string_view name);  // "nearest" | "constant" | "reflect" | "wrap"

struct AugmentOptions {
  double rotation_degrees = 0;  // angle uniform in [-r, r]; positive turns the content counter-clockwise
  double zoom = 0;              // isotropic scale uniform in [1 - z, 1 + z]; > 1 magnifies (zooms in)
  double shift_x = 0, shift_y = 0;  // translation uniform in [-s, s] × width (height)
  bool horizontal_flip = false, vertical_flip = false;  // each with probability 1/2
  double brightness_low = 1, brightness_high = 1;  // multiply by a factor uniform in [low, high] (Keras brightness_range)
  double brightness_delta = 0;  // add uniform [-d, d] × 255 (Keras RandomBrightness(factor=d))
  double contrast = 0;          // (x - mean_c) · f + mean_c, f uniform in [1 - c, 1 + c] (Keras RandomContrast)
  // torchvision RandomResizedCrop: a crop of area fraction in [crop_scale_low, crop_scale_high] and aspect
  // ratio log-uniform in [crop_ratio_low, crop_ratio_high] (10 tries, else a central crop with the ratio clamped
  // into range), stretched over the output; composes with the other geometric ops.
  bool random_resized_crop = false;
  double crop_scale_low = 0.08, crop_scale_high = 1.0;
  double crop_ratio_low = 3.0 / 4.0, crop_ratio_high = 4.0 / 3.0;
  FillMode fill_mode = FillMode::nearest;
  float fill_value = 0;  // for FillMode::constant, in pixel units [0, 255]

  bool any_geometric() const;
  bool any_photometric() const;
  void validate() const;  // ranges make sense (e.g. 0 <= zoom < 1, low <= high); throws naming the option
};

// One draw of every random parameter.
struct AugmentParams {
  // Affine map from output pixel centre (x, y) to source position: source = matrix · (x, y, 1).
  double matrix[2][3] = {{1, 0, 0}, {0, 1, 0}};
  double brightness_factor = 1, brightness_offset = 0, contrast_factor = 1;
  bool identity_geometry = true;
};

// Parameters for the sample at `position` of `epoch`, for an image of the given size.
AugmentParams draw_augment_params(const AugmentOptions& options, int height, int width, uint64_t seed, int64_t epoch,
                                  int64_t position);

// Builds the affine map for explicit values (used by draw_augment_params; public for tests and tools).
// crop = (x0, y0, w, h) in source pixels, the region mapped onto the whole output.
struct GeometricValues {
  double rotation_degrees = 0, zoom = 1, shift_x_pixels = 0, shift_y_pixels = 0;
  bool flip_horizontal = false, flip_vertical = false;
  double crop_x = 0, crop_y = 0, crop_width = 0, crop_height = 0;  // crop_width <= 0: the whole image
};
AugmentParams make_geometric_params(const GeometricValues& values, int height, int width);

// Applies `params` to `input` (HWC in [0, 255]) writing float `output` (same size, must not alias the input).
// Photometric results are clipped to [0, 255].
void apply_augmentation(const AugmentParams& params, const AugmentOptions& options, const float* input,
                        float* output, int height, int width, int channels);
void apply_augmentation(const AugmentParams& params, const AugmentOptions& options, const uint8_t* input,
                        float* output, int height, int width, int channels);

}  // namespace pneuma::data
