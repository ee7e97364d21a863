// Blocks under timm's names (timm.models._efficientnet_blocks), for the "timm" layout of efficientnet_v2_b0…b3:
//   BatchNormAct2d      a BatchNorm2d ("weight", "bias", "running_mean", "running_var") followed by an activation
//   TimmSqueezeExcite   "conv_reduce" (1×1 conv with bias, C → S), SiLU, "conv_expand" (S → C), sigmoid gate
//   ConvBnAct           "conv" (k×k, stride, in → out), "bn1" (+SiLU)
//   EdgeResidual        "conv_exp" (k×k, stride, in → mid), "bn1" (+SiLU), "conv_pwl" (1×1, mid → out), "bn2"
//   InvertedResidual    "conv_pw" (1×1, in → mid), "bn1" (+SiLU), "conv_dw" (k×k depthwise, stride), "bn2" (+SiLU),
//                       "se" (squeeze = ⌊in · se_ratio⌋), "conv_pwl" (1×1, mid → out), "bn3"
// with mid = make_divisible(in · expand_ratio), then "drop_path" (stochastic depth) on the branch and the residual
// add when stride is 1 and in == out. The children run in registration order. Convolutions are initialised as
// timm's _init_weight_goog: N(0, 2 / fan_out) with fan_out = k·k·out / groups (for a depthwise conv: k·k).
#pragma once
#include <memory>
#include <string>

#include "engine/nn/nn.h"
#include "models/blocks/inverted_residual.h"
#include "models/blocks/residual_block.h"

namespace pneuma::models {

class BatchNormAct2d : public nn::BatchNorm2d {
 public:
  BatchNormAct2d(int64_t channels, double eps, double momentum, kernels::Activation activation);
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "BatchNormAct2d"; }
  kernels::Activation activation() const { return activation_; }

 private:
  kernels::Activation activation_;
};

class TimmSqueezeExcite : public nn::Module {
 public:
  TimmSqueezeExcite(int64_t channels, int64_t squeeze_channels, Generator& generator);
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "SqueezeExcite"; }

 private:
  int64_t channels_, squeeze_channels_;
  std::shared_ptr<nn::Conv2d> conv_reduce_, conv_expand_;
};

class TimmBlock : public ResidualBlock {
 public:
  enum class Kind { conv_bn_act, edge_residual, inverted_residual };
  // `o` as for MBConv; se_ratio is used by inverted_residual only.
  TimmBlock(Kind kind, const InvertedResidualOptions& o, Generator& generator);
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return type_name_; }

 private:
  std::string type_name_;
};

}  // namespace pneuma::models
