// The EfficientNet family's shared builder. A variant (models/efficientnet_v1.cpp, models/efficientnet_v2.cpp) is a
// resolved stage table — channel counts and repeats already scaled by its width/depth multipliers — plus numerics;
// build_efficientnet() turns it into a model with torchvision's structure and state_dict names:
//   features.0          stem: 3×3 stride-2 conv → BN → SiLU
//   features.1 … S      one Sequence per stage; block j of stage s is features.s.j (MBConv or FusedMBConv)
//   features.S+1        1×1 conv → BN → SiLU to head_channels (the feature map)
//   avgpool, classifier Dropout → Linear (U(±1/√classes) init), or the config's head spec
// Stochastic depth of block i (of n, counted over all stages) is drop_path_rate · i / n, as torchvision, timm and
// Keras do. build_timm_efficientnet() (models/timm_efficientnet.h) builds the same network under timm's names.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/rng.h"
#include "models/image_classifier.h"
#include "models/model_config.h"

namespace pneuma::models {

struct EfficientNetStage {
  bool fused = false;  // Fused-MBConv (no depthwise conv, no squeeze-excitation) or MBConv (SE ratio 0.25)
  double expand_ratio = 1;
  int64_t kernel = 3, stride = 1, in_channels = 0, out_channels = 0, layers = 1;
};

struct EfficientNetTable {
  std::vector<EfficientNetStage> stages;  // the stem's width is stages[0].in_channels
  int64_t head_channels = 1280;
};

struct EfficientNetNumerics {
  double batch_norm_eps = 1e-5, batch_norm_momentum = 0.1;  // momentum in PyTorch's convention
  double dropout = 0.2, drop_path_rate = 0.2;
  bool same_padding = false;
  KerasLayerRules keras_layer_rules;
};

std::shared_ptr<ImageClassifier> build_efficientnet(const std::string& architecture, const EfficientNetTable& table,
                                                    const EfficientNetNumerics& numerics, const ModelConfig& config,
                                                    Generator& generator);

// Total number of blocks over all stages (the n of the stochastic-depth schedule).
int64_t total_blocks(const EfficientNetTable& table);

}  // namespace pneuma::models
