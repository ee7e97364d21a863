#include "models/timm_efficientnet.h"

#include "models/blocks/timm_blocks.h"
#include "models/classifier_head.h"

namespace pneuma::models {
namespace {

class TimmEfficientNet : public ImageClassifier {
 public:
  TimmEfficientNet(const std::string& architecture, const EfficientNetTable& table,
                   const EfficientNetNumerics& numerics, const ModelConfig& config, Generator& generator)
      : ImageClassifier(architecture) {
    const auto silu = kernels::Activation::silu;
    InvertedResidualOptions o;
    o.activation = silu;
    o.tf_same_padding = numerics.same_padding;
    o.batch_norm_eps = numerics.batch_norm_eps;
    o.batch_norm_momentum = numerics.batch_norm_momentum;

    auto backbone = std::make_shared<Sequence>();
    const int64_t stem_channels = table.stages.front().in_channels;
    const Padding2d stem_padding = numerics.same_padding ? Padding2d::same() : Padding2d::symmetric(1);
    backbone->add("conv_stem", std::make_shared<nn::Conv2d>(config.in_channels, stem_channels, 3, 2, stem_padding, 1,
                                                            1, false, generator));
    backbone->add("bn1", std::make_shared<BatchNormAct2d>(stem_channels, o.batch_norm_eps, o.batch_norm_momentum, silu));

    auto blocks = backbone->add("blocks", std::make_shared<Sequence>());
    const int64_t total = total_blocks(table);
    int64_t block_index = 0;
    for (const EfficientNetStage& s : table.stages) {
      const TimmBlock::Kind kind = !s.fused                ? TimmBlock::Kind::inverted_residual
                                   : s.expand_ratio == 1 ? TimmBlock::Kind::conv_bn_act
                                                          : TimmBlock::Kind::edge_residual;
      auto stage = std::make_shared<Sequence>();
      for (int64_t i = 0; i < s.layers; ++i, ++block_index) {
        o.in_channels = i == 0 ? s.in_channels : s.out_channels;
        o.out_channels = s.out_channels;
        o.stride = i == 0 ? s.stride : 1;
        o.kernel_size = s.kernel;
        o.expand_ratio = s.expand_ratio;
        o.se_ratio = s.fused ? 0.0 : 0.25;
        o.drop_path_rate = numerics.drop_path_rate * static_cast<double>(block_index) / static_cast<double>(total);
        stage->push_back(std::make_shared<TimmBlock>(kind, o, generator));
      }
      blocks->push_back(stage);
    }
    backbone->add("conv_head", std::make_shared<nn::Conv2d>(table.stages.back().out_channels, table.head_channels, 1, 1,
                                                            Padding2d(), 1, 1, false, generator));
    backbone->add("bn2", std::make_shared<BatchNormAct2d>(table.head_channels, o.batch_norm_eps,
                                                          o.batch_norm_momentum, silu));
    set_flat_backbone(backbone, table.head_channels, "conv_stem");
    set_head("global_pool",
             classifier_head(config, table.head_channels, numerics.dropout, ClassifierNaming::timm,
                             efficientnet_classifier_init(config), generator),
             config.classes);
    set_keras_layer_rules(numerics.keras_layer_rules);
  }
};

}  // namespace

std::shared_ptr<ImageClassifier> build_timm_efficientnet(const std::string& architecture,
                                                         const EfficientNetTable& table,
                                                         const EfficientNetNumerics& numerics,
                                                         const ModelConfig& config, Generator& generator) {
  return std::make_shared<TimmEfficientNet>(architecture, table, numerics, config, generator);
}

}  // namespace pneuma::models
