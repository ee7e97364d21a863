// engine/nn: parameter and buffer names in torchvision's dotted form, counts, train/eval switching, BatchNorm's
// three modes (train, eval, frozen), freezing a subtree, deterministic initialisation and its statistics, and the
// forward of the composite layers against hand-written computations.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "engine/nn/nn.h"
#include "engine/ops.h"

namespace pneuma {
namespace {

using nn::NamedTensor;

std::vector<std::string> names_of(const std::vector<NamedTensor>& named) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : named) names.push_back(name);
  return names;
}

double mean_of(const std::vector<float>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / v.size(); }
double stddev_of(const std::vector<float>& v) {
  const double m = mean_of(v);
  double s = 0;
  for (float x : v) s += (x - m) * (x - m);
  return std::sqrt(s / v.size());
}

// conv (no bias) → BN → ReLU6, torchvision's Conv2dNormActivation layout.
std::shared_ptr<nn::Sequential> conv_bn_act(int64_t in, int64_t out, int64_t stride, Generator& generator) {
  auto block = std::make_shared<nn::Sequential>();
  block->push_back(std::make_shared<nn::Conv2d>(in, out, 3, stride, Padding2d::symmetric(1), 1, 1, false, generator));
  block->push_back(std::make_shared<nn::BatchNorm2d>(out));
  block->push_back(std::make_shared<nn::Activation>(kernels::Activation::relu6));
  return block;
}

// A miniature torchvision-style network: features (a Sequential of blocks), avgpool, classifier.
class TinyNet : public nn::Module {
 public:
  explicit TinyNet(Generator& generator) {
    features_ = register_module("features", std::make_shared<nn::Sequential>());
    features_->push_back(conv_bn_act(3, 8, 2, generator));
    auto block = std::make_shared<nn::Sequential>();
    block->push_back(std::make_shared<nn::Conv2d>(8, 8, 3, 1, Padding2d::symmetric(1), 1, 8, false, generator));
    block->push_back(std::make_shared<nn::BatchNorm2d>(8));
    block->push_back(std::make_shared<nn::SqueezeExcitation>(8, 2, kernels::Activation::silu,
                                                             kernels::Activation::sigmoid, generator));
    features_->push_back(block);
    pool_ = register_module("avgpool", std::make_shared<nn::GlobalAvgPool>());
    classifier_ = register_module("classifier", std::make_shared<nn::Sequential>());
    classifier_->push_back(std::make_shared<nn::Dropout>(0.2));
    classifier_->push_back(std::make_shared<nn::Linear>(8, 5, true, generator));
  }
  Tensor forward(const Tensor& x) override { return (*classifier_)((*pool_)((*features_)(x))); }
  std::string type_name() const override { return "TinyNet"; }
  std::shared_ptr<nn::Sequential> features_, classifier_;
  std::shared_ptr<nn::GlobalAvgPool> pool_;
};

TEST(ModuleNames, ParametersAndBuffersHaveDottedTorchvisionNames) {
  Generator generator(1);
  TinyNet net(generator);
  const std::vector<std::string> expected_parameters = {
      "features.0.0.weight", "features.0.1.weight", "features.0.1.bias",    "features.1.0.weight",
      "features.1.1.weight", "features.1.1.bias",   "features.1.2.fc1.weight", "features.1.2.fc1.bias",
      "features.1.2.fc2.weight", "features.1.2.fc2.bias", "classifier.1.weight", "classifier.1.bias"};
  EXPECT_EQ(names_of(net.named_parameters()), expected_parameters);
  const std::vector<std::string> expected_buffers = {"features.0.1.running_mean", "features.0.1.running_var",
                                                     "features.1.1.running_mean", "features.1.1.running_var"};
  EXPECT_EQ(names_of(net.named_buffers()), expected_buffers);
  // state_dict order: per module its parameters, then its buffers, then its children.
  const std::vector<std::string> state = names_of(net.named_tensors());
  ASSERT_EQ(state.size(), 16u);
  EXPECT_EQ(state[1], "features.0.1.weight");
  EXPECT_EQ(state[3], "features.0.1.running_mean");
  EXPECT_EQ(state[4], "features.0.1.running_var");
  EXPECT_EQ(state[5], "features.1.0.weight");

  EXPECT_EQ(net.find_tensor("features.1.2.fc2.bias").shape(), Shape({8}));
  EXPECT_EQ(net.find_tensor("features.0.1.running_var").shape(), Shape({8}));
  EXPECT_FALSE(net.find_tensor("features.7.weight").defined());
  EXPECT_FALSE(net.find_tensor("features.0.1.nothing").defined());
  // The handle found by name is the layer's own tensor: writing through it changes the layer.
  net.find_tensor("classifier.1.bias").fill(0.25);
  EXPECT_EQ(net.classifier_->at<nn::Linear>(1)->bias().to_vector<float>(), std::vector<float>(5, 0.25f));

  const auto modules = net.named_modules();
  ASSERT_EQ(modules.size(), 16u);
  EXPECT_EQ(modules[0].first, "");
  EXPECT_EQ(modules[1].first, "features");
  EXPECT_EQ(modules[2].first, "features.0");
  EXPECT_EQ(modules[3].first, "features.0.0");
  EXPECT_EQ(modules[10].first, "features.1.2.fc1");
  EXPECT_EQ(modules[10].second->type_name(), "Conv2d");
  EXPECT_EQ(modules[15].first, "classifier.1");
}

TEST(ModuleNames, ParameterCountsAndShapes) {
  Generator generator(2);
  TinyNet net(generator);
  // conv 8·3·3·3 + bn 2·8 + depthwise 8·3·3·1 + bn 2·8 + se (2·8 + 2) + (8·2 + 8) + linear 5·8 + 5
  const int64_t expected = 216 + 16 + 72 + 16 + 18 + 24 + 45;
  EXPECT_EQ(net.parameter_count(), expected);
  EXPECT_EQ(net.trainable_parameter_count(), expected);
  EXPECT_EQ(net.find_tensor("features.0.0.weight").shape(), Shape({8, 3, 3, 3}));
  EXPECT_EQ(net.find_tensor("features.1.0.weight").shape(), Shape({8, 3, 3, 1}));
  EXPECT_EQ(net.find_tensor("features.1.2.fc1.weight").shape(), Shape({2, 1, 1, 8}));
  EXPECT_EQ(net.find_tensor("features.1.2.fc2.weight").shape(), Shape({8, 1, 1, 2}));
  EXPECT_EQ(net.find_tensor("classifier.1.weight").shape(), Shape({5, 8}));
  for (const Tensor& p : net.parameters()) EXPECT_TRUE(p.requires_grad());
  for (const Tensor& b : net.buffers()) EXPECT_FALSE(b.requires_grad());
  EXPECT_NE(net.summary().find("features.1.2.fc1: Conv2d  18 params"), std::string::npos) << net.summary();
}

TEST(ModuleNames, DuplicateNamesAndBadIndicesAreRejected) {
  class Twice : public nn::Module {
   public:
    Twice() {
      register_parameter("w", Tensor::zeros({2}));
      register_buffer("w", Tensor::zeros({2}));
    }
  };
  EXPECT_THROW(Twice(), Error);
  nn::Sequential sequential;
  sequential.push_back(std::make_shared<nn::Flatten>());
  EXPECT_THROW(sequential[1], Error);
  EXPECT_THROW(sequential.at<nn::Linear>(0), Error);
  EXPECT_THROW(nn::Module().forward(Tensor::zeros({1})), Error);
}

TEST(ModuleMode, TrainAndEvalPropagateToEverySubmodule) {
  Generator generator(3);
  TinyNet net(generator);
  for (auto& [name, module] : net.named_modules()) EXPECT_TRUE(module->is_training()) << name;
  net.eval();
  for (auto& [name, module] : net.named_modules()) EXPECT_FALSE(module->is_training()) << name;
  net.features_->train();
  EXPECT_FALSE(net.is_training());
  EXPECT_TRUE(net.features_->at<nn::Sequential>(1)->at<nn::SqueezeExcitation>(2)->fc1()->is_training());
  EXPECT_FALSE(net.classifier_->at<nn::Dropout>(0)->is_training());
  net.train();
  for (auto& [name, module] : net.named_modules()) EXPECT_TRUE(module->is_training()) << name;
}

TEST(ModuleMode, DropoutAndDropPathAreIdentityInEvalMode) {
  Generator generator(4);
  const Tensor x = Tensor::normal({4, 3, 3, 2}, 0, 1, generator);
  nn::Dropout dropout(0.5, generator);
  nn::DropPath drop_path(0.5, generator);
  dropout.eval();
  drop_path.eval();
  EXPECT_EQ(dropout(x).to_vector<float>(), x.to_vector<float>());
  EXPECT_EQ(drop_path(x).to_vector<float>(), x.to_vector<float>());
  dropout.train();
  drop_path.train();
  const std::vector<float> dropped = dropout(x).to_vector<float>(), input = x.to_vector<float>();
  int zeros = 0;
  for (size_t i = 0; i < dropped.size(); ++i) {
    if (dropped[i] == 0) ++zeros;
    else EXPECT_FLOAT_EQ(dropped[i], 2 * input[i]);
  }
  EXPECT_GT(zeros, 0);
  EXPECT_LT(zeros, static_cast<int>(dropped.size()));
  // Drop path keeps or drops whole samples.
  const std::vector<float> paths = drop_path(x).to_vector<float>();
  for (int n = 0; n < 4; ++n) {
    const bool kept = paths[n * 18] != 0;
    for (int i = 0; i < 18; ++i) EXPECT_FLOAT_EQ(paths[n * 18 + i], kept ? 2 * input[n * 18 + i] : 0.0f);
  }
}

// Per-channel mean and (biased or unbiased) variance of an NHWC tensor.
void channel_statistics(const std::vector<float>& x, int64_t channels, std::vector<double>& mean,
                        std::vector<double>& variance, bool unbiased) {
  const int64_t rows = static_cast<int64_t>(x.size()) / channels;
  mean.assign(channels, 0);
  variance.assign(channels, 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < channels; ++c) mean[c] += x[r * channels + c] / double(rows);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < channels; ++c) variance[c] += std::pow(x[r * channels + c] - mean[c], 2);
  for (int64_t c = 0; c < channels; ++c) variance[c] /= double(unbiased ? rows - 1 : rows);
}

TEST(ModuleBatchNorm, TrainModeNormalisesWithBatchStatisticsAndUpdatesRunningOnes) {
  Generator generator(5);
  nn::BatchNorm2d bn(3, 1e-5, 0.1);
  const Tensor x = Tensor::normal({2, 4, 4, 3}, 1.5, 2.0, generator);
  const std::vector<float> out = bn(x).to_vector<float>();
  std::vector<double> mean, variance, unbiased_mean, unbiased;
  channel_statistics(x.to_vector<float>(), 3, mean, variance, false);
  channel_statistics(x.to_vector<float>(), 3, unbiased_mean, unbiased, true);
  const std::vector<float> in = x.to_vector<float>();
  for (size_t i = 0; i < in.size(); ++i)
    EXPECT_NEAR(out[i], (in[i] - mean[i % 3]) / std::sqrt(variance[i % 3] + 1e-5), 1e-4);
  const std::vector<float> running_mean = bn.running_mean().to_vector<float>();
  const std::vector<float> running_var = bn.running_var().to_vector<float>();
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(running_mean[c], 0.1 * mean[c], 1e-5);
    EXPECT_NEAR(running_var[c], 0.9 + 0.1 * unbiased[c], 1e-5);
  }
}

TEST(ModuleBatchNorm, EvalModeUsesRunningStatisticsAndLeavesThemAlone) {
  Generator generator(6);
  nn::BatchNorm2d bn(2, 1e-3, 0.1);
  bn.running_mean().copy_from(Tensor::from_vector<float>({0.5f, -1.0f}, {2}));
  bn.running_var().copy_from(Tensor::from_vector<float>({4.0f, 0.25f}, {2}));
  bn.weight().copy_from(Tensor::from_vector<float>({2.0f, 3.0f}, {2}));
  bn.bias().copy_from(Tensor::from_vector<float>({0.1f, -0.2f}, {2}));
  bn.eval();
  EXPECT_FALSE(bn.uses_batch_statistics());
  const Tensor x = Tensor::normal({3, 2, 2, 2}, 0, 1, generator);
  const std::vector<float> out = bn(x).to_vector<float>(), in = x.to_vector<float>();
  const double m[2] = {0.5, -1.0}, v[2] = {4.0, 0.25}, g[2] = {2.0, 3.0}, b[2] = {0.1, -0.2};
  for (size_t i = 0; i < in.size(); ++i) {
    const int c = i % 2;
    EXPECT_NEAR(out[i], (in[i] - m[c]) / std::sqrt(v[c] + 1e-3) * g[c] + b[c], 1e-5);
  }
  EXPECT_EQ(bn.running_mean().to_vector<float>(), std::vector<float>({0.5f, -1.0f}));
  EXPECT_EQ(bn.running_var().to_vector<float>(), std::vector<float>({4.0f, 0.25f}));
}

TEST(ModuleBatchNorm, FrozenUsesRunningStatisticsEvenInTrainModeAndNeverUpdatesThem) {
  Generator generator(7);
  nn::BatchNorm2d trained(2), frozen(2), evaluated(2);
  for (nn::BatchNorm2d* bn : {&trained, &frozen, &evaluated}) {
    bn->running_mean().copy_from(Tensor::from_vector<float>({0.3f, -0.7f}, {2}));
    bn->running_var().copy_from(Tensor::from_vector<float>({1.5f, 0.5f}, {2}));
  }
  frozen.set_frozen(true);
  EXPECT_TRUE(frozen.is_training());
  EXPECT_FALSE(frozen.uses_batch_statistics());
  evaluated.eval();
  const Tensor x = Tensor::normal({2, 3, 3, 2}, 2.0, 3.0, generator);
  const std::vector<float> frozen_out = frozen(x).to_vector<float>();
  EXPECT_EQ(frozen_out, evaluated(x).to_vector<float>());
  EXPECT_NE(frozen_out, trained(x).to_vector<float>());
  EXPECT_EQ(frozen.running_mean().to_vector<float>(), std::vector<float>({0.3f, -0.7f}));
  EXPECT_EQ(frozen.running_var().to_vector<float>(), std::vector<float>({1.5f, 0.5f}));
  EXPECT_NE(trained.running_mean().to_vector<float>(), std::vector<float>({0.3f, -0.7f}));
}

TEST(ModuleFreeze, FrozenSubtreeGetsNoGradientsAndKeepsItsStatistics) {
  Generator generator(8);
  TinyNet net(generator);
  auto stem = net.features_->at<nn::Sequential>(0);
  stem->freeze();
  for (const auto& [name, p] : stem->named_parameters()) EXPECT_FALSE(p.requires_grad()) << name;
  EXPECT_TRUE(stem->at<nn::BatchNorm2d>(1)->frozen());
  EXPECT_FALSE(net.features_->at<nn::Sequential>(1)->at<nn::BatchNorm2d>(1)->frozen());
  EXPECT_EQ(net.trainable_parameter_count(), net.parameter_count() - (216 + 16));

  const std::vector<float> running_before = stem->at<nn::BatchNorm2d>(1)->running_mean().to_vector<float>();
  const Tensor x = Tensor::normal({2, 8, 8, 3}, 0, 1, generator);
  sum(net(x)).backward();
  for (const auto& [name, p] : net.named_parameters()) {
    const bool in_stem = name.rfind("features.0.", 0) == 0;
    EXPECT_EQ(p.grad().defined(), !in_stem) << name;
  }
  EXPECT_EQ(stem->at<nn::BatchNorm2d>(1)->running_mean().to_vector<float>(), running_before);

  stem->unfreeze();
  EXPECT_FALSE(stem->at<nn::BatchNorm2d>(1)->frozen());
  EXPECT_EQ(net.trainable_parameter_count(), net.parameter_count());
  // set_requires_grad only touches gradients, not BatchNorm's mode.
  net.set_requires_grad(false);
  EXPECT_EQ(net.trainable_parameter_count(), 0);
  EXPECT_FALSE(stem->at<nn::BatchNorm2d>(1)->frozen());
}

TEST(ModuleInit, SameSeedBuildsIdenticalWeightsAndAnotherSeedDoesNot) {
  Generator a(42), b(42), c(43);
  TinyNet first(a), second(b), third(c);
  const auto p1 = first.named_tensors(), p2 = second.named_tensors(), p3 = third.named_tensors();
  ASSERT_EQ(p1.size(), p2.size());
  bool any_difference = false;
  for (size_t i = 0; i < p1.size(); ++i) {
    EXPECT_EQ(p1[i].second.to_vector<float>(), p2[i].second.to_vector<float>()) << p1[i].first;
    any_difference |= p1[i].second.to_vector<float>() != p3[i].second.to_vector<float>();
  }
  EXPECT_TRUE(any_difference);
  // The default generator is used when none is passed, and manual_seed makes it reproducible.
  manual_seed(9);
  nn::Linear l1(6, 4);
  manual_seed(9);
  nn::Linear l2(6, 4);
  EXPECT_EQ(l1.weight().to_vector<float>(), l2.weight().to_vector<float>());
  EXPECT_EQ(l1.bias().to_vector<float>(), l2.bias().to_vector<float>());
}

TEST(ModuleInit, StatisticsFollowPyTorchsFormulas) {
  Generator generator(10);
  // Conv: kaiming_normal(fan_out) ⇒ std sqrt(2 / (out·k·k)), zero bias.
  nn::Conv2d conv(64, 128, 3, 1, Padding2d::symmetric(1), 1, 1, true, generator);
  const std::vector<float> w = conv.weight().to_vector<float>();
  const double expected_std = std::sqrt(2.0 / (128 * 9));
  EXPECT_NEAR(mean_of(w), 0.0, 0.03 * expected_std);
  EXPECT_NEAR(stddev_of(w), expected_std, 0.02 * expected_std);
  EXPECT_EQ(conv.bias().to_vector<float>(), std::vector<float>(128, 0.0f));
  // Depthwise: fan_out = out·k·k too (groups do not divide it in torch.nn.init).
  nn::Conv2d depthwise(96, 96, 3, 1, Padding2d::symmetric(1), 1, 96, false, generator);
  EXPECT_FALSE(depthwise.bias().defined());
  EXPECT_NEAR(stddev_of(depthwise.weight().to_vector<float>()), std::sqrt(2.0 / (96 * 9)), 0.1 * std::sqrt(2.0 / 864));
  EXPECT_EQ(nn::init::fan_out({96, 3, 3, 1}), 96 * 9);
  EXPECT_EQ(nn::init::fan_in({96, 3, 3, 1}), 9);
  // Linear: U(±1/√in) for weight and bias.
  nn::Linear linear(256, 300, true, generator);
  const double bound = 1.0 / 16.0;
  const std::vector<float> lw = linear.weight().to_vector<float>(), lb = linear.bias().to_vector<float>();
  for (float v : lw) ASSERT_LE(std::abs(v), bound);
  for (float v : lb) ASSERT_LE(std::abs(v), bound);
  EXPECT_NEAR(mean_of(lw), 0.0, 0.01 * bound);
  EXPECT_NEAR(stddev_of(lw), bound / std::sqrt(3.0), 0.02 * bound);
  EXPECT_GT(*std::max_element(lb.begin(), lb.end()), 0.8 * bound);
  // BatchNorm: γ = 1, β = 0, running mean 0, running var 1.
  nn::BatchNorm2d bn(5);
  EXPECT_EQ(bn.weight().to_vector<float>(), std::vector<float>(5, 1.0f));
  EXPECT_EQ(bn.bias().to_vector<float>(), std::vector<float>(5, 0.0f));
  EXPECT_EQ(bn.running_mean().to_vector<float>(), std::vector<float>(5, 0.0f));
  EXPECT_EQ(bn.running_var().to_vector<float>(), std::vector<float>(5, 1.0f));
  nn::BatchNorm2d plain(5, 1e-3, 0.01, false);
  EXPECT_FALSE(plain.weight().defined());
  EXPECT_EQ(plain.named_parameters().size(), 0u);
  EXPECT_EQ(plain.named_buffers().size(), 2u);
}

TEST(ModuleForward, SqueezeExcitationMatchesAHandComputation) {
  Generator generator(11);
  const int64_t n = 2, h = 3, w = 2, c = 4, s = 3;
  nn::SqueezeExcitation se(c, s, kernels::Activation::silu, kernels::Activation::sigmoid, generator);
  se.find_tensor("fc1.bias").copy_from(Tensor::normal({s}, 0, 0.5, generator));
  se.find_tensor("fc2.bias").copy_from(Tensor::normal({c}, 0, 0.5, generator));
  const Tensor x = Tensor::normal({n, h, w, c}, 0, 1, generator);
  const std::vector<float> out = se(x).to_vector<float>(), in = x.to_vector<float>();
  const std::vector<float> w1 = se.fc1()->weight().to_vector<float>(), b1 = se.fc1()->bias().to_vector<float>();
  const std::vector<float> w2 = se.fc2()->weight().to_vector<float>(), b2 = se.fc2()->bias().to_vector<float>();
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> pooled(c, 0), hidden(s, 0), gate(c, 0);
    for (int64_t p = 0; p < h * w; ++p)
      for (int64_t k = 0; k < c; ++k) pooled[k] += in[(i * h * w + p) * c + k] / double(h * w);
    for (int64_t j = 0; j < s; ++j) {
      double z = b1[j];
      for (int64_t k = 0; k < c; ++k) z += w1[j * c + k] * pooled[k];
      hidden[j] = z / (1 + std::exp(-z));  // SiLU
    }
    for (int64_t k = 0; k < c; ++k) {
      double z = b2[k];
      for (int64_t j = 0; j < s; ++j) z += w2[k * s + j] * hidden[j];
      gate[k] = 1 / (1 + std::exp(-z));
    }
    for (int64_t p = 0; p < h * w; ++p)
      for (int64_t k = 0; k < c; ++k) {
        const int64_t index = (i * h * w + p) * c + k;
        EXPECT_NEAR(out[index], in[index] * gate[k], 1e-5) << index;
      }
  }
  // Gradients reach the 4-D conv-layout weights through the [out, in] view.
  sum(se(x)).backward();
  EXPECT_EQ(se.fc1()->weight().grad().shape(), Shape({s, 1, 1, c}));
  EXPECT_EQ(se.fc2()->bias().grad().shape(), Shape({c}));
}

TEST(ModuleForward, LayersComputeWhatTheirOpsCompute) {
  Generator generator(12);
  const Tensor x = Tensor::normal({2, 5, 5, 4}, 0, 1, generator);
  nn::Conv2d conv(4, 6, 3, 2, Padding2d::same(), 1, 2, true, generator);
  Conv2dOptions options;
  options.stride_height = options.stride_width = 2;
  options.padding = Padding2d::same();
  options.groups = 2;
  EXPECT_EQ(conv(x).to_vector<float>(), conv2d(x, conv.weight(), conv.bias(), options).to_vector<float>());
  EXPECT_EQ(conv(x).shape(), Shape({2, 3, 3, 6}));
  nn::Linear linear_layer(4, 3, true, generator);
  EXPECT_EQ(linear_layer(x).shape(), Shape({2, 5, 5, 3}));
  nn::Activation act(kernels::Activation::hard_swish);
  EXPECT_EQ(act(x).to_vector<float>(), hard_swish(x).to_vector<float>());
  nn::Activation identity(kernels::Activation::identity);
  EXPECT_EQ(identity(x).to_vector<float>(), x.to_vector<float>());
  EXPECT_EQ(nn::GlobalAvgPool()(x).shape(), Shape({2, 4}));
  EXPECT_EQ(nn::Flatten()(x).shape(), Shape({2, 100}));
  nn::Sequential chain({std::make_shared<nn::GlobalAvgPool>(), std::make_shared<nn::Flatten>()});
  EXPECT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain(x).to_vector<float>(), global_avg_pool(x).to_vector<float>());
}

TEST(ModuleTo, ConvertingKeepsTheLayersHandlesValid) {
  Generator generator(13);
  TinyNet net(generator);
  const std::vector<float> before = net.find_tensor("classifier.1.weight").to_vector<float>();
  net.to(DType::f64);
  auto linear = net.classifier_->at<nn::Linear>(1);
  EXPECT_EQ(linear->weight().dtype(), DType::f64);
  EXPECT_TRUE(linear->weight().requires_grad());
  EXPECT_EQ(net.find_tensor("features.0.1.running_var").dtype(), DType::f64);
  const std::vector<double> after = linear->weight().to_vector<double>();
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(after[i], static_cast<double>(before[i]));
  net.eval();
  const Tensor out = net(Tensor::normal({1, 6, 6, 3}, 0, 1, generator, DType::f64));
  EXPECT_EQ(out.dtype(), DType::f64);
  EXPECT_EQ(out.shape(), Shape({1, 5}));
  net.to(Device::cpu());  // no-op on the same device
  EXPECT_EQ(linear->weight().dtype(), DType::f64);
}

}  // namespace
}  // namespace pneuma
