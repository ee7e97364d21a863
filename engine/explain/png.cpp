// PNG encoding with stb_image_write (the compiled libstb), into memory, then an atomic file write.
#include "engine/explain/png.h"

#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/report/atomic_file.h"
#include "kernels/error.h"

namespace pneuma::explain {
namespace {

void append_bytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

}  // namespace

std::string encode_png(const Image& image) {
  PNEUMA_CHECK(image.height > 0 && image.width > 0, "encode_png: empty image (%dx%d)", image.height, image.width);
  PNEUMA_CHECK(image.channels >= 1 && image.channels <= 4, "encode_png: %d channels (1 to 4 supported)",
               image.channels);
  const size_t count = static_cast<size_t>(image.height) * image.width * image.channels;
  PNEUMA_CHECK(image.pixels.size() == count, "encode_png: %zu pixel values for %dx%dx%d", image.pixels.size(),
               image.height, image.width, image.channels);
  std::vector<uint8_t> bytes(count);
  for (size_t i = 0; i < count; ++i) {
    const float v = image.pixels[i];
    bytes[i] = static_cast<uint8_t>(std::isnan(v) ? 0.0f : std::clamp(std::nearbyint(v), 0.0f, 255.0f));
  }
  std::string png;
  const int ok = stbi_write_png_to_func(append_bytes, &png, image.width, image.height, image.channels, bytes.data(),
                                        image.width * image.channels);
  PNEUMA_CHECK(ok != 0 && !png.empty(), "encode_png: stb_image_write failed for a %dx%dx%d image", image.height,
               image.width, image.channels);
  return png;
}

void write_png(const std::string& path, const Image& image) { write_file_atomically(path, encode_png(image), "png"); }

}  // namespace pneuma::explain
