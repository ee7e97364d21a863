// Decoded image → network input (see preprocess.h).
#include "engine/data/preprocess.h"

#include <algorithm>
#include <cmath>

#include "kernels/error.h"

namespace pneuma::data {

PreprocessOptions PreprocessOptions::imagenet(int size) {
  PreprocessOptions options;
  options.height = options.width = size;
  const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
  for (int c = 0; c < 3; ++c) {
    options.mean[c] = mean[c] * 255.0f;
    options.std[c] = std[c] * 255.0f;
  }
  return options;
}

PreprocessOptions PreprocessOptions::minus_one_to_one(int size) {
  PreprocessOptions options;
  options.height = options.width = size;
  for (int c = 0; c < 3; ++c) options.mean[c] = options.std[c] = 127.5f;
  return options;
}

void PreprocessOptions::validate() const {
  PNEUMA_CHECK(height > 0 && width > 0 && height <= 8192 && width <= 8192, "preprocess: image size %dx%d",
               height, width);
  PNEUMA_CHECK(channels == 1 || channels == 3, "preprocess: %d channels (1 or 3 are supported)", channels);
  for (int c = 0; c < channels; ++c)
    PNEUMA_CHECK(std::isfinite(mean[c]) && std::isfinite(std[c]) && std[c] != 0,
                 "preprocess: channel %d has mean %g, std %g", c, mean[c], std[c]);
  PNEUMA_CHECK(center_crop_fraction > 0 && center_crop_fraction <= 1, "preprocess: center crop fraction %g "
               "outside (0, 1]", center_crop_fraction);
}

namespace {

// True when every pixel of a 3-channel image has equal channels.
bool channels_equal(const Image& image) {
  if (image.channels != 3) return false;
  const size_t count = image.pixels.size() / 3;
  for (size_t p = 0; p < count; ++p)
    if (image.pixels[p * 3] != image.pixels[p * 3 + 1] || image.pixels[p * 3] != image.pixels[p * 3 + 2]) return false;
  return true;
}

Image first_channel(const Image& image) {
  Image gray;
  gray.height = image.height;
  gray.width = image.width;
  gray.channels = 1;
  gray.pixels.resize(image.pixels.size() / 3);
  for (size_t p = 0; p < gray.pixels.size(); ++p) gray.pixels[p] = image.pixels[p * 3];
  return gray;
}

}  // namespace

std::vector<uint8_t> prepare_pixels_compact(const Image& image, const PreprocessOptions& options, int& channels) {
  PNEUMA_CHECK(image.channels == 1 || image.channels == 3, "prepare_pixels: %d-channel image", image.channels);
  // Crop and resize at the smallest channel count that loses nothing; no copy where a step changes nothing.
  const Image* work = &image;
  Image storage;
  if (options.center_crop_fraction < 1) {
    storage = center_crop(*work, options.center_crop_fraction);
    work = &storage;
  }
  if (channels_equal(*work)) {
    storage = first_channel(*work);
    work = &storage;
  } else if (options.channels == 1 && work->channels == 3) {
    storage = to_grayscale(*work);
    work = &storage;
  }
  if (work->height != options.height || work->width != options.width) {
    storage = resize_bilinear_antialiased(*work, options.height, options.width);
    work = &storage;
  }
  channels = work->channels;
  std::vector<uint8_t> result(work->pixels.size());
  for (size_t i = 0; i < result.size(); ++i)
    result[i] = static_cast<uint8_t>(std::clamp(std::nearbyint(work->pixels[i]), 0.0f, 255.0f));
  return result;
}

std::vector<uint8_t> prepare_pixels(const Image& image, const PreprocessOptions& options) {
  int channels = 0;
  std::vector<uint8_t> compact = prepare_pixels_compact(image, options, channels);
  if (channels == options.channels) return compact;
  std::vector<uint8_t> result(compact.size() * options.channels);
  for (size_t p = 0; p < compact.size(); ++p)
    for (int c = 0; c < options.channels; ++c) result[p * options.channels + c] = compact[p];
  return result;
}

namespace {
// (x - mean) / std exactly as written (as torchvision's Normalize), so e.g. 255 maps to exactly 1 for mean = std
// = 127.5. A one-channel source is replicated into every output channel.
template <class T>
void normalize(const T* pixels, int source_channels, float* output, const PreprocessOptions& options) {
  const int channels = options.channels;
  PNEUMA_CHECK(source_channels == channels || source_channels == 1, "normalize_pixels: %d channels into %d",
               source_channels, channels);
  const size_t count = static_cast<size_t>(options.height) * options.width;
  if (channels == 3) {
    const float m0 = options.mean[0], m1 = options.mean[1], m2 = options.mean[2];
    const float s0 = options.std[0], s1 = options.std[1], s2 = options.std[2];
    const size_t step = static_cast<size_t>(source_channels), second = source_channels == 3 ? 1 : 0;
    for (size_t p = 0; p < count; ++p) {
      const T* in = pixels + p * step;
      output[p * 3] = (static_cast<float>(in[0]) - m0) / s0;
      output[p * 3 + 1] = (static_cast<float>(in[second]) - m1) / s1;
      output[p * 3 + 2] = (static_cast<float>(in[2 * second]) - m2) / s2;
    }
  } else {
    for (size_t p = 0; p < count; ++p) output[p] = (static_cast<float>(pixels[p]) - options.mean[0]) / options.std[0];
  }
}
}  // namespace

void normalize_pixels(const uint8_t* pixels, float* output, const PreprocessOptions& options) {
  normalize(pixels, options.channels, output, options);
}

void normalize_pixels(const float* pixels, float* output, const PreprocessOptions& options) {
  normalize(pixels, options.channels, output, options);
}

void normalize_pixels(const uint8_t* pixels, int source_channels, float* output, const PreprocessOptions& options) {
  normalize(pixels, source_channels, output, options);
}

void normalize_pixels(const float* pixels, int source_channels, float* output, const PreprocessOptions& options) {
  normalize(pixels, source_channels, output, options);
}

Tensor preprocess_file(const std::string& path, const PreprocessOptions& options) {
  options.validate();
  const std::vector<uint8_t> pixels = prepare_pixels(decode_image(path), options);
  Tensor result = Tensor::empty({1, options.height, options.width, options.channels});
  normalize_pixels(pixels.data(), result.data<float>(), options);
  return result;
}

Image model_view_rgb(const std::string& path, const PreprocessOptions& options) {
  options.validate();
  const std::vector<uint8_t> pixels = prepare_pixels(decode_image(path), options);
  Image image;
  image.height = options.height;
  image.width = options.width;
  image.channels = options.channels;
  image.pixels.assign(pixels.begin(), pixels.end());
  return to_rgb(image);
}

}  // namespace pneuma::data
