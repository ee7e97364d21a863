// An EfficientNet stage table (models/efficientnet.h) built under timm's names (timm.models.efficientnet), the
// "timm" layout of efficientnet_v2_b0…b3 (timm's tf_efficientnetv2_b0…b3):
//   conv_stem, bn1            3×3 stride-2 conv, BatchNormAct (SiLU)
//   blocks.s.j                block j of stage s: a Fused-MBConv stage with expand ratio 1 is ConvBnAct, other
//                             Fused-MBConv stages EdgeResidual, MBConv stages InvertedResidual (models/blocks/timm_blocks.h)
//   conv_head, bn2            1×1 conv to head_channels, BatchNormAct (SiLU)
//   global_pool, classifier   Linear (dropout on its input), or the config's head spec
// All of these are direct children of the model; backbone() is a Sequence over conv_stem … bn2.
#pragma once
#include <memory>
#include <string>

#include "models/efficientnet.h"

namespace pneuma::models {

std::shared_ptr<ImageClassifier> build_timm_efficientnet(const std::string& architecture,
                                                         const EfficientNetTable& table,
                                                         const EfficientNetNumerics& numerics,
                                                         const ModelConfig& config, Generator& generator);

}  // namespace pneuma::models
