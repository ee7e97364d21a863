#include "engine/autograd.h"

#include <atomic>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "engine/ops.h"

namespace pneuma {
namespace {

thread_local bool grad_mode_enabled = true;
std::atomic<uint64_t> next_sequence_number{0};

struct PendingGradient {
  Tensor gradient;
  bool owned = false;  // true once we made a private copy that may be accumulated into in place
};

// Adds `gradient` to a pending sum without ever writing into a tensor an op handed us (it may alias another).
void accumulate_pending(PendingGradient& pending, const Tensor& gradient) {
  if (!pending.gradient.defined()) {
    pending.gradient = gradient;
    return;
  }
  if (!pending.owned) {
    pending.gradient = pending.gradient.clone();
    pending.owned = true;
  }
  add_in_place(pending.gradient, gradient);
}

void accumulate_into_leaf(TensorImpl& leaf, const Tensor& gradient) {
  if (!leaf.grad.defined()) {
    leaf.grad = gradient.clone();  // the leaf owns its gradient: users may scale or clip it in place
  } else {
    PNEUMA_CHECK(leaf.grad.shape() == gradient.shape(), "gradient of shape %s cannot accumulate into %s",
                 shape_string(gradient.shape()).c_str(), leaf.grad.describe().c_str());
    add_in_place(leaf.grad, gradient);
  }
}

}  // namespace

Node::Node(std::string name, std::vector<Edge> inputs, std::vector<Shape> input_shapes, BackwardFunction backward)
    : name_(std::move(name)),
      sequence_number_(next_sequence_number.fetch_add(1)),
      inputs_(std::move(inputs)),
      input_shapes_(std::move(input_shapes)),
      backward_(std::move(backward)) {}

std::vector<Tensor> Node::apply(const Tensor& grad_output) {
  PNEUMA_CHECK(backward_ != nullptr,
               "backward through '%s' a second time: its saved tensors were freed after the first backward "
               "(pass retain_graph=true to the first backward if you need two)",
               name_.c_str());
  std::vector<bool> needs(inputs_.size());
  for (size_t i = 0; i < inputs_.size(); ++i) needs[i] = inputs_[i].connected();
  std::vector<Tensor> grads = backward_(grad_output, needs);
  PNEUMA_CHECK(grads.size() == inputs_.size(), "backward of '%s' returned %zu gradients for %zu inputs",
               name_.c_str(), grads.size(), inputs_.size());
  for (size_t i = 0; i < grads.size(); ++i) {
    if (needs[i] && grads[i].defined())
      PNEUMA_CHECK(grads[i].shape() == input_shapes_[i], "backward of '%s': gradient %zu has shape %s, input has %s",
                   name_.c_str(), i, shape_string(grads[i].shape()).c_str(),
                   shape_string(input_shapes_[i]).c_str());
  }
  return grads;
}

bool grad_enabled() { return grad_mode_enabled; }
NoGradGuard::NoGradGuard() : previous_(grad_mode_enabled) { grad_mode_enabled = false; }
NoGradGuard::~NoGradGuard() { grad_mode_enabled = previous_; }

Tensor record_operation(const char* name, Tensor output, const std::vector<Tensor>& inputs,
                        BackwardFunction backward) {
  if (!grad_mode_enabled) return output;
  bool any = false;
  std::vector<Edge> edges(inputs.size());
  std::vector<Shape> shapes(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& input = inputs[i];
    if (!input.defined()) continue;
    shapes[i] = input.shape();
    if (input.grad_fn()) {
      edges[i].function = input.grad_fn();
      any = true;
    } else if (input.impl()->requires_grad) {
      edges[i].leaf = input.impl_ptr();
      any = true;
    }
  }
  if (!any) return output;
  output.impl()->grad_fn = std::make_shared<Node>(name, std::move(edges), std::move(shapes), std::move(backward));
  return output;
}

void run_backward(const Tensor& root, const Tensor& gradient, bool retain_graph) {
  PNEUMA_CHECK(root.defined(), "backward() on an undefined tensor");
  PNEUMA_CHECK(root.requires_grad(),
               "backward() on a tensor that does not require grad (no input required a gradient, or it was "
               "computed under no_grad)");
  Tensor seed = gradient;
  if (!seed.defined()) {
    PNEUMA_CHECK(root.numel() == 1,
                 "backward() without a gradient needs a scalar, got %s; pass a gradient of the same shape",
                 root.describe().c_str());
    seed = Tensor::ones(root.shape(), root.dtype(), root.device());
  }
  PNEUMA_CHECK(seed.shape() == root.shape(), "backward(): gradient shape %s differs from tensor shape %s",
               shape_string(seed.shape()).c_str(), shape_string(root.shape()).c_str());

  NoGradGuard no_grad;  // gradients themselves are not differentiated
  if (!root.grad_fn()) {  // the root is a leaf
    accumulate_into_leaf(*root.impl(), seed);
    return;
  }

  auto later_first = [](const Node* a, const Node* b) { return a->sequence_number() < b->sequence_number(); };
  std::priority_queue<Node*, std::vector<Node*>, decltype(later_first)> ready(later_first);
  std::unordered_map<Node*, PendingGradient> pending;
  std::unordered_set<Node*> queued;

  Node* first = root.grad_fn().get();
  pending[first].gradient = seed;
  ready.push(first);
  queued.insert(first);
  while (!ready.empty()) {
    Node* node = ready.top();
    ready.pop();
    auto entry = pending.find(node);
    Tensor grad_output = std::move(entry->second.gradient);
    pending.erase(entry);
    std::vector<Tensor> grads = node->apply(grad_output);
    grad_output = Tensor();
    if (!retain_graph) node->release();
    const auto& edges = node->inputs();
    for (size_t i = 0; i < edges.size(); ++i) {
      if (!grads[i].defined() || !edges[i].connected()) continue;
      if (edges[i].leaf) {
        accumulate_into_leaf(*edges[i].leaf, grads[i]);
      } else {
        Node* next = edges[i].function.get();
        accumulate_pending(pending[next], grads[i]);
        if (queued.insert(next).second) ready.push(next);
      }
    }
  }
}

}  // namespace pneuma
