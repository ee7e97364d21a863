// Turning a decoded image into the network's input: channels (grayscale → 3 equal channels or RGB → luma),
// centre crop, antialiased resize to the target size (the aspect ratio is not kept, as in Keras and TF-slim),
// quantisation to uint8 (so cached and freshly decoded images are bit-identical), then per-channel
// normalisation (x - mean) / std with mean and std in 0..255 pixel units.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/data/image.h"
#include "engine/tensor.h"

namespace pneuma::data {

struct PreprocessOptions {
  int height = 224, width = 224, channels = 3;  // channels 1 or 3
  float mean[3] = {0, 0, 0};                    // pixel units: raw [0, 255] by default
  float std[3] = {1, 1, 1};
  double center_crop_fraction = 1.0;            // e.g. 0.875 for TF-slim evaluation

  static PreprocessOptions imagenet(int size = 224);     // torchvision: mean 0.485·255…, std 0.229·255…
  static PreprocessOptions minus_one_to_one(int size = 224);  // x / 127.5 - 1 (TF-slim / Keras MobileNetV2)
  void validate() const;
};

// Decoded image → uint8 HWC at (height, width, channels): the geometry stage, before augmentation.
std::vector<uint8_t> prepare_pixels(const Image& image, const PreprocessOptions& options);
// The same, except that an image whose channels are all equal (grayscale, or grayscale stored as RGB) keeps one
// channel: `channels` receives 1 or options.channels. Augmenting and normalising this compact form and then
// replicating gives exactly the same numbers as working on the replicated image, at a third of the work.
std::vector<uint8_t> prepare_pixels_compact(const Image& image, const PreprocessOptions& options, int& channels);

// HWC pixels at (height, width, channels) → normalised float (height · width · channels values).
void normalize_pixels(const uint8_t* pixels, float* output, const PreprocessOptions& options);
// Float pixels in [0, 255]; `output` may be `pixels` (in place).
void normalize_pixels(const float* pixels, float* output, const PreprocessOptions& options);
// Pixels with `source_channels` channels (options.channels, or 1 to replicate a gray value into every channel).
void normalize_pixels(const uint8_t* pixels, int source_channels, float* output, const PreprocessOptions& options);
void normalize_pixels(const float* pixels, int source_channels, float* output, const PreprocessOptions& options);

// One file → f32 [1, H, W, C] (evaluation / prediction of single images).
Tensor preprocess_file(const std::string& path, const PreprocessOptions& options);

// The image as the model sees it (channels, centre crop, resize), before normalisation, in RGB: what an
// explanation such as a Grad-CAM heat map is drawn over.
Image model_view_rgb(const std::string& path, const PreprocessOptions& options);

}  // namespace pneuma::data
