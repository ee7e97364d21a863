// Optimizer steps on CUDA (multi-tensor kernels) equal the CPU's: SGD (momentum, Nesterov, dampening, weight
// decay), Adam, AdamW and RMSprop (centered, momentum, the Keras variant), over 150 parameter tensors of awkward
// sizes (so more than one launch) in two groups with different learning rates and weight decays, a parameter
// without a gradient in one step, for three steps. Parameters and state buffers are compared after each step.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/optim/adam.h"
#include "engine/optim/rmsprop.h"
#include "engine/optim/sgd.h"
#include "tests/cuda/cuda_test_support.h"

namespace pneuma {
namespace {

using OptimizerFactory = std::function<std::unique_ptr<optim::Optimizer>(std::vector<optim::ParameterGroup>)>;

std::vector<Shape> parameter_shapes() {
  std::vector<Shape> shapes;
  const Shape cycle[] = {{1}, {37}, {32, 3, 3, 3}, {4097}, {96, 1, 1, 24}, {5, 7}, {3}, {1280, 3}};
  for (int i = 0; i < 150; ++i) shapes.push_back(cycle[i % std::size(cycle)]);
  return shapes;
}

// Parameters [0, 100) in group 0 (default weight decay), [100, 150) in group 1 (no decay, lr × 0.1).
std::vector<optim::ParameterGroup> make_groups(const std::vector<Tensor>& parameters) {
  optim::ParameterGroup decayed, plain;
  for (size_t i = 0; i < parameters.size(); ++i) (i < 100 ? decayed : plain).parameters.push_back(parameters[i]);
  plain.weight_decay = 0.0;
  plain.lr_multiplier = 0.1;
  return {decayed, plain};
}

void check_optimizer(const std::string& name, const OptimizerFactory& make) {
  SCOPED_TRACE(name);
  const std::vector<Shape> shapes = parameter_shapes();
  std::vector<Tensor> cpu_parameters, gpu_parameters;
  for (size_t i = 0; i < shapes.size(); ++i) {
    Tensor p = testing::random_normal(shapes[i], 0, 1, 1000 + i);
    cpu_parameters.push_back(p.clone().set_requires_grad(true));
    gpu_parameters.push_back(testing::on_gpu(p).set_requires_grad(true));
  }
  std::unique_ptr<optim::Optimizer> cpu = make(make_groups(cpu_parameters));
  std::unique_ptr<optim::Optimizer> gpu = make(make_groups(gpu_parameters));
  for (int step = 0; step < 3; ++step) {
    for (size_t i = 0; i < shapes.size(); ++i) {
      if (step == 1 && i == 7) {  // no gradient: skipped, its step count does not advance
        cpu_parameters[i].zero_grad();
        gpu_parameters[i].zero_grad();
        continue;
      }
      const Tensor grad = testing::random_normal(shapes[i], 0, 1, 5000 + 1000 * step + i);
      cpu_parameters[i].set_grad(grad);
      gpu_parameters[i].set_grad(testing::on_gpu(grad));
    }
    cpu->step();
    gpu->step();
    for (size_t i = 0; i < shapes.size(); ++i) {
      const std::string label = name + ".step" + std::to_string(step) + ".parameter" + std::to_string(i);
      ASSERT_TRUE(testing::expect_close(label, gpu_parameters[i], cpu_parameters[i], {.atol = 1e-6, .rtol = 1e-5}));
      ASSERT_EQ(gpu->parameter_step(i), cpu->parameter_step(i));
    }
  }
  // Final state buffers.
  const optim::OptimizerState cpu_state = cpu->export_state(), gpu_state = gpu->export_state();
  ASSERT_EQ(gpu_state.tensors.size(), cpu_state.tensors.size());
  for (const auto& [key, tensor] : cpu_state.tensors) {
    ASSERT_TRUE(gpu_state.tensors.count(key)) << key;
    EXPECT_TRUE(gpu_state.tensors.at(key).device().is_cuda()) << key;
    EXPECT_TRUE(testing::expect_close(name + "." + key, gpu_state.tensors.at(key), tensor, {.atol = 1e-6, .rtol = 1e-5}));
  }
}

TEST(CudaOptim, SgdStepsEqualCpu) {
  PNEUMA_REQUIRE_GPU();
  check_optimizer("sgd", [](std::vector<optim::ParameterGroup> groups) {
    return std::make_unique<optim::Sgd>(std::move(groups), optim::SgdOptions{.learning_rate = 0.1});
  });
  check_optimizer("sgd_momentum_dampening", [](std::vector<optim::ParameterGroup> groups) {
    return std::make_unique<optim::Sgd>(
        std::move(groups),
        optim::SgdOptions{.learning_rate = 0.05, .momentum = 0.9, .dampening = 0.1, .weight_decay = 1e-2});
  });
  check_optimizer("sgd_nesterov", [](std::vector<optim::ParameterGroup> groups) {
    return std::make_unique<optim::Sgd>(
        std::move(groups),
        optim::SgdOptions{.learning_rate = 0.05, .momentum = 0.9, .nesterov = true, .weight_decay = 4e-5});
  });
}

TEST(CudaOptim, AdamAndAdamWStepsEqualCpu) {
  PNEUMA_REQUIRE_GPU();
  check_optimizer("adam", [](std::vector<optim::ParameterGroup> groups) {
    return std::make_unique<optim::Adam>(std::move(groups),
                                         optim::AdamOptions{.learning_rate = 1e-3, .weight_decay = 1e-2});
  });
  check_optimizer("adamw", [](std::vector<optim::ParameterGroup> groups) {
    return std::make_unique<optim::AdamW>(std::move(groups),
                                          optim::AdamOptions{.learning_rate = 1e-3, .weight_decay = 5e-2});
  });
}

TEST(CudaOptim, RmspropStepsEqualCpu) {
  PNEUMA_REQUIRE_GPU();
  check_optimizer("rmsprop_centered_momentum", [](std::vector<optim::ParameterGroup> groups) {
    return std::make_unique<optim::Rmsprop>(
        std::move(groups),
        optim::RmspropOptions{.learning_rate = 1e-3, .momentum = 0.9, .centered = true, .weight_decay = 1e-4});
  });
  check_optimizer("rmsprop_keras", [](std::vector<optim::ParameterGroup> groups) {
    optim::RmspropOptions options = optim::RmspropOptions::keras_defaults();
    options.initial_square_average = 1.0;
    return std::make_unique<optim::Rmsprop>(std::move(groups), options);
  });
}

TEST(CudaOptim, F64ParameterFailsClearly) {
  PNEUMA_REQUIRE_GPU();
  Tensor on_gpu = testing::on_gpu(testing::random_normal({3}, 0, 1, 1)).set_requires_grad(true);
  on_gpu.set_grad(testing::on_gpu(testing::random_normal({3}, 0, 1, 2)));
  Tensor as_double = on_gpu.detach().to(DType::f64).set_requires_grad(true);
  as_double.set_grad(on_gpu.grad().to(DType::f64));
  optim::Sgd sgd(std::vector<Tensor>{as_double}, optim::SgdOptions{});
  try {
    sgd.step();
    ADD_FAILURE() << "an f64 CUDA parameter was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("the CUDA updates take f32"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace pneuma
