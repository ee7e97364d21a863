// Reverse-mode automatic differentiation.
//
// Every differentiable op calls record_operation(): when grad mode is on and an input requires a gradient, the
// output gets a Node holding the op's backward function (a closure over the tensors it saved) and one edge per
// input — to the node that produced that input, or to the leaf tensor that accumulates its gradient. Nodes are
// numbered in recording order, so the recorded graph is a tape: backward() replays it from the root in reverse
// order (highest number first), which guarantees every node has all its incoming gradient before it runs.
// After a node runs, its closure — and with it every saved activation — is freed, unless retain_graph is asked.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace pneuma {

struct Edge {
  std::shared_ptr<Node> function;      // the op that produced the input, or
  std::shared_ptr<TensorImpl> leaf;    // the leaf tensor that receives the gradient
  bool connected() const { return function != nullptr || leaf != nullptr; }
};

// Receives d(loss)/d(output) and which inputs need a gradient; returns one tensor per input (undefined where not
// needed). Must not modify grad_output.
using BackwardFunction =
    std::function<std::vector<Tensor>(const Tensor& grad_output, const std::vector<bool>& needs_input_grad)>;

class Node {
 public:
  Node(std::string name, std::vector<Edge> inputs, std::vector<Shape> input_shapes, BackwardFunction backward);
  const std::string& name() const { return name_; }
  uint64_t sequence_number() const { return sequence_number_; }
  const std::vector<Edge>& inputs() const { return inputs_; }
  bool released() const { return !backward_; }
  std::vector<Tensor> apply(const Tensor& grad_output);  // throws if released
  void release() { backward_ = nullptr; }                // frees saved tensors

 private:
  std::string name_;
  uint64_t sequence_number_;
  std::vector<Edge> inputs_;
  std::vector<Shape> input_shapes_;
  BackwardFunction backward_;
};

bool grad_enabled();

// Scope in which nothing is recorded (inference, optimizer updates).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// For op implementations: attaches history to `output` (and returns it) when grad mode is on and any input
// requires a gradient; otherwise returns `output` untouched and drops `backward` (and what it captured).
// Capture inputs/outputs in `backward` through detach() so the graph holds no reference cycle.
Tensor record_operation(const char* name, Tensor output, const std::vector<Tensor>& inputs,
                        BackwardFunction backward);

// Backpropagation from `root`. `gradient` defaults to 1 for a single-element root; any other root needs one.
void run_backward(const Tensor& root, const Tensor& gradient, bool retain_graph);

}  // namespace pneuma
