#include "models/forward_trace.h"

namespace pneuma::models {
namespace {
thread_local ForwardTrace* active_trace = nullptr;
}  // namespace

ForwardTrace::ForwardTrace() : previous_(active_trace) { active_trace = this; }

ForwardTrace::~ForwardTrace() { active_trace = previous_; }

void ForwardTrace::record(const nn::Module& module, const Shape& input_shape, const Shape& output_shape) {
  calls_.push_back({&module, input_shape, output_shape});
}

Tensor traced_call(nn::Module& module, const Tensor& input) {
  Tensor output = module.forward(input);
  if (active_trace != nullptr) active_trace->record(module, input.shape(), output.shape());
  return output;
}

}  // namespace pneuma::models
