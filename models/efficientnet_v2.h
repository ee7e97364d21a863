// EfficientNetV2 (Tan & Le, 2021): Fused-MBConv early stages, MBConv + squeeze-excitation later, SiLU.
// Stage tables (fused?, expand, kernel, stride, in, out, repeats):
//   efficientnet_v2_s  F(1,3,1,24,24,2) F(4,3,2,24,48,4) F(4,3,2,48,64,4) M(4,3,2,64,128,6) M(6,3,1,128,160,9)
//                      M(6,3,2,160,256,15); head 1280                               (torchvision.models.efficientnet_v2_s)
//   efficientnet_v2_m  F(1,3,1,24,24,3) F(4,3,2,24,48,5) F(4,3,2,48,80,5) M(4,3,2,80,160,7) M(6,3,1,160,176,14)
//                      M(6,3,2,176,304,18) M(6,3,1,304,512,5); head 1280
//   efficientnet_v2_l  F(1,3,1,32,32,4) F(4,3,2,32,64,7) F(4,3,2,64,96,7) M(4,3,2,96,192,10) M(6,3,1,192,224,19)
//                      M(6,3,2,224,384,25) M(6,3,1,384,640,7); head 1280
//   efficientnet_v2_b0…b3 (timm's tf_efficientnetv2_b0…b3 = Keras' EfficientNetV2B0…B3): base
//                      F(1,3,1,32,16,1) F(4,3,2,16,32,2) F(4,3,2,32,48,2) M(4,3,2,48,96,3) M(6,3,1,96,112,5)
//                      M(6,3,2,112,192,8), head 1280, scaled by (width, depth) b0 (1.0,1.0) b1 (1.0,1.1)
//                      b2 (1.1,1.2) b3 (1.2,1.4): channels round(c·width) to a multiple of 8 (nearest, at least 8,
//                      without torchvision's 90% rule — timm's round_limit 0 and Keras' round_filters), stem and
//                      head included; repeats ⌈n·depth⌉.
// Names: torchvision's (models/efficientnet.h) for layouts "torchvision" and "keras"; timm's for layout "timm"
// (efficientnet_v2_b0…b3 only; models/timm_efficientnet.h).
//
// Numerics (every layout: BatchNorm eps 1e-3, momentum 0.1; stochastic depth 0.2):
//   torchvision  dropout s 0.2, m 0.3, l 0.4 (torchvision's); b0…b3 0.2 (Keras'); padding as configured.
//   keras        keras.applications.efficientnet_v2: TensorFlow SAME padding everywhere; dropout 0.2 for every
//                variant (Keras never overrides its default, so m and l differ from torchvision); BatchNorm
//                momentum 0.1 (Keras' bn_momentum 0.9); drop-connect 0.2 rising linearly with the block index.
//                Keras' built-in input rescaling belongs to the data pipeline here.
//   timm         tf_efficientnetv2_b*: SAME padding (timm's Conv2dSame), dropout 0.2 and drop path 0.2 unless
//                configured (timm's create_model defaults are 0).
#pragma once
#include <memory>
#include <string>

#include "engine/rng.h"
#include "models/image_classifier.h"
#include "models/model_config.h"

namespace pneuma::models {

// size: "s", "m", "l", "b0", "b1", "b2" or "b3".
std::shared_ptr<ImageClassifier> build_efficientnet_v2(const std::string& size, const ModelConfig& config,
                                                       Generator& generator);

}  // namespace pneuma::models
