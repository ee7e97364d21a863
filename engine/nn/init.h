// Weight initialisers with PyTorch's formulas, drawing from a Generator so the same seed gives the same weights.
// Each fills an existing tensor in place (no autograd) and works on any device (drawn on the host, then copied).
#pragma once
#include "engine/rng.h"
#include "engine/tensor.h"

namespace pneuma::nn::init {

// PyTorch's fans for our layouts: linear [out, in]; conv [out, kh, kw, in/groups]. fan_in = in/groups · kh · kw,
// fan_out = out · kh · kw (groups do not divide fan_out, exactly as torch.nn.init computes it).
int64_t fan_in(const Shape& weight_shape);
int64_t fan_out(const Shape& weight_shape);

// While one is alive on this thread, uniform() and normal() (and so every initialiser built on them) zero-fill
// instead of drawing, and take nothing from the generator: for building a model whose weights are all about to be
// overwritten (an importer) or only inspected (names, shapes, counts), without paying for the random draws.
class SkipRandomInit {
 public:
  SkipRandomInit();
  ~SkipRandomInit();
  SkipRandomInit(const SkipRandomInit&) = delete;
  SkipRandomInit& operator=(const SkipRandomInit&) = delete;

 private:
  bool previous_;
};

void uniform(Tensor& tensor, double low, double high, Generator& generator);
void normal(Tensor& tensor, double mean, double stddev, Generator& generator);
void constant(Tensor& tensor, double value);

// kaiming_normal_(mode='fan_out', nonlinearity='relu'): N(0, 2 / fan_out). torchvision's MobileNetV2 and
// EfficientNet use it for every convolution.
void kaiming_normal_fan_out(Tensor& weight, Generator& generator);
// nn.Linear / nn.Conv2d default: kaiming_uniform_(a=√5) ⇒ U(±1/√fan_in); the bias gets the same bound.
void linear_default(Tensor& weight, Tensor& bias, Generator& generator);

}  // namespace pneuma::nn::init
