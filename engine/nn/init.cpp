#include "engine/nn/init.h"

#include <cmath>

namespace pneuma::nn::init {
namespace {

int64_t receptive_field(const Shape& shape) {
  // Our conv layout keeps the spatial axes in the middle: [out, kh, kw, in].
  int64_t size = 1;
  for (size_t axis = 1; axis + 1 < shape.size(); ++axis) size *= shape[axis];
  return size;
}

thread_local bool skip_random_init = false;

// Writes `values` (a host tensor of the same shape) into `tensor` wherever it lives.
void assign(Tensor& tensor, const Tensor& values) { tensor.copy_from(values.to(tensor.dtype())); }

}  // namespace

int64_t fan_in(const Shape& shape) {
  PNEUMA_CHECK(shape.size() >= 2, "fan_in needs a weight of rank >= 2, got %s", shape_string(shape).c_str());
  return shape.back() * receptive_field(shape);
}

int64_t fan_out(const Shape& shape) {
  PNEUMA_CHECK(shape.size() >= 2, "fan_out needs a weight of rank >= 2, got %s", shape_string(shape).c_str());
  return shape.front() * receptive_field(shape);
}

SkipRandomInit::SkipRandomInit() : previous_(skip_random_init) { skip_random_init = true; }
SkipRandomInit::~SkipRandomInit() { skip_random_init = previous_; }

void uniform(Tensor& tensor, double low, double high, Generator& generator) {
  if (skip_random_init) return tensor.fill(0);
  assign(tensor, Tensor::uniform(tensor.shape(), low, high, generator, DType::f64));
}

void normal(Tensor& tensor, double mean, double stddev, Generator& generator) {
  if (skip_random_init) return tensor.fill(0);
  assign(tensor, Tensor::normal(tensor.shape(), mean, stddev, generator, DType::f64));
}

void constant(Tensor& tensor, double value) { tensor.fill(value); }

void kaiming_normal_fan_out(Tensor& weight, Generator& generator) {
  normal(weight, 0.0, std::sqrt(2.0 / static_cast<double>(fan_out(weight.shape()))), generator);
}

void linear_default(Tensor& weight, Tensor& bias, Generator& generator) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in(weight.shape())));
  uniform(weight, -bound, bound, generator);
  if (bias.defined()) uniform(bias, -bound, bound, generator);
}

}  // namespace pneuma::nn::init
