// MobileNetV2 (Sandler et al., 2018) as torchvision builds it, with torchvision's state_dict names:
//   features.0         stem: 3×3 stride-2 conv → BN → ReLU6 (children 0, 1, 2)
//   features.1 … 17    inverted residuals (t, c, n, s) = (1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2) (6,96,3,1)
//                      (6,160,3,2) (6,320,1,1); "conv" holds [expand CNA], depthwise CNA, project conv, project BN
//   features.18        1×1 conv → BN → ReLU6 to max(1, α)·1280 channels (the feature map)
//   classifier         Dropout → Linear (or the config's head spec)
// Width α (config.width_multiplier, the usual 0.35 … 1.4): every channel count c becomes make_divisible(c·α, 8).
// Any input resolution works (pooling is global). Padding "same" gives TensorFlow's SAME convolutions.
//
// Layouts:
//   torchvision  BatchNorm eps 1e-5, momentum 0.1; dropout 0.2; initialisation as torchvision (kaiming-normal
//                fan-out convs, classifier N(0, 0.01²)).
//   keras        Keras' MobileNetV2 numerics (keras.applications.mobilenet_v2), names unchanged:
//                · BatchNorm eps 1e-3 and momentum 0.001 (Keras writes momentum 0.999 for the running average);
//                · TensorFlow SAME padding everywhere (Keras pads stride-2 depthwise convs with ZeroPadding2D
//                  ((0,1),(0,1)) on even inputs, which is SAME; its stem conv uses padding="same");
//                · dropout 0: Keras' top is GlobalAveragePooling2D → Dense with no dropout;
//                · block output channels make_divisible(⌊c·α⌋, 8) (Keras truncates before rounding).
//   timm         not available (an error).
// No stochastic depth: drop_path_rate must stay unset.
#pragma once
#include <memory>

#include "engine/rng.h"
#include "models/image_classifier.h"
#include "models/model_config.h"

namespace pneuma::models {

std::shared_ptr<ImageClassifier> build_mobilenet_v2(const ModelConfig& config, Generator& generator);

}  // namespace pneuma::models
