#include "engine/optim/rmsprop.h"

#include "kernels/optim.h"

namespace pneuma::optim {

Rmsprop::Rmsprop(std::vector<ParameterGroup> groups, const RmspropOptions& options)
    : Optimizer(std::move(groups), options.learning_rate, options.weight_decay), options_(options) {
  PNEUMA_CHECK(options.alpha >= 0 && options.alpha < 1, "Rmsprop: alpha %g must be in [0, 1)", options.alpha);
  PNEUMA_CHECK(options.eps >= 0 && options.momentum >= 0 && options.initial_square_average >= 0,
               "Rmsprop: eps %g, momentum %g and initial square average %g must be non-negative", options.eps,
               options.momentum, options.initial_square_average);
}

void Rmsprop::update(Tensor& parameter, const Tensor& grad, double learning_rate, double weight_decay, int64_t,
                     std::map<std::string, Tensor>& buffers) {
  kernels::RmspropHyper hyper;
  hyper.lr = learning_rate;
  hyper.alpha = options_.alpha;
  hyper.eps = options_.eps;
  hyper.weight_decay = weight_decay;
  hyper.momentum = options_.momentum;
  hyper.centered = options_.centered;
  hyper.eps_inside_sqrt = options_.eps_inside_sqrt;
  auto buffer = [&](const char* name, double initial) -> Tensor {
    auto found = buffers.find(name);
    if (found == buffers.end())
      found =
          buffers.emplace(name, Tensor::full(parameter.shape(), initial, parameter.dtype(), parameter.device())).first;
    return found->second;
  };
  Tensor square_avg = buffer("square_avg", options_.initial_square_average);
  Tensor momentum_buffer = options_.momentum != 0 ? buffer("momentum_buffer", 0.0) : Tensor();
  Tensor grad_avg = options_.centered ? buffer("grad_avg", 0.0) : Tensor();
  dispatch_floating(parameter.dtype(), "Rmsprop", [&]<class T>() {
    kernels::cpu::rmsprop_update<T>(parameter.numel(), hyper, parameter.data<T>(), grad.data<T>(), square_avg.data<T>(),
                                    momentum_buffer.defined() ? momentum_buffer.data<T>() : nullptr,
                                    grad_avg.defined() ? grad_avg.data<T>() : nullptr);
  });
}

}  // namespace pneuma::optim
