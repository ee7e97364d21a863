#include "engine/nn/batch_norm2d.h"

#include "engine/ops.h"

namespace pneuma::nn {

BatchNorm2d::BatchNorm2d(int64_t channels, double eps, double momentum, bool affine)
    : channels_(channels), eps_(eps), momentum_(momentum) {
  PNEUMA_CHECK(channels > 0, "BatchNorm2d: channels must be positive, got %lld", static_cast<long long>(channels));
  PNEUMA_CHECK(eps > 0 && momentum >= 0 && momentum <= 1, "BatchNorm2d: eps %g must be > 0, momentum %g in [0, 1]",
               eps, momentum);
  if (affine) {
    weight_ = register_parameter("weight", Tensor::ones({channels}));
    bias_ = register_parameter("bias", Tensor::zeros({channels}));
  }
  running_mean_ = register_buffer("running_mean", Tensor::zeros({channels}));
  running_var_ = register_buffer("running_var", Tensor::ones({channels}));
}

Tensor BatchNorm2d::forward(const Tensor& input) {
  PNEUMA_CHECK(input.rank() >= 2 && input.dim(-1) == channels_, "BatchNorm2d(%lld): input %s has %lld channels",
               static_cast<long long>(channels_), input.describe().c_str(),
               static_cast<long long>(input.rank() ? input.dim(-1) : 0));
  return batch_norm(input, weight_, bias_, running_mean_, running_var_, uses_batch_statistics(), momentum_, eps_);
}

}  // namespace pneuma::nn
