#include "models/efficientnet_v1.h"

#include <cmath>
#include <string>

#include "models/blocks/inverted_residual.h"
#include "models/efficientnet.h"

namespace pneuma::models {
namespace {

struct BaseStage {
  double expand_ratio;
  int64_t kernel, stride, in_channels, out_channels, layers;
};
constexpr BaseStage base_stages[] = {{1, 3, 1, 32, 16, 1},  {6, 3, 2, 16, 24, 2},   {6, 5, 2, 24, 40, 2},
                                     {6, 3, 2, 40, 80, 3},  {6, 5, 1, 80, 112, 3},  {6, 5, 2, 112, 192, 4},
                                     {6, 3, 1, 192, 320, 1}};

struct Variant {
  double width, depth, dropout;
};
constexpr Variant variants[] = {{1.0, 1.0, 0.2}, {1.0, 1.1, 0.2}, {1.1, 1.2, 0.3}, {1.2, 1.4, 0.3},
                                {1.4, 1.8, 0.4}, {1.6, 2.2, 0.4}, {1.8, 2.6, 0.5}, {2.0, 3.1, 0.5}};

EfficientNetTable scaled_table(const Variant& v) {
  EfficientNetTable table;
  for (const BaseStage& b : base_stages) {
    EfficientNetStage s;
    s.fused = false;
    s.expand_ratio = b.expand_ratio;
    s.kernel = b.kernel;
    s.stride = b.stride;
    s.in_channels = make_divisible(b.in_channels * v.width);
    s.out_channels = make_divisible(b.out_channels * v.width);
    s.layers = static_cast<int64_t>(std::ceil(b.layers * v.depth));
    table.stages.push_back(s);
  }
  table.head_channels = 4 * table.stages.back().out_channels;
  return table;
}

}  // namespace

std::shared_ptr<ImageClassifier> build_efficientnet_b(int variant, const ModelConfig& config, Generator& generator) {
  PNEUMA_CHECK(variant >= 0 && variant <= 7, "efficientnet_b%d: no such variant (b0 … b7)", variant);
  const std::string name = "efficientnet_b" + std::to_string(variant);
  check_common_fields(config);
  PNEUMA_CHECK(config.layout != "timm", "%s: layout \"timm\" is not available (torchvision or keras)", name.c_str());
  PNEUMA_CHECK(config.width_multiplier == 1, "%s: width_multiplier must be 1 (the variant fixes the width), got %g",
               name.c_str(), config.width_multiplier);
  const Variant& v = variants[variant];
  const bool keras = config.layout == "keras";
  EfficientNetNumerics numerics;
  const bool tf_numerics = keras || variant >= 5;
  numerics.batch_norm_eps = tf_numerics ? 1e-3 : 1e-5;
  numerics.batch_norm_momentum = tf_numerics ? 0.01 : 0.1;
  numerics.dropout = resolved_dropout(config, v.dropout);
  numerics.drop_path_rate = resolved_drop_path_rate(config, 0.2);
  numerics.same_padding = uses_same_padding(config);
  numerics.keras_layer_rules.pad_before_stem = true;
  numerics.keras_layer_rules.pad_before_strided_depthwise = true;
  return build_efficientnet(name, scaled_table(v), numerics, config, generator);
}

}  // namespace pneuma::models
