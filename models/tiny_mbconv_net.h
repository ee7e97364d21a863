// A small MobileNetV2/EfficientNet-shaped network for tests, the smoke job and benchmarks: a stride-2 stem,
// three MBConv blocks with squeeze-excitation and SiLU (one stride 2, one with a residual and stochastic depth),
// a 1×1 head conv, global average pooling, dropout and a linear classifier. Children: "stem", "blocks", "head",
// "pool", "dropout", "classifier".
#pragma once
#include "engine/nn/nn.h"

namespace pneuma::models {

struct TinyMbconvNetOptions {
  int64_t in_channels = 3, classes = 3, width = 16;
  double dropout = 0.2, drop_path_rate = 0.1;
};

class TinyMbconvNet : public nn::Module {
 public:
  explicit TinyMbconvNet(const TinyMbconvNetOptions& options, Generator& generator = default_generator());
  Tensor forward(const Tensor& images) override;  // [N, H, W, in_channels] -> logits [N, classes]
  std::string type_name() const override { return "TinyMbconvNet"; }

 private:
  std::shared_ptr<nn::Sequential> stem_, blocks_, head_;
  std::shared_ptr<nn::GlobalAvgPool> pool_;
  std::shared_ptr<nn::Dropout> dropout_;
  std::shared_ptr<nn::Linear> classifier_;
};

}  // namespace pneuma::models
