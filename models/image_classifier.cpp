#include "models/image_classifier.h"

#include "engine/nn/global_avg_pool.h"
#include "models/forward_trace.h"

namespace pneuma::models {

Tensor ImageClassifier::features(const Tensor& images) {
  PNEUMA_CHECK(images.rank() == 4 && images.dim(3) == in_channels(),
               "%s: expected images [N, H, W, %lld] (NHWC), got %s", architecture_.c_str(),
               static_cast<long long>(in_channels()), images.describe().c_str());
  return traced_call(*backbone_, images);
}

Tensor ImageClassifier::classify(const Tensor& feature_map) {
  PNEUMA_CHECK(feature_map.rank() == 4 && feature_map.dim(3) == feature_channels_,
               "%s: expected a feature map [N, h, w, %lld], got %s", architecture_.c_str(),
               static_cast<long long>(feature_channels_), feature_map.describe().c_str());
  return traced_call(*head_, traced_call(*pool_, feature_map));
}

int64_t ImageClassifier::in_channels() const {
  const Tensor weight = find_tensor(stem_conv_name_ + ".weight");
  PNEUMA_CHECK(weight.defined() && weight.rank() == 4, "%s: no stem convolution weight '%s.weight'",
               architecture_.c_str(), stem_conv_name_.c_str());
  return weight.dim(3);
}

void ImageClassifier::set_backbone(const std::string& name, std::shared_ptr<Sequence> backbone,
                                   int64_t feature_channels, std::string stem_conv_name) {
  backbone_ = register_module(name, std::move(backbone));
  feature_channels_ = feature_channels;
  stem_conv_name_ = std::move(stem_conv_name);
}

void ImageClassifier::set_flat_backbone(std::shared_ptr<Sequence> backbone, int64_t feature_channels,
                                        std::string stem_conv_name) {
  for (const auto& [name, child] : backbone->named_children()) register_module(name, child);
  backbone_ = std::move(backbone);
  feature_channels_ = feature_channels;
  stem_conv_name_ = std::move(stem_conv_name);
}

void ImageClassifier::set_head(const std::string& pool_name, std::shared_ptr<nn::Module> head, int64_t classes) {
  pool_ = register_module(pool_name, std::make_shared<nn::GlobalAvgPool>());
  head_ = register_module("classifier", std::move(head));
  classes_ = classes;
}

}  // namespace pneuma::models
