#include "models/tiny_mbconv_net.h"

#include "models/blocks/conv_norm_activation.h"
#include "models/blocks/inverted_residual.h"

namespace pneuma::models {

TinyMbconvNet::TinyMbconvNet(const TinyMbconvNetOptions& o, Generator& generator) {
  const auto silu = kernels::Activation::silu;
  const int64_t w = o.width;
  ConvNormActivationOptions stem_options;
  stem_options.kernel_size = 3;
  stem_options.stride = 2;
  stem_options.activation = silu;
  stem_ = register_module("stem", conv_norm_activation(o.in_channels, w, stem_options, generator));

  blocks_ = register_module("blocks", std::make_shared<nn::Sequential>());
  auto block = [&](int64_t in, int64_t out, int64_t stride, double expand, double drop_path) {
    InvertedResidualOptions b;
    b.in_channels = in;
    b.out_channels = out;
    b.stride = stride;
    b.expand_ratio = expand;
    b.activation = silu;
    b.se_ratio = 0.25;
    b.drop_path_rate = drop_path;
    blocks_->push_back(std::make_shared<MBConv>(b, generator));
  };
  block(w, w, 1, 1, o.drop_path_rate);
  block(w, w * 3 / 2, 2, 4, 0);
  block(w * 3 / 2, w * 3 / 2, 1, 4, o.drop_path_rate);

  ConvNormActivationOptions head_options;
  head_options.kernel_size = 1;
  head_options.activation = silu;
  head_ = register_module("head", conv_norm_activation(w * 3 / 2, w * 4, head_options, generator));
  pool_ = register_module("pool", std::make_shared<nn::GlobalAvgPool>());
  dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(o.dropout));
  classifier_ = register_module("classifier", std::make_shared<nn::Linear>(w * 4, o.classes, true, generator));
}

Tensor TinyMbconvNet::forward(const Tensor& images) {
  Tensor x = head_->forward(blocks_->forward(stem_->forward(images)));
  return classifier_->forward(dropout_->forward(pool_->forward(x)));
}

}  // namespace pneuma::models
