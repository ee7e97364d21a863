// Turning a [0, 1] heat map into colours: a turbo-like colormap (our own piecewise-linear path through eleven anchor
// colours shaped like Google's Turbo: dark blue → cyan → green → yellow → red) and an overlay of the coloured map on
// a gray or RGB image.
#pragma once
#include <array>

#include "engine/data/image.h"
#include "engine/tensor.h"

namespace pneuma::explain {

// RGB in [0, 255] for t in [0, 1] (clamped).
std::array<float, 3> turbo_color(double t);

// An RGB image blending the colour of the map into the image: (1 − alpha)·image + alpha·turbo_color(t) per pixel.
// `image` is gray (1 channel, replicated) or RGB with pixels in [0, 255]; `heat_map` is f32 [H, W] of the image's
// size with values in [0, 1]; alpha in [0, 1].
Image overlay_heat_map(const Image& image, const Tensor& heat_map, double alpha = 0.45);

// The heat map alone as an RGB image through the colormap.
Image colorize_heat_map(const Tensor& heat_map);

}  // namespace pneuma::explain
