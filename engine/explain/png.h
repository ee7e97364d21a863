// PNG output through stb_image_write: pixels (float, [0, 255], gray / gray+alpha / RGB / RGBA) are rounded and
// clamped to 8 bits.
#pragma once
#include <string>

#include "engine/data/image.h"

namespace pneuma::explain {

std::string encode_png(const Image& image);                   // the file's bytes
void write_png(const std::string& path, const Image& image);  // atomic (temporary file + rename)

}  // namespace pneuma::explain
