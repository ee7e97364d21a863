// ImageClassifier: the base of every model create_model() builds. A classifier is a backbone (images → the last
// convolutional feature map), global average pooling and a head (pooled features → logits):
//
//   features(images [N, H, W, in_channels])         → feature map [N, h, w, feature_channels]  (NHWC, before pooling)
//   classify(feature map)                            → logits [N, classes]                      (pool → head)
//   forward(images) = classify(features(images))
//
// Grad-CAM runs the two halves separately; freezing uses backbone() and head() (models/freezing.h).
// backbone() is a module whose subtree holds exactly the backbone's parameters: for torchvision layouts it is the
// registered child "features"; for timm's flat names ("conv_stem", "bn1", "blocks", …, all direct children of the
// model) it is an unregistered Sequence over those same children. head() is the child "classifier".
#pragma once
#include <memory>
#include <string>

#include "engine/nn/module.h"
#include "models/sequence.h"

namespace pneuma::models {

// How Keras would split this model's backbone into `model.layers` where our modules differ (see models/freezing.h).
struct KerasLayerRules {
  bool pad_before_stem = false;               // a ZeroPadding2D before the stem conv (Keras EfficientNet V1)
  bool pad_before_strided_depthwise = false;  // one before every stride-2 depthwise conv (MobileNetV2, EfficientNet)
};

class ImageClassifier : public nn::Module {
 public:
  virtual Tensor features(const Tensor& images);
  virtual Tensor classify(const Tensor& feature_map);
  Tensor forward(const Tensor& images) override { return classify(features(images)); }
  std::string type_name() const override { return architecture_; }

  nn::Module& backbone() { return *backbone_; }
  nn::Module& head() { return *head_; }
  int64_t feature_channels() const { return feature_channels_; }
  int64_t classes() const { return classes_; }
  const std::string& architecture() const { return architecture_; }
  // Dotted name of the convolution that sees the images ("features.0.0", "conv_stem").
  const std::string& stem_conv_name() const { return stem_conv_name_; }
  // Channels of the images the model takes, read from the stem convolution's weight (so it follows
  // adapt_first_conv_to_grayscale).
  int64_t in_channels() const;
  const KerasLayerRules& keras_layer_rules() const { return keras_layer_rules_; }

 protected:
  explicit ImageClassifier(std::string architecture) : architecture_(std::move(architecture)) {}

  // Registers the backbone as one child (torchvision: "features").
  void set_backbone(const std::string& name, std::shared_ptr<Sequence> backbone, int64_t feature_channels,
                    std::string stem_conv_name);
  // Registers each child of `backbone` directly on the model under its own name (timm's flat layout).
  void set_flat_backbone(std::shared_ptr<Sequence> backbone, int64_t feature_channels, std::string stem_conv_name);
  // Registers the parameterless pooling module as `pool_name`, then `head` as "classifier".
  void set_head(const std::string& pool_name, std::shared_ptr<nn::Module> head, int64_t classes);
  void set_keras_layer_rules(const KerasLayerRules& rules) { keras_layer_rules_ = rules; }

 private:
  std::string architecture_, stem_conv_name_;
  std::shared_ptr<nn::Module> backbone_, pool_, head_;
  int64_t feature_channels_ = 0, classes_ = 0;
  KerasLayerRules keras_layer_rules_;
};

}  // namespace pneuma::models
