// EfficientNet B0 … B7 (Tan & Le, 2019) as torchvision builds them (torchvision.models.efficientnet_b0 …), names as
// in models/efficientnet.h. Base table (expand, kernel, stride, in, out, repeats), MBConv + squeeze-excitation
// (ratio 0.25 of the block input) + SiLU everywhere:
//   (1,3,1,32,16,1) (6,3,2,16,24,2) (6,5,2,24,40,2) (6,3,2,40,80,3) (6,5,1,80,112,3) (6,5,2,112,192,4) (6,3,1,192,320,1)
// Variant (width, depth, dropout): b0 (1.0,1.0,0.2) b1 (1.0,1.1,0.2) b2 (1.1,1.2,0.3) b3 (1.2,1.4,0.3)
//   b4 (1.4,1.8,0.4) b5 (1.6,2.2,0.4) b6 (1.8,2.6,0.5) b7 (2.0,3.1,0.5); channels make_divisible(c·width, 8),
//   repeats ⌈n·depth⌉, head 4 × the last stage's channels; stochastic depth 0.2.
//
// Layouts:
//   torchvision  BatchNorm eps 1e-5, momentum 0.1 for b0–b4; eps 1e-3, momentum 0.01 for b5–b7 (as torchvision).
//   keras        keras.applications.efficientnet numerics, names unchanged: BatchNorm eps 1e-3 and momentum 0.01
//                for every variant (Keras' default momentum 0.99); TensorFlow SAME padding (Keras pads the stem and
//                every stride-2 depthwise conv with ZeroPadding2D(correct_pad), which equals SAME); the same dropout
//                and drop-connect rates (0.2, rising linearly with the block index) as torchvision. Keras builds its
//                input normalisation (Rescaling, Normalization) into the model; here it belongs to the data pipeline.
//   timm         not available (an error).
#pragma once
#include <memory>

#include "engine/rng.h"
#include "models/image_classifier.h"
#include "models/model_config.h"

namespace pneuma::models {

// variant 0 … 7.
std::shared_ptr<ImageClassifier> build_efficientnet_b(int variant, const ModelConfig& config, Generator& generator);

}  // namespace pneuma::models
