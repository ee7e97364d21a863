// Observing a forward pass without hooks in the engine. Model code in models/ runs its children through
// traced_call(), which is a plain `module.forward(input)` unless a ForwardTrace is alive on this thread; then it
// also records which module ran, on what input shape, with what output shape, in completion order (a container is
// recorded after everything it ran). models/summary builds the layer table of `pneuma info` from it.
#pragma once
#include <vector>

#include "engine/nn/module.h"

namespace pneuma::models {

struct TracedCall {
  const nn::Module* module = nullptr;
  Shape input_shape, output_shape;
};

class ForwardTrace {
 public:
  ForwardTrace();   // becomes this thread's active trace
  ~ForwardTrace();  // restores the trace that was active before (traces nest)
  ForwardTrace(const ForwardTrace&) = delete;
  ForwardTrace& operator=(const ForwardTrace&) = delete;

  const std::vector<TracedCall>& calls() const { return calls_; }
  void record(const nn::Module& module, const Shape& input_shape, const Shape& output_shape);

 private:
  std::vector<TracedCall> calls_;
  ForwardTrace* previous_;
};

// module.forward(input), recorded by the active ForwardTrace if there is one.
Tensor traced_call(nn::Module& module, const Tensor& input);

}  // namespace pneuma::models
