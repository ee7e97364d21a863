// Where the training pipeline runs: the device named by `--device` (checked to exist before any work starts), and
// the device a model's weights live on, which the trainer, predict() and the evaluation follow — move the model
// (nn::Module::to) and everything else comes to it: batches, losses, optimizer state, the weight EMA.
#pragma once
#include <string>

#include "engine/device.h"
#include "engine/nn/module.h"

namespace pneuma::train {

// "cpu", "cuda" or "cuda:N" as a Device that can be used now. Throws one clear line otherwise:
//   "--device cuda: this build has no CUDA support ..."   (built with -DPNEUMA_CUDA=OFF)
//   "--device cuda: no CUDA device found"                 (no GPU or no driver)
//   "--device cuda:3: no CUDA device 3 (this machine has 1)"
Device training_device(const std::string& name);

// The device of the module's parameters and buffers (the CPU for a module without any). Throws when they are
// spread over several devices.
Device module_device(const nn::Module& module);

}  // namespace pneuma::train
