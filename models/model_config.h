// ModelConfig: everything create_model (models/registry.h) needs to build a classifier, and its JSON form (stored
// in checkpoints' metadata). JSON keys are the field names; every key but "architecture" is optional; unknown keys
// are rejected naming the key and listing the known ones.
//
//   architecture      a name from model_names(): mobilenet_v2, efficientnet_b0…b7, efficientnet_v2_s/m/l,
//                     efficientnet_v2_b0…b3
//   classes           outputs of the last layer (1 for a binary sigmoid model)
//   in_channels       channels of the input images (3 = RGB, 1 = grayscale)
//   width_multiplier  MobileNetV2's α (channels scaled by α and rounded to multiples of 8, torchvision's rule);
//                     must stay 1 for the EfficientNets, whose widths are fixed per variant
//   padding           "symmetric" (PyTorch) or "same" (TensorFlow "SAME": a stride-2 conv on an even input pads
//                     0 before and 1 after). Layouts "keras" and "timm" always use "same": their weights need it.
//   layout            whose parameter names and numerics: "torchvision" (torchvision's state_dict names and
//                     defaults), "timm" (timm's names, efficientnet_v2_b0…b3 only) or "keras" (our torchvision-style
//                     names with Keras' numerics: see each builder for the differences)
//   dropout           dropout before the architecture's own classifier; < 0 = the architecture's default
//   drop_path_rate    stochastic depth of the last block (linearly less before it); < 0 = the default
//   head              a head spec (models/head_spec.h) replacing the architecture's classifier; "" = its own
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace pneuma::models {

struct ModelConfig {
  std::string architecture;
  int64_t classes = 1000;
  int64_t in_channels = 3;
  double width_multiplier = 1.0;
  std::string padding = "symmetric";  // or "same" (TF)
  std::string layout = "torchvision";  // "torchvision" | "timm" | "keras"
  double dropout = -1;                 // < 0: architecture default
  double drop_path_rate = -1;          // < 0: architecture default
  std::string head;                    // "" = the architecture's own classifier
};

void to_json(nlohmann::json& json, const ModelConfig& config);
void from_json(const nlohmann::json& json, ModelConfig& config);

// Checks the fields every architecture shares (classes, in_channels, padding, layout, rates); one line per problem.
void check_common_fields(const ModelConfig& config);
// True when convolutions use TensorFlow "SAME" padding: padding "same", or layout "keras" / "timm".
bool uses_same_padding(const ModelConfig& config);
// config.dropout / config.drop_path_rate when set (≥ 0), else `fallback`.
double resolved_dropout(const ModelConfig& config, double fallback);
double resolved_drop_path_rate(const ModelConfig& config, double fallback);

}  // namespace pneuma::models
