// Freezing for transfer learning, the Keras way.
//
// freeze_backbone(model): backbone().freeze() — every backbone parameter stops requiring a gradient and every
//   backbone BatchNorm2d runs on its running statistics without updating them, even in train mode (what Keras does
//   for layers with trainable = False). The head stays trainable.
//
// unfreeze_top_layers(model, k): freeze_backbone(model), then unfreezes the last k "Keras layers" of the backbone
//   (requires_grad again; an unfrozen BatchNorm2d normalises with batch statistics in train mode, like a trainable
//   Keras BatchNormalization called with training=True). k ≥ the number of layers unfreezes the whole backbone.
//
// Keras layers: keras_layers(model) lists the backbone as Keras' `model.layers` would for the same network, in
// forward order: every Conv2D, DepthwiseConv2D, BatchNormalization, ReLU / Activation, ZeroPadding2D, Add,
// Dropout, … is one layer, weightless ones included. The rule over our modules:
//   · InputLayer first (weightless);
//   · nn::Conv2d → Conv2D (DepthwiseConv2D when groups == in_channels > 1), preceded by a ZeroPadding2D when the
//     architecture's KerasLayerRules say Keras pads there (before the stem: EfficientNet V1; before every stride-2
//     depthwise conv: MobileNetV2 and EfficientNet V1 — Keras' EfficientNetV2 uses padding="same" instead);
//   · nn::BatchNorm2d → BatchNormalization; timm's BatchNormAct2d → BatchNormalization + Activation;
//   · nn::Activation → ReLU (relu, relu6) or Activation (others);
//   · squeeze-excitation → 5 layers: GlobalAveragePooling2D, Reshape, Conv2D (reduce), Conv2D (expand), Multiply;
//   · stochastic depth → Dropout, only in a block that adds its residual and only when its rate is > 0 (Keras
//     builds the layer only then); a block that adds its residual → Add after its other layers;
//   · containers contribute their children in order.
// With this rule our MobileNetV2 backbone has exactly Keras MobileNetV2's 154 layers (include_top=False) in the
// same order, and EfficientNet V1/V2 have Keras' layers after its input preprocessing layers (Rescaling,
// Normalization), which our models leave to the data pipeline.
//
// MobileNetV2, "the top 14 layers" (study 2), unfreezes exactly (Keras layer name → our module):
//   out_relu → features.18.2, Conv_1_bn → features.18.1, Conv_1 → features.18.0,
//   block_16_project_BN → features.17.conv.3, block_16_project → features.17.conv.2,
//   block_16_depthwise_relu → features.17.conv.1.2, block_16_depthwise_BN → features.17.conv.1.1,
//   block_16_depthwise → features.17.conv.1.0, block_16_expand_relu → features.17.conv.0.2,
//   block_16_expand_BN → features.17.conv.0.1, block_16_expand → features.17.conv.0.0,
//   block_15_add → features.16 (weightless), block_15_project_BN → features.16.conv.3,
//   block_15_project → features.16.conv.2
// i.e. the parameters of features.18, features.17 and features.16.conv.{2,3} (the head is trainable anyway).
#pragma once
#include <string>
#include <vector>

#include "models/image_classifier.h"

namespace pneuma::models {

struct KerasLayer {
  std::string name;               // our dotted module name (for virtual layers: the module they belong to)
  std::string kind;               // Keras' class name: "Conv2D", "BatchNormalization", "Add", …
  nn::Module* module = nullptr;   // the module unfreezing this layer unfreezes; null for virtual weightless layers
};

std::vector<KerasLayer> keras_layers(ImageClassifier& model);

void freeze_backbone(ImageClassifier& model);

// Returns the layers it unfroze (the last min(k, all) of keras_layers(model)), in forward order.
std::vector<KerasLayer> unfreeze_top_layers(ImageClassifier& model, int64_t count);

}  // namespace pneuma::models
