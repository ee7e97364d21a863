#include "engine/data/image.h"

#include <stb_image.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>

#include "kernels/error.h"

namespace pneuma {
namespace {

Image from_stb(const void* data, int width, int height, int stored_channels, bool sixteen_bit) {
  const int keep = (stored_channels == 2 || stored_channels == 4) ? stored_channels - 1 : stored_channels;
  Image image;
  image.height = height;
  image.width = width;
  image.channels = keep;
  image.pixels.resize(static_cast<size_t>(height) * width * keep);
  const size_t pixels = static_cast<size_t>(height) * width;
  const float scale = sixteen_bit ? 255.0f / 65535.0f : 1.0f;
  for (size_t p = 0; p < pixels; ++p) {
    for (int c = 0; c < keep; ++c) {
      const size_t source = p * stored_channels + c;
      const float value = sixteen_bit ? static_cast<const uint16_t*>(data)[source] : static_cast<const uint8_t*>(data)[source];
      image.pixels[p * keep + c] = value * scale;
    }
  }
  return image;
}

}  // namespace

Image decode_image_from_memory(const unsigned char* bytes, size_t size, const std::string& label) {
  PNEUMA_CHECK(size > 0, "cannot decode %s: the file is empty", label.c_str());
  PNEUMA_CHECK(size < (1ull << 31), "cannot decode %s: file too large", label.c_str());
  const int length = static_cast<int>(size);
  int width = 0, height = 0, channels = 0;
  const bool sixteen_bit = stbi_is_16_bit_from_memory(bytes, length) != 0;
  void* data = sixteen_bit ? static_cast<void*>(stbi_load_16_from_memory(bytes, length, &width, &height, &channels, 0))
                           : static_cast<void*>(stbi_load_from_memory(bytes, length, &width, &height, &channels, 0));
  PNEUMA_CHECK(data != nullptr, "cannot decode %s: %s", label.c_str(), stbi_failure_reason());
  Image image;
  try {
    PNEUMA_CHECK(width > 0 && height > 0 && channels >= 1 && channels <= 4, "cannot decode %s: bad geometry",
                 label.c_str());
    image = from_stb(data, width, height, channels, sixteen_bit);
  } catch (...) {
    stbi_image_free(data);
    throw;
  }
  stbi_image_free(data);
  return image;
}

Image decode_image(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  PNEUMA_CHECK(file.good(), "cannot open image %s", path.c_str());
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  PNEUMA_CHECK(!file.bad(), "cannot read image %s", path.c_str());
  return decode_image_from_memory(bytes.data(), bytes.size(), path);
}

Image to_rgb(const Image& image) {
  if (image.channels == 3) return image;
  PNEUMA_CHECK(image.channels == 1, "to_rgb: unsupported channel count %d", image.channels);
  Image rgb;
  rgb.height = image.height;
  rgb.width = image.width;
  rgb.channels = 3;
  rgb.pixels.resize(image.pixels.size() * 3);
  for (size_t p = 0; p < image.pixels.size(); ++p)
    rgb.pixels[p * 3] = rgb.pixels[p * 3 + 1] = rgb.pixels[p * 3 + 2] = image.pixels[p];
  return rgb;
}

Image to_grayscale(const Image& image) {
  if (image.channels == 1) return image;
  PNEUMA_CHECK(image.channels == 3, "to_grayscale: unsupported channel count %d", image.channels);
  Image gray;
  gray.height = image.height;
  gray.width = image.width;
  gray.channels = 1;
  gray.pixels.resize(image.pixels.size() / 3);
  for (size_t p = 0; p < gray.pixels.size(); ++p)
    gray.pixels[p] = 0.299f * image.pixels[p * 3] + 0.587f * image.pixels[p * 3 + 1] + 0.114f * image.pixels[p * 3 + 2];
  return gray;
}

namespace {

// Filter taps for resampling one axis from `in` to `out` samples.
struct AxisTaps {
  std::vector<int> first;             // first source index per output sample
  std::vector<std::vector<float>> weights;  // normalised weights from `first`
};

AxisTaps triangle_taps(int in, int out) {
  AxisTaps taps;
  taps.first.resize(out);
  taps.weights.resize(out);
  const double scale = static_cast<double>(in) / out;
  const double support = std::max(1.0, scale);  // widen the triangle when shrinking
  for (int o = 0; o < out; ++o) {
    const double centre = (o + 0.5) * scale;
    const int begin = std::max(0, static_cast<int>(std::floor(centre - support)));
    const int end = std::min(in, static_cast<int>(std::ceil(centre + support)));
    std::vector<float> weights;
    double total = 0;
    for (int i = begin; i < end; ++i) {
      const double distance = std::fabs((i + 0.5 - centre) / support);
      const double w = std::max(0.0, 1.0 - distance);
      weights.push_back(static_cast<float>(w));
      total += w;
    }
    if (total <= 0) {  // degenerate: nearest sample
      const int nearest = std::clamp(static_cast<int>(centre), 0, in - 1);
      taps.first[o] = nearest;
      taps.weights[o] = {1.0f};
      continue;
    }
    for (float& w : weights) w = static_cast<float>(w / total);
    taps.first[o] = begin;
    taps.weights[o] = std::move(weights);
  }
  return taps;
}

}  // namespace

Image resize_bilinear_antialiased(const Image& image, int height, int width) {
  PNEUMA_CHECK(height > 0 && width > 0, "resize to %dx%d", height, width);
  if (height == image.height && width == image.width) return image;
  const int channels = image.channels;
  const AxisTaps horizontal = triangle_taps(image.width, width);
  const AxisTaps vertical = triangle_taps(image.height, height);
  // Horizontal pass: [in_h, width, C]
  std::vector<float> rows(static_cast<size_t>(image.height) * width * channels);
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) {
        float acc = 0;
        const auto& w = horizontal.weights[x];
        for (size_t k = 0; k < w.size(); ++k) acc += w[k] * image.at(y, horizontal.first[x] + static_cast<int>(k), c);
        rows[(static_cast<size_t>(y) * width + x) * channels + c] = acc;
      }
  Image result;
  result.height = height;
  result.width = width;
  result.channels = channels;
  result.pixels.assign(static_cast<size_t>(height) * width * channels, 0.0f);
  for (int y = 0; y < height; ++y) {
    const auto& w = vertical.weights[y];
    for (size_t k = 0; k < w.size(); ++k) {
      const float* source = &rows[static_cast<size_t>(vertical.first[y] + static_cast<int>(k)) * width * channels];
      float* target = &result.pixels[static_cast<size_t>(y) * width * channels];
      for (int i = 0; i < width * channels; ++i) target[i] += w[k] * source[i];
    }
  }
  return result;
}

Image center_crop(const Image& image, double fraction) {
  PNEUMA_CHECK(fraction > 0 && fraction <= 1, "center_crop fraction %g outside (0, 1]", fraction);
  const int height = std::max(1, static_cast<int>(std::lround(image.height * fraction)));
  const int width = std::max(1, static_cast<int>(std::lround(image.width * fraction)));
  const int top = (image.height - height) / 2, left = (image.width - width) / 2;
  Image crop;
  crop.height = height;
  crop.width = width;
  crop.channels = image.channels;
  crop.pixels.resize(static_cast<size_t>(height) * width * image.channels);
  for (int y = 0; y < height; ++y)
    std::copy_n(&image.pixels[(static_cast<size_t>(top + y) * image.width + left) * image.channels],
                static_cast<size_t>(width) * image.channels, &crop.pixels[static_cast<size_t>(y) * width * image.channels]);
  return crop;
}

}  // namespace pneuma
