// Batch normalisation over the channel (last) axis of NHWC input. Parameters "weight" (γ, ones) and "bias"
// (β, zeros) when affine; buffers "running_mean" (zeros) and "running_var" (ones), torchvision's names.
//
// momentum follows PyTorch: running = (1 − momentum)·running + momentum·batch (Keras' momentum m is 1 − m here).
// Train mode normalises with the batch statistics and updates the running ones; eval mode uses the running ones.
// A frozen BatchNorm2d always uses the running statistics and never updates them, even in train mode — what
// Keras does for a layer with trainable = False. Module::freeze() sets it for a whole subtree.
#pragma once
#include "engine/nn/module.h"

namespace pneuma::nn {

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t channels, double eps = 1e-5, double momentum = 0.1, bool affine = true);

  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "BatchNorm2d"; }

  void set_frozen(bool frozen) { frozen_ = frozen; }
  bool frozen() const { return frozen_; }
  bool uses_batch_statistics() const { return is_training() && !frozen_; }

  int64_t channels() const { return channels_; }
  double eps() const { return eps_; }
  double momentum() const { return momentum_; }
  Tensor weight() const { return weight_; }  // undefined unless affine
  Tensor bias() const { return bias_; }      // undefined unless affine
  Tensor running_mean() const { return running_mean_; }
  Tensor running_var() const { return running_var_; }

 protected:
  void on_freeze(bool frozen) override { frozen_ = frozen; }

 private:
  int64_t channels_;
  double eps_, momentum_;
  bool frozen_ = false;
  Tensor weight_, bias_, running_mean_, running_var_;
};

}  // namespace pneuma::nn
