#include "models/efficientnet.h"

#include "models/blocks/fused_mbconv.h"
#include "models/blocks/inverted_residual.h"
#include "models/classifier_head.h"

namespace pneuma::models {
namespace {

class EfficientNet : public ImageClassifier {
 public:
  EfficientNet(const std::string& architecture, const EfficientNetTable& table, const EfficientNetNumerics& numerics,
               const ModelConfig& config, Generator& generator)
      : ImageClassifier(architecture) {
    const auto silu = kernels::Activation::silu;
    ConvNormActivationOptions stem;
    stem.kernel_size = 3;
    stem.stride = 2;
    stem.activation = silu;
    stem.batch_norm_eps = numerics.batch_norm_eps;
    stem.batch_norm_momentum = numerics.batch_norm_momentum;
    if (numerics.same_padding) stem.padding = Padding2d::same();

    auto features = std::make_shared<Sequence>();
    features->push_back(conv_norm_activation(config.in_channels, table.stages.front().in_channels, stem, generator));
    const int64_t blocks = total_blocks(table);
    int64_t block_index = 0;
    for (const EfficientNetStage& s : table.stages) {
      auto stage = std::make_shared<Sequence>();
      for (int64_t i = 0; i < s.layers; ++i, ++block_index) {
        InvertedResidualOptions o;
        o.in_channels = i == 0 ? s.in_channels : s.out_channels;
        o.out_channels = s.out_channels;
        o.stride = i == 0 ? s.stride : 1;
        o.kernel_size = s.kernel;
        o.expand_ratio = s.expand_ratio;
        o.activation = silu;
        o.se_ratio = s.fused ? 0.0 : 0.25;
        o.drop_path_rate = numerics.drop_path_rate * static_cast<double>(block_index) / static_cast<double>(blocks);
        o.tf_same_padding = numerics.same_padding;
        o.batch_norm_eps = numerics.batch_norm_eps;
        o.batch_norm_momentum = numerics.batch_norm_momentum;
        if (s.fused)
          stage->push_back(std::make_shared<FusedMBConv>(o, generator));
        else
          stage->push_back(std::make_shared<MBConv>(o, generator));
      }
      features->push_back(stage);
    }
    ConvNormActivationOptions last = stem;
    last.kernel_size = 1;
    last.stride = 1;
    last.padding.reset();
    features->push_back(conv_norm_activation(table.stages.back().out_channels, table.head_channels, last, generator));
    set_backbone("features", features, table.head_channels, "features.0.0");
    set_head("avgpool",
             classifier_head(config, table.head_channels, numerics.dropout, ClassifierNaming::torchvision,
                             efficientnet_classifier_init(config), generator),
             config.classes);
    set_keras_layer_rules(numerics.keras_layer_rules);
  }
};

}  // namespace

int64_t total_blocks(const EfficientNetTable& table) {
  int64_t blocks = 0;
  for (const EfficientNetStage& s : table.stages) blocks += s.layers;
  return blocks;
}

std::shared_ptr<ImageClassifier> build_efficientnet(const std::string& architecture, const EfficientNetTable& table,
                                                    const EfficientNetNumerics& numerics, const ModelConfig& config,
                                                    Generator& generator) {
  return std::make_shared<EfficientNet>(architecture, table, numerics, config, generator);
}

}  // namespace pneuma::models
