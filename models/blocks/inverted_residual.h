// Inverted-residual blocks, named like torchvision so its checkpoints map one-to-one.
//
// MobileNetV2 (torchvision.models.mobilenetv2.InvertedResidual): child "conv" = Sequence of
//   [expand 1×1 ConvNormActivation (only when expand_ratio ≠ 1)], depthwise k×k ConvNormActivation,
//   project 1×1 Conv2d, BatchNorm2d — residual add when stride 1 and in == out. Hidden width round(in·expand).
//
// MBConv (torchvision.models.efficientnet.MBConv): child "block" = Sequence of
//   [expand 1×1 CNA (when make_divisible(in·expand_ratio) ≠ in)], depthwise CNA, SqueezeExcitation (se_ratio > 0,
//   squeeze channels = max(1, ⌊in·se_ratio⌋)), project 1×1 CNA without activation; then stochastic depth
//   ("stochastic_depth") on the residual branch when stride 1 and in == out. `generator` draws the initial
//   weights; the stochastic-depth masks come from default_generator() (whose state checkpoints save).
#pragma once
#include "engine/nn/nn.h"
#include "models/blocks/conv_norm_activation.h"
#include "models/blocks/residual_block.h"

namespace pneuma::models {

struct InvertedResidualOptions {
  int64_t in_channels = 16, out_channels = 16, stride = 1, kernel_size = 3;
  double expand_ratio = 6;
  kernels::Activation activation = kernels::Activation::relu6;
  double se_ratio = 0;           // MBConv only
  double drop_path_rate = 0;     // MBConv and FusedMBConv only
  bool tf_same_padding = false;  // TensorFlow "SAME" padding (for TF-trained weights)
  double batch_norm_eps = 1e-5, batch_norm_momentum = 0.1;
};

class InvertedResidual : public ResidualBlock {
 public:
  explicit InvertedResidual(const InvertedResidualOptions& options, Generator& generator = default_generator());
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "InvertedResidual"; }

 private:
  std::shared_ptr<Sequence> conv_;
};

class MBConv : public ResidualBlock {
 public:
  explicit MBConv(const InvertedResidualOptions& options, Generator& generator = default_generator());
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "MBConv"; }

 private:
  std::shared_ptr<Sequence> block_;
  std::shared_ptr<nn::DropPath> stochastic_depth_;
};

// Rounds channels to a multiple of `divisor`, never below 90% of the request (torchvision's _make_divisible).
int64_t make_divisible(double channels, int64_t divisor = 8);

// The ConvNormActivation options of one layer inside these blocks (padding, batch-norm numerics from `o`).
ConvNormActivationOptions block_layer_options(const InvertedResidualOptions& o, int64_t kernel, int64_t stride,
                                              int64_t groups, kernels::Activation activation);
// Throws unless stride is 1 or 2, expand_ratio ≥ 1 and the kernel is odd.
void check_block_options(const InvertedResidualOptions& o, const char* block);

}  // namespace pneuma::models
