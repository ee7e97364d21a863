// Decoded images as float pixels in [0, 255], row-major HWC. 16-bit images are scaled to the same range so that
// normalisation does not depend on the file's bit depth.
#pragma once
#include <string>
#include <vector>

namespace pneuma {

struct Image {
  int height = 0, width = 0, channels = 0;
  std::vector<float> pixels;  // height · width · channels
  float at(int y, int x, int c) const { return pixels[(static_cast<size_t>(y) * width + x) * channels + c]; }
};

// PNG, JPEG, BMP (and the other formats stb_image reads), 8- or 16-bit, gray, gray+alpha, RGB or RGBA.
// Alpha is dropped. Throws pneuma::Error naming the file and the decoder's reason for a missing, truncated or
// corrupt file.
Image decode_image(const std::string& path);
Image decode_image_from_memory(const unsigned char* bytes, size_t size, const std::string& label);

Image to_rgb(const Image& image);        // gray -> three equal channels; RGB unchanged
Image to_grayscale(const Image& image);  // RGB -> ITU-R 601 luma; gray unchanged

// Separable resampling with a triangle (bilinear) filter whose support widens by the scale factor when
// shrinking, so downscaling averages every source pixel (antialiasing, like PIL's BILINEAR) instead of
// sampling four. Upscaling is plain bilinear. Pixel centres are aligned (align_corners = false).
Image resize_bilinear_antialiased(const Image& image, int height, int width);

// The central `fraction` of the image (e.g. 0.875 for TF-slim evaluation), rounded to whole pixels.
Image center_crop(const Image& image, double fraction);

}  // namespace pneuma
