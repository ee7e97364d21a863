// Inverted-residual blocks, named like torchvision so its checkpoints map one-to-one.
//
// MobileNetV2 (torchvision.models.mobilenetv2.InvertedResidual): child "conv" = Sequential of
//   [expand 1×1 ConvNormActivation (only when expand_ratio ≠ 1)], depthwise k×k ConvNormActivation,
//   project 1×1 Conv2d, BatchNorm2d — residual add when stride 1 and in == out.
//
// MBConv (torchvision.models.efficientnet.MBConv): child "block" = Sequential of
//   [expand 1×1 CNA (expand_ratio ≠ 1)], depthwise CNA, SqueezeExcitation (se_ratio > 0, squeeze channels =
//   max(1, in·se_ratio)), project 1×1 CNA without activation; then stochastic depth ("stochastic_depth") on the
//   residual branch when stride 1 and in == out. `generator` draws the initial weights; the stochastic-depth
//   masks come from default_generator() (whose state checkpoints save).
#pragma once
#include "engine/nn/nn.h"
#include "models/blocks/conv_norm_activation.h"

namespace pneuma::models {

struct InvertedResidualOptions {
  int64_t in_channels = 16, out_channels = 16, stride = 1, kernel_size = 3;
  double expand_ratio = 6;
  kernels::Activation activation = kernels::Activation::relu6;
  double se_ratio = 0;           // MBConv only
  double drop_path_rate = 0;     // MBConv only
  bool tf_same_padding = false;  // TensorFlow "SAME" padding (for TF-trained weights)
  double batch_norm_eps = 1e-5, batch_norm_momentum = 0.1;
};

class InvertedResidual : public nn::Module {
 public:
  explicit InvertedResidual(const InvertedResidualOptions& options, Generator& generator = default_generator());
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "InvertedResidual"; }
  bool uses_residual() const { return use_residual_; }

 private:
  bool use_residual_;
  std::shared_ptr<nn::Sequential> conv_;
};

class MBConv : public nn::Module {
 public:
  explicit MBConv(const InvertedResidualOptions& options, Generator& generator = default_generator());
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "MBConv"; }
  bool uses_residual() const { return use_residual_; }

 private:
  bool use_residual_;
  std::shared_ptr<nn::Sequential> block_;
  std::shared_ptr<nn::DropPath> stochastic_depth_;
};

// Rounds channels to a multiple of `divisor`, never below 90% of the request (torchvision's _make_divisible).
int64_t make_divisible(double channels, int64_t divisor = 8);

}  // namespace pneuma::models
