// engine/optim optimizers against PyTorch 1.13 (tests/fixtures/optim_reference.json, written by
// tools/make_optim_reference.py): 5-step parameter trajectories for SGD (plain, momentum, dampening, Nesterov,
// weight decay), Adam, AdamW, RMSprop (plain, momentum, centered) and the TensorFlow/Keras RMSprop variants, with
// two parameter groups and a missing gradient. Also: state export/import resumes bit-exactly, the no-decay
// grouping, gradient clipping, skipped parameters, and input checks.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/nn/nn.h"
#include "engine/optim/optim.h"

namespace pneuma {
namespace {

using nlohmann::json;

const json& fixture() {
  static const json data = [] {
    std::ifstream file(PNEUMA_SOURCE_DIR "/tests/fixtures/optim_reference.json");
    if (!file) throw std::runtime_error("cannot open tests/fixtures/optim_reference.json");
    return json::parse(file);
  }();
  return data;
}

Tensor tensor_from(const json& values, const Shape& shape) {
  return Tensor::from_vector(values.get<std::vector<float>>(), shape);
}

Shape shape_at(size_t index) { return fixture()["shapes"][index].get<Shape>(); }

// Fresh weight and bias leaves holding the fixture's initial values.
std::vector<Tensor> initial_parameters() {
  std::vector<Tensor> parameters;
  for (size_t i = 0; i < 2; ++i) {
    Tensor p = tensor_from(fixture()["initial"][i], shape_at(i));
    p.set_requires_grad(true);
    parameters.push_back(p);
  }
  return parameters;
}

// The optimizer a fixture config describes: group 0 = weight (config weight decay), group 1 = bias (its own weight
// decay and learning-rate multiplier).
std::unique_ptr<optim::Optimizer> make_optimizer(const json& config, const std::vector<Tensor>& parameters) {
  const json& o = config["options"];
  std::vector<optim::ParameterGroup> groups(2);
  groups[0].parameters = {parameters[0]};
  groups[0].names = {"weight"};
  groups[1].parameters = {parameters[1]};
  groups[1].names = {"bias"};
  groups[1].weight_decay = config["bias_weight_decay"].get<double>();
  groups[1].lr_multiplier = config["bias_lr_multiplier"].get<double>();
  const std::string type = config["type"];
  if (type == "sgd") {
    optim::SgdOptions options;
    options.learning_rate = o["learning_rate"];
    options.momentum = o.value("momentum", 0.0);
    options.dampening = o.value("dampening", 0.0);
    options.nesterov = o.value("nesterov", false);
    options.weight_decay = o.value("weight_decay", 0.0);
    return std::make_unique<optim::Sgd>(groups, options);
  }
  if (type == "adam" || type == "adamw") {
    optim::AdamOptions options;
    options.learning_rate = o["learning_rate"];
    options.beta1 = o["beta1"];
    options.beta2 = o["beta2"];
    options.eps = o["eps"];
    options.weight_decay = o.value("weight_decay", 0.0);
    if (type == "adam") return std::make_unique<optim::Adam>(groups, options);
    return std::make_unique<optim::AdamW>(groups, options);
  }
  optim::RmspropOptions options;
  options.learning_rate = o["learning_rate"];
  options.alpha = o["alpha"];
  options.eps = o["eps"];
  options.momentum = o.value("momentum", 0.0);
  options.centered = o.value("centered", false);
  options.weight_decay = o.value("weight_decay", 0.0);
  options.eps_inside_sqrt = type == "rmsprop_tensorflow";
  options.initial_square_average = o.value("initial_square_average", 0.0);
  return std::make_unique<optim::Rmsprop>(groups, options);
}

// Sets the gradients of step `step` (an absent gradient leaves the parameter's grad undefined).
void set_gradients(const json& config, size_t step, std::vector<Tensor>& parameters) {
  const json& grads = fixture()["gradients"][config["gradients"].get<std::string>()][step];
  for (size_t i = 0; i < parameters.size(); ++i) {
    parameters[i].zero_grad();
    if (!grads[i].is_null()) parameters[i].set_grad(tensor_from(grads[i], shape_at(i)));
  }
}

TEST(OptimizerTorchParity, TrajectoriesMatchPyTorch) {
  double worst_relative = 0;
  for (const json& config : fixture()["optimizers"]) {
    const std::string name = config["name"];
    SCOPED_TRACE(name);
    std::vector<Tensor> parameters = initial_parameters();
    auto optimizer = make_optimizer(config, parameters);
    for (size_t step = 0; step < fixture()["steps"].get<size_t>(); ++step) {
      set_gradients(config, step, parameters);
      optimizer->step();
      for (size_t i = 0; i < 2; ++i) {
        const std::vector<float> got = parameters[i].to_vector<float>();
        const std::vector<float> expected = config["trajectory"][step][i].get<std::vector<float>>();
        for (size_t k = 0; k < got.size(); ++k) {
          const double error = std::abs(double(got[k]) - expected[k]);
          worst_relative = std::max(worst_relative, error / std::max(std::abs(double(expected[k])), 1e-3));
          ASSERT_LE(error, 1e-6 * std::abs(expected[k]) + 1e-7)
              << name << " step " << step << " parameter " << i << " element " << k << ": " << got[k] << " vs "
              << expected[k];
        }
      }
    }
    EXPECT_EQ(optimizer->step_count(), 5);
  }
  RecordProperty("worst_relative_error", std::to_string(worst_relative));
}

TEST(OptimizerTorchParity, MissingGradientSkipsTheParameterAndItsStepCount) {
  for (const json& config : fixture()["optimizers"]) {
    if (config["gradients"] != "with_gap") continue;
    SCOPED_TRACE(config["name"].get<std::string>());
    std::vector<Tensor> parameters = initial_parameters();
    auto optimizer = make_optimizer(config, parameters);
    for (size_t step = 0; step < 3; ++step) {
      set_gradients(config, step, parameters);
      const std::vector<float> bias_before = parameters[1].to_vector<float>();
      optimizer->step();
      if (step == 2) {
        EXPECT_EQ(parameters[1].to_vector<float>(), bias_before);
      }
    }
    EXPECT_EQ(optimizer->parameter_step(0), 3);
    EXPECT_EQ(optimizer->parameter_step(1), 2);
  }
}

// Runs `first` steps, exports, builds a fresh optimizer over fresh parameters holding the same values, imports,
// and runs the rest; the result must be bit-identical to an uninterrupted run.
TEST(OptimizerState, ExportImportResumesBitExactly) {
  for (const json& config : fixture()["optimizers"]) {
    SCOPED_TRACE(config["name"].get<std::string>());
    std::vector<Tensor> straight = initial_parameters();
    auto uninterrupted = make_optimizer(config, straight);
    for (size_t step = 0; step < 5; ++step) {
      set_gradients(config, step, straight);
      uninterrupted->step();
    }

    std::vector<Tensor> before = initial_parameters();
    auto first = make_optimizer(config, before);
    for (size_t step = 0; step < 3; ++step) {
      set_gradients(config, step, before);
      first->step();
    }
    const optim::OptimizerState state = first->export_state();
    std::vector<Tensor> after = initial_parameters();
    for (size_t i = 0; i < 2; ++i) after[i].copy_from(before[i]);  // the parameters as they were at export
    // The export is a deep copy: further steps of the original must not change it.
    std::vector<std::vector<float>> exported;
    for (const auto& [key, tensor] : state.tensors) exported.push_back(tensor.to_vector<float>());
    first->step();
    size_t k = 0;
    for (const auto& [key, tensor] : state.tensors) EXPECT_EQ(tensor.to_vector<float>(), exported[k++]) << key;

    auto resumed = make_optimizer(config, after);
    resumed->import_state(state);
    EXPECT_EQ(resumed->step_count(), 3);
    for (size_t step = 3; step < 5; ++step) {
      set_gradients(config, step, after);
      resumed->step();
    }
    for (size_t i = 0; i < 2; ++i) EXPECT_EQ(after[i].to_vector<float>(), straight[i].to_vector<float>()) << i;
  }
}

TEST(OptimizerState, KeysNameTheParameterAndTheBuffer) {
  std::vector<Tensor> parameters = initial_parameters();
  for (Tensor& p : parameters) p.set_grad(Tensor::ones(p.shape()));
  optim::ParameterGroup group;
  group.parameters = parameters;
  group.names = {"features.0.weight", "features.0.bias"};
  optim::AdamOptions options;
  options.learning_rate = 0.5;
  optim::Adam adam({group}, options);
  EXPECT_TRUE(adam.export_state().tensors.empty());
  adam.step();
  const optim::OptimizerState state = adam.export_state();
  ASSERT_EQ(state.tensors.size(), 4u);
  EXPECT_TRUE(state.tensors.count("0.features.0.weight.exp_avg"));
  EXPECT_TRUE(state.tensors.count("0.features.0.weight.exp_avg_sq"));
  EXPECT_TRUE(state.tensors.count("1.features.0.bias.exp_avg"));
  EXPECT_EQ(state.scalars.at("1.features.0.bias.step"), 1.0);
  EXPECT_EQ(state.scalars.at("learning_rate"), 0.5);
  EXPECT_EQ(state.scalars.at("step_count"), 1.0);
  // Exported tensors are copies.
  EXPECT_FALSE(state.tensors.at("0.features.0.weight.exp_avg").same_storage(adam.buffer(0, "exp_avg")));
  EXPECT_FALSE(adam.buffer(0, "nothing").defined());
}

TEST(OptimizerState, ImportRejectsAMismatchedState) {
  std::vector<Tensor> parameters = initial_parameters();
  for (Tensor& p : parameters) p.set_grad(Tensor::ones(p.shape()));
  optim::SgdOptions options;
  options.momentum = 0.9;
  optim::Sgd sgd(parameters, options);
  sgd.step();
  const optim::OptimizerState good = sgd.export_state();

  auto expect_rejected = [&](const optim::OptimizerState& bad) {
    optim::Sgd fresh(initial_parameters(), options);
    EXPECT_THROW(fresh.import_state(bad), Error);
  };
  optim::OptimizerState renamed;
  for (const auto& [key, tensor] : good.tensors) renamed.tensors["0.other." + key.substr(key.rfind('.') + 1)] = tensor;
  expect_rejected(renamed);
  optim::OptimizerState out_of_range = good;
  out_of_range.tensors["7.parameter.momentum_buffer"] = Tensor::zeros({4});
  expect_rejected(out_of_range);
  optim::OptimizerState wrong_shape = good;
  wrong_shape.tensors.begin()->second = Tensor::zeros({5});
  expect_rejected(wrong_shape);
  optim::OptimizerState wrong_buffer;
  wrong_buffer.tensors["0.parameter.exp_avg"] = Tensor::zeros({3, 4});
  expect_rejected(wrong_buffer);
  optim::Sgd fresh(initial_parameters(), options);
  EXPECT_NO_THROW(fresh.import_state(good));
}

TEST(OptimizerGroups, NormsAndBiasesGetNoWeightDecay) {
  Generator generator(3);
  nn::Sequential net;
  net.push_back(std::make_shared<nn::Conv2d>(3, 4, 3, 1, Padding2d::symmetric(1), 1, 1, false, generator));
  net.push_back(std::make_shared<nn::BatchNorm2d>(4));
  net.push_back(std::make_shared<nn::GlobalAvgPool>());
  net.push_back(std::make_shared<nn::Linear>(4, 2, true, generator));
  const auto groups = optim::weight_decay_groups(net.named_parameters(), 0.05);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].names, std::vector<std::string>({"0.weight", "3.weight"}));
  EXPECT_EQ(groups[0].weight_decay, 0.05);
  EXPECT_EQ(groups[1].names, std::vector<std::string>({"1.weight", "1.bias", "3.bias"}));
  EXPECT_EQ(groups[1].weight_decay, 0.0);
  const auto single = optim::weight_decay_groups(net.named_parameters(), 0.05, false);
  ASSERT_EQ(single.size(), 1u);
  EXPECT_EQ(single[0].parameters.size(), 5u);

  // With zero gradients only weight decay moves parameters: the decayed ones shrink, the others stay.
  for (Tensor p : net.parameters()) p.set_grad(Tensor::zeros(p.shape()));
  const auto before = net.named_parameters();
  std::vector<std::vector<float>> values;
  for (const auto& [name, p] : before) values.push_back(p.to_vector<float>());
  optim::SgdOptions options;
  options.learning_rate = 1.0;
  optim::Sgd sgd(groups, options);
  sgd.step();
  for (size_t i = 0; i < before.size(); ++i) {
    const std::vector<float> now = before[i].second.to_vector<float>();
    const bool decayed = before[i].second.rank() > 1;
    for (size_t k = 0; k < now.size(); ++k)
      EXPECT_FLOAT_EQ(now[k], decayed ? values[i][k] * 0.95f : values[i][k]) << before[i].first;
  }
}

TEST(OptimizerGroups, GroupWeightDecayOverridesTheDefaultAndMultiplierScalesTheRate) {
  Tensor a = Tensor::full({2}, 1.0).set_requires_grad(true);
  Tensor b = Tensor::full({2}, 1.0).set_requires_grad(true);
  Tensor c = Tensor::full({2}, 1.0).set_requires_grad(true);
  std::vector<optim::ParameterGroup> groups(3);
  groups[0].parameters = {a};                // default weight decay 0.1
  groups[1].parameters = {b};
  groups[1].weight_decay = 0.0;
  groups[2].parameters = {c};
  groups[2].lr_multiplier = 0.5;
  optim::SgdOptions options;
  options.learning_rate = 0.2;
  options.weight_decay = 0.1;
  optim::Sgd sgd(groups, options);
  for (Tensor* p : {&a, &b, &c}) p->set_grad(Tensor::full({2}, 1.0));
  sgd.step();
  EXPECT_FLOAT_EQ(a.to_vector<float>()[0], 1.0f - 0.2f * 1.1f);
  EXPECT_FLOAT_EQ(b.to_vector<float>()[0], 1.0f - 0.2f);
  EXPECT_FLOAT_EQ(c.to_vector<float>()[0], 1.0f - 0.1f * 1.1f);
  sgd.set_learning_rate(0.0);
  EXPECT_EQ(sgd.learning_rate(), 0.0);
  EXPECT_THROW(sgd.set_learning_rate(-1.0), Error);
  sgd.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  EXPECT_FALSE(c.grad().defined());
}

TEST(OptimizerClipGradNorm, ScalesLikePyTorchAndReturnsTheNorm) {
  Tensor a = Tensor::zeros({2}).set_requires_grad(true);
  Tensor b = Tensor::zeros({1, 2}).set_requires_grad(true);
  Tensor without_grad = Tensor::zeros({3}).set_requires_grad(true);
  a.set_grad(Tensor::from_vector<float>({3.0f, 0.0f}, {2}));
  b.set_grad(Tensor::from_vector<float>({0.0f, 4.0f}, {1, 2}));
  const std::vector<Tensor> parameters = {a, b, without_grad};
  EXPECT_DOUBLE_EQ(optim::gradient_norm(parameters), 5.0);
  // Above the limit: scaled by max_norm / (norm + 1e-6).
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm(parameters, 2.0), 5.0);
  const float coefficient = static_cast<float>(2.0 / (5.0 + 1e-6));
  EXPECT_FLOAT_EQ(a.grad().to_vector<float>()[0], 3.0f * coefficient);
  EXPECT_FLOAT_EQ(b.grad().to_vector<float>()[1], 4.0f * coefficient);
  EXPECT_FALSE(without_grad.grad().defined());
  EXPECT_NEAR(optim::gradient_norm(parameters), 2.0, 1e-6);
  // Below the limit: untouched.
  const std::vector<float> kept = a.grad().to_vector<float>();
  EXPECT_NEAR(optim::clip_grad_norm(parameters, 10.0), 2.0, 1e-6);
  EXPECT_EQ(a.grad().to_vector<float>(), kept);
  // Non-finite: reported, gradients untouched.
  b.set_grad(Tensor::from_vector<float>({INFINITY, 0.0f}, {1, 2}));
  EXPECT_TRUE(std::isinf(optim::clip_grad_norm(parameters, 1.0)));
  EXPECT_EQ(a.grad().to_vector<float>(), kept);
  EXPECT_THROW(optim::clip_grad_norm(parameters, 0.0), Error);
}

TEST(OptimizerChecks, BadConfigurationsAreRejected) {
  Tensor p = Tensor::zeros({2}).set_requires_grad(true);
  optim::SgdOptions nesterov_without_momentum;
  nesterov_without_momentum.nesterov = true;
  EXPECT_THROW(optim::Sgd({p}, nesterov_without_momentum), Error);
  optim::AdamOptions bad_beta;
  bad_beta.beta1 = 1.0;
  EXPECT_THROW(optim::Adam({p}, bad_beta), Error);
  EXPECT_THROW(optim::Sgd(std::vector<Tensor>{p, p}, optim::SgdOptions()), Error);  // the same tensor twice
  optim::Sgd sgd({p}, optim::SgdOptions());
  p.set_grad(Tensor::zeros({3}));
  EXPECT_THROW(sgd.step(), Error);  // gradient shape differs
  EXPECT_EQ(optim::RmspropOptions::keras_defaults().eps_inside_sqrt, true);
}

TEST(OptimizerTraining, AdamFitsALinearRegressionThroughAutograd) {
  Generator generator(5);
  nn::Linear model(3, 1, true, generator);
  const Tensor x = Tensor::normal({64, 3}, 0, 1, generator);
  const Tensor true_weight = Tensor::from_vector<float>({1.5f, -2.0f, 0.5f}, {1, 3});
  const Tensor y = linear(x, true_weight, Tensor::full({1}, 0.3));
  optim::AdamOptions options;
  options.learning_rate = 0.05;
  optim::Adam adam(optim::weight_decay_groups(model.named_parameters(), 0.0), options);
  double loss_value = 0;
  for (int step = 0; step < 300; ++step) {
    adam.zero_grad();
    const Tensor error = model(x) - y;
    const Tensor loss = mean(error * error);
    loss.backward();
    adam.step();
    loss_value = loss.item();
  }
  EXPECT_LT(loss_value, 1e-4);
  const std::vector<float> w = model.weight().to_vector<float>();
  EXPECT_NEAR(w[0], 1.5, 1e-2);
  EXPECT_NEAR(w[1], -2.0, 1e-2);
  EXPECT_NEAR(model.bias().to_vector<float>()[0], 0.3, 1e-2);
}

}  // namespace
}  // namespace pneuma
