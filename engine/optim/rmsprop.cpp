#include "engine/optim/rmsprop.h"

#include "kernels/optim.h"
#if PNEUMA_WITH_CUDA
#include "kernels/cuda/device_memory.h"
#endif

namespace pneuma::optim {

Rmsprop::Rmsprop(std::vector<ParameterGroup> groups, const RmspropOptions& options)
    : Optimizer(std::move(groups), options.learning_rate, options.weight_decay), options_(options) {
  PNEUMA_CHECK(options.alpha >= 0 && options.alpha < 1, "Rmsprop: alpha %g must be in [0, 1)", options.alpha);
  PNEUMA_CHECK(options.eps >= 0 && options.momentum >= 0 && options.initial_square_average >= 0,
               "Rmsprop: eps %g, momentum %g and initial square average %g must be non-negative", options.eps,
               options.momentum, options.initial_square_average);
}

kernels::RmspropHyper Rmsprop::hyper(double learning_rate, double weight_decay) const {
  kernels::RmspropHyper hyper;
  hyper.lr = learning_rate;
  hyper.alpha = options_.alpha;
  hyper.eps = options_.eps;
  hyper.weight_decay = weight_decay;
  hyper.momentum = options_.momentum;
  hyper.centered = options_.centered;
  hyper.eps_inside_sqrt = options_.eps_inside_sqrt;
  return hyper;
}

Rmsprop::Buffers Rmsprop::buffers_for(const Tensor& parameter, std::map<std::string, Tensor>& buffers) const {
  auto buffer = [&](const char* name, double initial) -> Tensor {
    auto found = buffers.find(name);
    if (found == buffers.end())
      found =
          buffers.emplace(name, Tensor::full(parameter.shape(), initial, parameter.dtype(), parameter.device())).first;
    return found->second;
  };
  Buffers result;
  result.square_avg = buffer("square_avg", options_.initial_square_average);
  if (options_.momentum != 0) result.momentum_buffer = buffer("momentum_buffer", 0.0);
  if (options_.centered) result.grad_avg = buffer("grad_avg", 0.0);
  return result;
}

void Rmsprop::update(Tensor& parameter, const Tensor& grad, double learning_rate, double weight_decay, int64_t,
                     std::map<std::string, Tensor>& buffers) {
  const kernels::RmspropHyper h = hyper(learning_rate, weight_decay);
  Buffers b = buffers_for(parameter, buffers);
  dispatch_floating(parameter.dtype(), "Rmsprop", [&]<class T>() {
    kernels::cpu::rmsprop_update<T>(parameter.numel(), h, parameter.data<T>(), grad.data<T>(), b.square_avg.data<T>(),
                                    b.momentum_buffer.defined() ? b.momentum_buffer.data<T>() : nullptr,
                                    b.grad_avg.defined() ? b.grad_avg.data<T>() : nullptr);
  });
}

void Rmsprop::update_on_cuda(std::vector<ParameterUpdate>& updates) {
#if PNEUMA_WITH_CUDA
  std::vector<kernels::cuda::RmspropTensor<float>> tensors;
  tensors.reserve(updates.size());
  for (ParameterUpdate& u : updates) {
    Buffers b = buffers_for(u.parameter, *u.buffers);
    tensors.push_back({u.parameter.data<float>(), u.grad.data<float>(), b.square_avg.data<float>(),
                       b.momentum_buffer.defined() ? b.momentum_buffer.data<float>() : nullptr,
                       b.grad_avg.defined() ? b.grad_avg.data<float>() : nullptr, u.parameter.numel(),
                       hyper(u.learning_rate, u.weight_decay)});
  }
  kernels::cuda::set_device(updates.front().parameter.device().index);
  kernels::cuda::rmsprop_update_many<float>(tensors.data(), tensors.size());
#else
  PNEUMA_FAIL("Rmsprop: CUDA parameters in a build without CUDA");
#endif
}

}  // namespace pneuma::optim
