#include "models/mobilenet_v2.h"

#include <algorithm>
#include <cmath>

#include "models/blocks/inverted_residual.h"
#include "models/classifier_head.h"

namespace pneuma::models {
namespace {

struct StageSetting {
  int64_t expand_ratio, channels, repeats, stride;
};

// The table of the paper (and torchvision's inverted_residual_setting): t, c, n, s.
constexpr StageSetting stage_settings[] = {{1, 16, 1, 1},  {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                           {6, 96, 3, 1},  {6, 160, 3, 2}, {6, 320, 1, 1}};
constexpr int64_t stem_channels = 32, last_channels = 1280;

class MobileNetV2 : public ImageClassifier {
 public:
  MobileNetV2(const ModelConfig& config, Generator& generator) : ImageClassifier("mobilenet_v2") {
    check_common_fields(config);
    PNEUMA_CHECK(config.layout != "timm", "mobilenet_v2: layout \"timm\" is not available (torchvision or keras)");
    PNEUMA_CHECK(config.drop_path_rate <= 0,
                 "mobilenet_v2: has no stochastic depth (drop_path_rate %g)", config.drop_path_rate);
    const bool keras = config.layout == "keras";
    const double width = config.width_multiplier;
    InvertedResidualOptions block;
    block.activation = kernels::Activation::relu6;
    block.tf_same_padding = uses_same_padding(config);
    block.batch_norm_eps = keras ? 1e-3 : 1e-5;
    block.batch_norm_momentum = keras ? 1e-3 : 0.1;

    ConvNormActivationOptions stem;
    stem.kernel_size = 3;
    stem.stride = 2;
    stem.activation = kernels::Activation::relu6;
    stem.batch_norm_eps = block.batch_norm_eps;
    stem.batch_norm_momentum = block.batch_norm_momentum;
    if (block.tf_same_padding) stem.padding = Padding2d::same();

    auto features = std::make_shared<Sequence>();
    int64_t channels = make_divisible(stem_channels * width);
    features->push_back(conv_norm_activation(config.in_channels, channels, stem, generator));
    for (const StageSetting& s : stage_settings) {
      const double scaled = s.channels * width;
      const int64_t out = make_divisible(keras ? std::floor(scaled) : scaled);
      for (int64_t i = 0; i < s.repeats; ++i) {
        block.in_channels = channels;
        block.out_channels = out;
        block.stride = i == 0 ? s.stride : 1;
        block.expand_ratio = static_cast<double>(s.expand_ratio);
        features->push_back(std::make_shared<InvertedResidual>(block, generator));
        channels = out;
      }
    }
    const int64_t feature_channels = make_divisible(last_channels * std::max(1.0, width));
    ConvNormActivationOptions last = stem;
    last.kernel_size = 1;
    last.stride = 1;
    last.padding.reset();
    features->push_back(conv_norm_activation(channels, feature_channels, last, generator));
    set_backbone("features", features, feature_channels, "features.0.0");

    const double dropout = resolved_dropout(config, keras ? 0.0 : 0.2);
    set_head("pool",
             classifier_head(config, feature_channels, dropout, ClassifierNaming::torchvision, DenseInit::normal_0_01,
                             generator),
             config.classes);
    KerasLayerRules rules;
    rules.pad_before_strided_depthwise = true;
    set_keras_layer_rules(rules);
  }
};

}  // namespace

std::shared_ptr<ImageClassifier> build_mobilenet_v2(const ModelConfig& config, Generator& generator) {
  return std::make_shared<MobileNetV2>(config, generator);
}

}  // namespace pneuma::models
