// How images become a model's input, as a checkpoint records it (metadata key "normalization"), and the function
// that applies it — shared by predict, eval and Grad-CAM so every consumer feeds the model what it was trained on.
//
// Normalization JSON (pixel units 0–255; e.g. TF-slim's x/127.5 − 1 is mean 127.5, std 127.5):
//   {"name": "minus_one_one", "channels": 3, "mean": [127.5, 127.5, 127.5], "std": [127.5, 127.5, 127.5],
//    "height": 224, "width": 224, "center_crop_fraction": 0.875, "resize": "bilinear_antialiased"}
// The policy, in order (engine/data/preprocess.h): decode; keep the central `center_crop_fraction` of the image
// (TF-slim evaluation uses 0.875); make `channels` channels (gray → three equal channels, RGB → ITU-R 601 luma);
// resize to height × width with an antialiased bilinear filter, not keeping the aspect ratio; round to 8-bit
// pixels; (x − mean) / std per channel.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "engine/data/preprocess.h"
#include "engine/tensor.h"

namespace pneuma::weights_import {

struct Normalization {
  std::string name = "custom";  // a preset's name, or "custom"
  int channels = 3;
  std::vector<double> mean, std;  // `channels` values each, pixel units
  int height = 224, width = 224;
  double center_crop_fraction = 1.0;

  // "imagenet" (torchvision: mean 0.485/0.456/0.406·255, std 0.229/0.224/0.225·255; one channel: their averages),
  // "minus_one_one" (127.5, 127.5) or "zero_one" (0, 255).
  static Normalization preset(const std::string& name, int channels = 3, int size = 224,
                              double center_crop_fraction = 1.0);
  void validate() const;  // one line naming the bad field
  data::PreprocessOptions preprocess_options() const;
};

void to_json(nlohmann::json& json, const Normalization& normalization);
void from_json(const nlohmann::json& json, Normalization& normalization);

// One image file → f32 [1, height, width, channels]; several → [N, ...] in the given order.
Tensor preprocess_image(const std::string& path, const Normalization& normalization);
Tensor preprocess_images(const std::vector<std::string>& paths, const Normalization& normalization);

}  // namespace pneuma::weights_import
