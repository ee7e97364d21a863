// Fused-MBConv (torchvision.models.efficientnet.FusedMBConv, EfficientNetV2's early stages), named like
// torchvision: child "block" = Sequence of
//   expanded = make_divisible(in·expand_ratio) ≠ in:  "0" k×k CNA (in → expanded, stride, SiLU),
//                                                     "1" 1×1 CNA (expanded → out, no activation);
//   otherwise:                                        "0" k×k CNA (in → out, stride, SiLU);
// then stochastic depth ("stochastic_depth") on the residual branch when stride 1 and in == out. No
// squeeze-excitation (se_ratio must be 0). Masks come from default_generator(), as in MBConv.
#pragma once
#include "models/blocks/inverted_residual.h"

namespace pneuma::models {

class FusedMBConv : public ResidualBlock {
 public:
  explicit FusedMBConv(const InvertedResidualOptions& options, Generator& generator = default_generator());
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "FusedMBConv"; }

 private:
  std::shared_ptr<Sequence> block_;
  std::shared_ptr<nn::DropPath> stochastic_depth_;
};

}  // namespace pneuma::models
