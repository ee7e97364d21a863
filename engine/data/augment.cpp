// Random augmentation: one affine warp with bilinear sampling, then photometric ops (see augment.h).
#include "engine/data/augment.h"

#include <algorithm>
#include <cmath>

#include "engine/data/random.h"
#include "kernels/error.h"

namespace pneuma::data {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Draw numbers of one sample's stream: fixed, so enabling one op never changes another op's values.
enum Draw : uint32_t {
  kRotation = 0, kZoom, kShiftX, kShiftY, kFlipH, kFlipV, kBrightnessFactor, kBrightnessOffset, kContrast,
  kCropFirst  // 4 draws per crop try
};
constexpr int kCropTries = 10;

struct Affine {
  double m[2][3];
  static Affine identity() { return {{{1, 0, 0}, {0, 1, 0}}}; }
  // (this ∘ other)(p) = this(other(p))
  Affine after(const Affine& o) const {
    Affine r;
    for (int i = 0; i < 2; ++i) {
      r.m[i][0] = m[i][0] * o.m[0][0] + m[i][1] * o.m[1][0];
      r.m[i][1] = m[i][0] * o.m[0][1] + m[i][1] * o.m[1][1];
      r.m[i][2] = m[i][0] * o.m[0][2] + m[i][1] * o.m[1][2] + m[i][2];
    }
    return r;
  }
};

// Index of a sample position along an axis of `size` pixels under the fill mode; -1 = use the fill value.
inline int fill_index(int i, int size, FillMode mode) {
  if (i >= 0 && i < size) return i;
  switch (mode) {
    case FillMode::nearest: return i < 0 ? 0 : size - 1;
    case FillMode::constant: return -1;
    case FillMode::reflect: {
      const int period = 2 * size;
      int m = i % period;
      if (m < 0) m += period;
      return m < size ? m : period - 1 - m;
    }
    case FillMode::wrap: {
      int m = i % size;
      return m < 0 ? m + size : m;
    }
  }
  return -1;
}

// Bilinear sample of the source at (sx, sy) into out[0..C); neighbours outside the image follow the fill mode.
template <int C, class T>
inline void sample_bordered(const T* input, int height, int width, int channels, double sx, double sy,
                            const AugmentOptions& options, float* out) {
  const int n = C > 0 ? C : channels;
  const double fx0 = std::floor(sx), fy0 = std::floor(sy);
  const float ax = static_cast<float>(sx - fx0), ay = static_cast<float>(sy - fy0);
  // Far outside the image the index arithmetic could overflow: clamp to a range that still maps correctly.
  const int x0 = static_cast<int>(std::clamp(fx0, -4.0 * width, 4.0 * width));
  const int y0 = static_cast<int>(std::clamp(fy0, -4.0 * height, 4.0 * height));
  const int xs[2] = {fill_index(x0, width, options.fill_mode), fill_index(x0 + 1, width, options.fill_mode)};
  const int ys[2] = {fill_index(y0, height, options.fill_mode), fill_index(y0 + 1, height, options.fill_mode)};
  const float wx[2] = {1 - ax, ax}, wy[2] = {1 - ay, ay};
  for (int c = 0; c < n; ++c) out[c] = 0;
  for (int j = 0; j < 2; ++j)
    for (int i = 0; i < 2; ++i) {
      const float w = wy[j] * wx[i];
      if (w == 0) continue;
      if (xs[i] < 0 || ys[j] < 0) {
        for (int c = 0; c < n; ++c) out[c] += w * options.fill_value;
      } else {
        const T* in = input + (static_cast<size_t>(ys[j]) * width + xs[i]) * n;
        for (int c = 0; c < n; ++c) out[c] += w * static_cast<float>(in[c]);
      }
    }
}

// C = channels known at compile time (1 or 3), or 0 for any. Interior samples (all four neighbours inside)
// take the direct path; the rest go through the fill mode.
template <int C, class T>
void warp(const AugmentParams& params, const AugmentOptions& options, const T* input, float* output, int height,
          int width, int channels) {
  const int n = C > 0 ? C : channels;
  const double(*m)[3] = params.matrix;
  const size_t row_stride = static_cast<size_t>(width) * n;
  for (int y = 0; y < height; ++y) {
    float* out = output + static_cast<size_t>(y) * row_stride;
    for (int x = 0; x < width; ++x, out += n) {
      const double sx = m[0][0] * x + m[0][1] * y + m[0][2];
      const double sy = m[1][0] * x + m[1][1] * y + m[1][2];
      if (sx >= 0 && sy >= 0 && sx < width - 1 && sy < height - 1) {
        const int x0 = static_cast<int>(sx), y0 = static_cast<int>(sy);
        const float ax = static_cast<float>(sx - x0), ay = static_cast<float>(sy - y0);
        const float w00 = (1 - ay) * (1 - ax), w01 = (1 - ay) * ax, w10 = ay * (1 - ax), w11 = ay * ax;
        const T* p = input + static_cast<size_t>(y0) * row_stride + static_cast<size_t>(x0) * n;
        for (int c = 0; c < n; ++c)
          out[c] = w00 * static_cast<float>(p[c]) + w01 * static_cast<float>(p[n + c]) +
                   w10 * static_cast<float>(p[row_stride + c]) + w11 * static_cast<float>(p[row_stride + n + c]);
      } else {
        sample_bordered<C>(input, height, width, channels, sx, sy, options, out);
      }
    }
  }
}

void photometric(const AugmentParams& params, float* pixels, int height, int width, int channels) {
  const size_t count = static_cast<size_t>(height) * width;
  const float factor = static_cast<float>(params.brightness_factor);
  const float offset = static_cast<float>(params.brightness_offset);
  if (factor != 1 || offset != 0)
    for (size_t i = 0; i < count * channels; ++i) {
      const float scaled = std::clamp(pixels[i] * factor, 0.0f, 255.0f);
      pixels[i] = std::clamp(scaled + offset, 0.0f, 255.0f);
    }
  if (params.contrast_factor != 1) {
    const float contrast = static_cast<float>(params.contrast_factor);
    for (int c = 0; c < channels; ++c) {
      double sum = 0;
      for (size_t p = 0; p < count; ++p) sum += pixels[p * channels + c];
      const float mean = static_cast<float>(sum / static_cast<double>(count));
      for (size_t p = 0; p < count; ++p) {
        float& v = pixels[p * channels + c];
        v = std::clamp((v - mean) * contrast + mean, 0.0f, 255.0f);
      }
    }
  }
}

template <class T>
void augment(const AugmentParams& params, const AugmentOptions& options, const T* input, float* output, int height,
             int width, int channels) {
  PNEUMA_CHECK(height > 0 && width > 0 && channels > 0, "augment: image %dx%dx%d", height, width, channels);
  if (params.identity_geometry) {
    for (size_t i = 0; i < static_cast<size_t>(height) * width * channels; ++i) output[i] = static_cast<float>(input[i]);
  } else {
    if (channels == 1)
      warp<1>(params, options, input, output, height, width, channels);
    else if (channels == 3)
      warp<3>(params, options, input, output, height, width, channels);
    else
      warp<0>(params, options, input, output, height, width, channels);
  }
  photometric(params, output, height, width, channels);
}

}  // namespace

FillMode fill_mode_from_name(const std::string_view name) {
  if (name == "nearest") return FillMode::nearest;
  if (name == "constant") return FillMode::constant;
  if (name == "reflect") return FillMode::reflect;
  if (name == "wrap") return FillMode::wrap;
  PNEUMA_FAIL("fill mode '%.*s' is not one of nearest, constant, reflect, wrap", static_cast<int>(name.size()),
              name.data());
}

bool AugmentOptions::any_geometric() const {
  return rotation_degrees != 0 || zoom != 0 || shift_x != 0 || shift_y != 0 || horizontal_flip || vertical_flip ||
         random_resized_crop;
}

bool AugmentOptions::any_photometric() const {
  return brightness_low != 1 || brightness_high != 1 || brightness_delta != 0 || contrast != 0;
}

void AugmentOptions::validate() const {
  PNEUMA_CHECK(rotation_degrees >= 0 && rotation_degrees <= 180, "augment: rotation %g degrees outside [0, 180]",
               rotation_degrees);
  PNEUMA_CHECK(zoom >= 0 && zoom < 1, "augment: zoom %g outside [0, 1)", zoom);
  PNEUMA_CHECK(shift_x >= 0 && shift_x <= 1 && shift_y >= 0 && shift_y <= 1,
               "augment: shift %g, %g outside [0, 1] (fractions of the image size)", shift_x, shift_y);
  PNEUMA_CHECK(brightness_low > 0 && brightness_low <= brightness_high,
               "augment: brightness range [%g, %g] must satisfy 0 < low <= high", brightness_low, brightness_high);
  PNEUMA_CHECK(brightness_delta >= 0 && brightness_delta <= 1, "augment: brightness delta %g outside [0, 1]",
               brightness_delta);
  PNEUMA_CHECK(contrast >= 0 && contrast <= 1, "augment: contrast %g outside [0, 1]", contrast);
  PNEUMA_CHECK(crop_scale_low > 0 && crop_scale_low <= crop_scale_high && crop_scale_high <= 1,
               "augment: crop scale [%g, %g] must satisfy 0 < low <= high <= 1", crop_scale_low, crop_scale_high);
  PNEUMA_CHECK(crop_ratio_low > 0 && crop_ratio_low <= crop_ratio_high,
               "augment: crop ratio [%g, %g] must satisfy 0 < low <= high", crop_ratio_low, crop_ratio_high);
  PNEUMA_CHECK(fill_value >= 0 && fill_value <= 255, "augment: fill value %g outside [0, 255]", fill_value);
}

AugmentParams make_geometric_params(const GeometricValues& v, int height, int width) {
  const double cx = (width - 1) * 0.5, cy = (height - 1) * 0.5;
  // 1. Flips of the output.
  Affine flip = Affine::identity();
  if (v.flip_horizontal) flip.m[0][0] = -1, flip.m[0][2] = width - 1;
  if (v.flip_vertical) flip.m[1][1] = -1, flip.m[1][2] = height - 1;
  // 2. Inverse of "rotate counter-clockwise by θ, scale by zoom about the centre, then shift":
  //    q = C + R(-θ)/zoom · (p - shift - C). With y pointing down, a counter-clockwise turn maps (1, 0) to
  //    (cos θ, -sin θ), so R(-θ) = [[cos, -sin], [sin, cos]].
  const double theta = v.rotation_degrees * kPi / 180.0;
  const double c = std::cos(theta) / v.zoom, s = std::sin(theta) / v.zoom;
  Affine inverse;
  inverse.m[0][0] = c, inverse.m[0][1] = -s;
  inverse.m[1][0] = s, inverse.m[1][1] = c;
  const double px = -v.shift_x_pixels - cx, py = -v.shift_y_pixels - cy;
  inverse.m[0][2] = cx + c * px - s * py;
  inverse.m[1][2] = cy + s * px + c * py;
  // 3. The crop box is stretched over the whole output (pixel centres aligned).
  Affine crop = Affine::identity();
  if (v.crop_width > 0 && v.crop_height > 0) {
    crop.m[0][0] = v.crop_width / width, crop.m[0][2] = v.crop_x + 0.5 * v.crop_width / width - 0.5;
    crop.m[1][1] = v.crop_height / height, crop.m[1][2] = v.crop_y + 0.5 * v.crop_height / height - 0.5;
  }
  const Affine total = crop.after(inverse.after(flip));
  AugmentParams params;
  bool identity = true;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) {
      double value = total.m[i][j];
      // Snap round-off (cos 90° = 6e-17) so exact turns and flips copy pixels exactly.
      if (std::fabs(value - std::nearbyint(value)) < 1e-9) value = std::nearbyint(value);
      params.matrix[i][j] = value;
      identity = identity && value == (i == j ? 1.0 : 0.0);
    }
  params.identity_geometry = identity;
  return params;
}

AugmentParams draw_augment_params(const AugmentOptions& options, int height, int width, uint64_t seed, int64_t epoch,
                                  int64_t position) {
  const auto uniform = [&](uint32_t draw) {
    return random_uniform(seed, RandomStream::augmentation, static_cast<uint64_t>(epoch),
                          static_cast<uint64_t>(position), draw);
  };
  const auto between = [&](uint32_t draw, double low, double high) { return low + (high - low) * uniform(draw); };
  GeometricValues values;
  values.rotation_degrees = between(kRotation, -options.rotation_degrees, options.rotation_degrees);
  values.zoom = between(kZoom, 1 - options.zoom, 1 + options.zoom);
  values.shift_x_pixels = between(kShiftX, -options.shift_x, options.shift_x) * width;
  values.shift_y_pixels = between(kShiftY, -options.shift_y, options.shift_y) * height;
  values.flip_horizontal = options.horizontal_flip && uniform(kFlipH) < 0.5;
  values.flip_vertical = options.vertical_flip && uniform(kFlipV) < 0.5;
  if (options.random_resized_crop) {
    // torchvision RandomResizedCrop.get_params.
    const double area = static_cast<double>(height) * width;
    const double log_low = std::log(options.crop_ratio_low), log_high = std::log(options.crop_ratio_high);
    bool found = false;
    for (int t = 0; t < kCropTries && !found; ++t) {
      const uint32_t first = kCropFirst + 4 * t;
      const double target_area = area * between(first, options.crop_scale_low, options.crop_scale_high);
      const double ratio = std::exp(between(first + 1, log_low, log_high));
      const long w = std::lround(std::sqrt(target_area * ratio)), h = std::lround(std::sqrt(target_area / ratio));
      if (w <= 0 || h <= 0 || w > width || h > height) continue;
      values.crop_x = std::floor(uniform(first + 2) * static_cast<double>(width - w + 1));
      values.crop_y = std::floor(uniform(first + 3) * static_cast<double>(height - h + 1));
      values.crop_width = static_cast<double>(w);
      values.crop_height = static_cast<double>(h);
      found = true;
    }
    if (!found) {  // the central crop with the aspect ratio clamped into range
      const double in_ratio = static_cast<double>(width) / height;
      double w = width, h = height;
      if (in_ratio < options.crop_ratio_low) h = std::lround(w / options.crop_ratio_low);
      else if (in_ratio > options.crop_ratio_high) w = std::lround(h * options.crop_ratio_high);
      values.crop_width = w, values.crop_height = h;
      values.crop_x = std::floor((width - w) / 2), values.crop_y = std::floor((height - h) / 2);
    }
  }
  AugmentParams params = make_geometric_params(values, height, width);
  params.brightness_factor = between(kBrightnessFactor, options.brightness_low, options.brightness_high);
  params.brightness_offset = between(kBrightnessOffset, -options.brightness_delta, options.brightness_delta) * 255.0;
  params.contrast_factor = between(kContrast, 1 - options.contrast, 1 + options.contrast);
  return params;
}

void apply_augmentation(const AugmentParams& params, const AugmentOptions& options, const float* input,
                        float* output, int height, int width, int channels) {
  augment(params, options, input, output, height, width, channels);
}

void apply_augmentation(const AugmentParams& params, const AugmentOptions& options, const uint8_t* input,
                        float* output, int height, int width, int channels) {
  augment(params, options, input, output, height, width, channels);
}

}  // namespace pneuma::data
