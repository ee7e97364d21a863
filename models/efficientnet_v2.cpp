#include "models/efficientnet_v2.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "models/efficientnet.h"
#include "models/timm_efficientnet.h"

namespace pneuma::models {
namespace {

EfficientNetStage fused(double expand, int64_t kernel, int64_t stride, int64_t in, int64_t out, int64_t layers) {
  return {true, expand, kernel, stride, in, out, layers};
}
EfficientNetStage mbconv(double expand, int64_t kernel, int64_t stride, int64_t in, int64_t out, int64_t layers) {
  return {false, expand, kernel, stride, in, out, layers};
}

EfficientNetTable table_s() {
  return {{fused(1, 3, 1, 24, 24, 2), fused(4, 3, 2, 24, 48, 4), fused(4, 3, 2, 48, 64, 4),
           mbconv(4, 3, 2, 64, 128, 6), mbconv(6, 3, 1, 128, 160, 9), mbconv(6, 3, 2, 160, 256, 15)},
          1280};
}
EfficientNetTable table_m() {
  return {{fused(1, 3, 1, 24, 24, 3), fused(4, 3, 2, 24, 48, 5), fused(4, 3, 2, 48, 80, 5),
           mbconv(4, 3, 2, 80, 160, 7), mbconv(6, 3, 1, 160, 176, 14), mbconv(6, 3, 2, 176, 304, 18),
           mbconv(6, 3, 1, 304, 512, 5)},
          1280};
}
EfficientNetTable table_l() {
  return {{fused(1, 3, 1, 32, 32, 4), fused(4, 3, 2, 32, 64, 7), fused(4, 3, 2, 64, 96, 7),
           mbconv(4, 3, 2, 96, 192, 10), mbconv(6, 3, 1, 192, 224, 19), mbconv(6, 3, 2, 224, 384, 25),
           mbconv(6, 3, 1, 384, 640, 7)},
          1280};
}

// timm's round_channels(round_limit=0) / Keras' round_filters: nearest multiple of 8, at least 8.
int64_t round_channels(double channels) {
  return std::max<int64_t>(8, static_cast<int64_t>(channels + 4) / 8 * 8);
}

EfficientNetTable table_b(double width, double depth) {
  const EfficientNetTable base = {{fused(1, 3, 1, 32, 16, 1), fused(4, 3, 2, 16, 32, 2), fused(4, 3, 2, 32, 48, 2),
                                   mbconv(4, 3, 2, 48, 96, 3), mbconv(6, 3, 1, 96, 112, 5),
                                   mbconv(6, 3, 2, 112, 192, 8)},
                                  1280};
  EfficientNetTable table = base;
  for (EfficientNetStage& s : table.stages) {
    s.in_channels = round_channels(s.in_channels * width);
    s.out_channels = round_channels(s.out_channels * width);
    s.layers = static_cast<int64_t>(std::ceil(s.layers * depth));
  }
  table.head_channels = round_channels(base.head_channels * width);
  return table;
}

struct Size {
  const char* name;
  EfficientNetTable (*table)();
  double torchvision_dropout;
};

EfficientNetTable table_b0() { return table_b(1.0, 1.0); }
EfficientNetTable table_b1() { return table_b(1.0, 1.1); }
EfficientNetTable table_b2() { return table_b(1.1, 1.2); }
EfficientNetTable table_b3() { return table_b(1.2, 1.4); }

constexpr Size sizes[] = {{"s", table_s, 0.2},   {"m", table_m, 0.3},   {"l", table_l, 0.4},  {"b0", table_b0, 0.2},
                          {"b1", table_b1, 0.2}, {"b2", table_b2, 0.2}, {"b3", table_b3, 0.2}};

}  // namespace

std::shared_ptr<ImageClassifier> build_efficientnet_v2(const std::string& size, const ModelConfig& config,
                                                       Generator& generator) {
  const Size* found = nullptr;
  for (const Size& s : sizes)
    if (size == s.name) found = &s;
  PNEUMA_CHECK(found != nullptr, "efficientnet_v2_%s: no such size (s, m, l, b0 … b3)", size.c_str());
  const std::string name = "efficientnet_v2_" + size;
  check_common_fields(config);
  const bool b_variant = size[0] == 'b';
  PNEUMA_CHECK(config.layout != "timm" || b_variant,
               "%s: layout \"timm\" is available for efficientnet_v2_b0 … b3 only (use torchvision or keras)",
               name.c_str());
  PNEUMA_CHECK(config.width_multiplier == 1, "%s: width_multiplier must be 1 (the variant fixes the width), got %g",
               name.c_str(), config.width_multiplier);
  EfficientNetNumerics numerics;
  numerics.batch_norm_eps = 1e-3;
  numerics.batch_norm_momentum = 0.1;
  numerics.dropout = resolved_dropout(config, config.layout == "keras" ? 0.2 : found->torchvision_dropout);
  numerics.drop_path_rate = resolved_drop_path_rate(config, 0.2);
  numerics.same_padding = uses_same_padding(config);
  const EfficientNetTable table = found->table();
  if (config.layout == "timm") return build_timm_efficientnet(name, table, numerics, config, generator);
  return build_efficientnet(name, table, numerics, config, generator);
}

}  // namespace pneuma::models
