// A turbo-like colormap (piecewise-linear through hand-picked anchors) and heat-map overlays.
#include "engine/explain/heat_map.h"

#include <algorithm>
#include <cmath>

#include "kernels/error.h"

namespace pneuma::explain {
namespace {

// Anchors every 0.1, chosen by eye along Turbo's path: dark blue, blue, cyan, green, yellow, orange, dark red.
constexpr float kAnchors[11][3] = {{48, 18, 59},   {67, 80, 200},   {62, 140, 250}, {30, 190, 230},
                                   {30, 225, 175}, {100, 250, 100}, {170, 245, 55}, {230, 210, 55},
                                   {250, 150, 40}, {215, 70, 15},   {122, 4, 3}};

std::vector<float> checked_map(const Tensor& heat_map, int height, int width, const char* caller) {
  PNEUMA_CHECK(heat_map.defined() && heat_map.rank() == 2, "%s: heat map must be [H, W], got %s", caller,
               heat_map.defined() ? shape_string(heat_map.shape()).c_str() : "undefined");
  PNEUMA_CHECK(height < 0 || (heat_map.dim(0) == height && heat_map.dim(1) == width),
               "%s: heat map %s does not match the image's %dx%d", caller, shape_string(heat_map.shape()).c_str(),
               height, width);
  return heat_map.to(Device::cpu()).to(DType::f32).to_vector<float>();
}

}  // namespace

std::array<float, 3> turbo_color(double t) {
  t = std::isnan(t) ? 0.0 : std::clamp(t, 0.0, 1.0);
  const double position = t * 10.0;
  const int low = std::min(static_cast<int>(position), 9);
  const auto fraction = static_cast<float>(position - low);
  std::array<float, 3> rgb;
  for (int c = 0; c < 3; ++c) rgb[c] = kAnchors[low][c] + fraction * (kAnchors[low + 1][c] - kAnchors[low][c]);
  return rgb;
}

Image overlay_heat_map(const Image& image, const Tensor& heat_map, double alpha) {
  PNEUMA_CHECK(image.channels == 1 || image.channels == 3,
               "overlay_heat_map: image must be gray or RGB, has %d channels", image.channels);
  PNEUMA_CHECK(alpha >= 0.0 && alpha <= 1.0, "overlay_heat_map: alpha must be in [0, 1], got %g", alpha);
  PNEUMA_CHECK(image.pixels.size() == static_cast<size_t>(image.height) * image.width * image.channels,
               "overlay_heat_map: image has %zu pixels values for %dx%dx%d", image.pixels.size(), image.height,
               image.width, image.channels);
  const std::vector<float> map = checked_map(heat_map, image.height, image.width, "overlay_heat_map");
  Image out{image.height, image.width, 3, std::vector<float>(static_cast<size_t>(image.height) * image.width * 3)};
  const auto a = static_cast<float>(alpha);
  for (size_t p = 0; p < map.size(); ++p) {
    const std::array<float, 3> color = turbo_color(map[p]);
    for (int c = 0; c < 3; ++c) {
      const float base = image.pixels[p * image.channels + (image.channels == 1 ? 0 : c)];
      out.pixels[p * 3 + c] = (1.0f - a) * base + a * color[c];
    }
  }
  return out;
}

Image colorize_heat_map(const Tensor& heat_map) {
  const std::vector<float> map = checked_map(heat_map, -1, -1, "colorize_heat_map");
  Image out{static_cast<int>(heat_map.dim(0)), static_cast<int>(heat_map.dim(1)), 3,
            std::vector<float>(map.size() * 3)};
  for (size_t p = 0; p < map.size(); ++p) {
    const std::array<float, 3> color = turbo_color(map[p]);
    std::copy(color.begin(), color.end(), out.pixels.begin() + static_cast<std::ptrdiff_t>(p * 3));
  }
  return out;
}

}  // namespace pneuma::explain
