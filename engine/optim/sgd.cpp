#include "engine/optim/sgd.h"

#include "kernels/optim.h"

namespace pneuma::optim {

Sgd::Sgd(std::vector<ParameterGroup> groups, const SgdOptions& options)
    : Optimizer(std::move(groups), options.learning_rate, options.weight_decay), options_(options) {
  PNEUMA_CHECK(options.momentum >= 0, "Sgd: invalid momentum %g", options.momentum);
  PNEUMA_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
               "Sgd: Nesterov momentum needs momentum > 0 and zero dampening");
}

void Sgd::update(Tensor& parameter, const Tensor& grad, double learning_rate, double weight_decay, int64_t,
                 std::map<std::string, Tensor>& buffers) {
  kernels::SgdHyper hyper;
  hyper.lr = learning_rate;
  hyper.momentum = options_.momentum;
  hyper.dampening = options_.dampening;
  hyper.weight_decay = weight_decay;
  hyper.nesterov = options_.nesterov;
  bool first_step = false;
  Tensor momentum_buffer;
  if (options_.momentum != 0) {
    auto found = buffers.find("momentum_buffer");
    first_step = found == buffers.end();
    if (first_step)
      found =
          buffers.emplace("momentum_buffer", Tensor::zeros(parameter.shape(), parameter.dtype(), parameter.device()))
              .first;
    momentum_buffer = found->second;
  }
  dispatch_floating(parameter.dtype(), "Sgd", [&]<class T>() {
    kernels::cpu::sgd_update<T>(parameter.numel(), hyper, first_step, parameter.data<T>(), grad.data<T>(),
                                momentum_buffer.defined() ? momentum_buffer.data<T>() : nullptr);
  });
}

}  // namespace pneuma::optim
