// Freezing (models/freezing.h): Keras-style layer counting over our modules, freeze_backbone and
// unfreeze_top_layers — which parameters train, and that frozen batch norms stay in inference mode.
#include <gtest/gtest.h>

#include <map>

#include "engine/autograd.h"
#include "engine/nn/batch_norm2d.h"
#include "engine/ops.h"
#include "models/freezing.h"
#include "models/registry.h"

namespace pneuma::models {
namespace {

std::shared_ptr<ImageClassifier> model_of(const char* architecture, int64_t classes = 3) {
  ModelConfig config;
  config.architecture = architecture;
  config.classes = classes;
  Generator generator(7);
  return create_model(config, generator);
}

std::map<std::string, int> kind_counts(const std::vector<KerasLayer>& layers) {
  std::map<std::string, int> counts;
  for (const KerasLayer& layer : layers) ++counts[layer.kind];
  return counts;
}

TEST(Freezing, MobileNetV2HasKerasLayers) {
  const auto model = model_of("mobilenet_v2");
  const auto layers = keras_layers(*model);
  // Keras' MobileNetV2(include_top=False) has 154 layers: 1 InputLayer, 35 Conv2D, 17 DepthwiseConv2D,
  // 52 BatchNormalization, 35 ReLU, 4 ZeroPadding2D (before the stride-2 depthwise convs), 10 Add.
  ASSERT_EQ(layers.size(), 154u);
  const std::map<std::string, int> expected = {{"InputLayer", 1},         {"Conv2D", 35},   {"DepthwiseConv2D", 17},
                                               {"BatchNormalization", 52}, {"ReLU", 35},     {"ZeroPadding2D", 4},
                                               {"Add", 10}};
  EXPECT_EQ(kind_counts(layers), expected);
  EXPECT_EQ(layers[1].name, "features.0.0");
  EXPECT_EQ(layers[1].kind, "Conv2D");
  // block_1 (features.2): expand conv/BN/ReLU, then the padding before its stride-2 depthwise conv.
  EXPECT_EQ(layers[12].kind, "ZeroPadding2D");
  EXPECT_EQ(layers[13].name, "features.2.conv.1.0");
  EXPECT_EQ(layers[13].kind, "DepthwiseConv2D");
}

TEST(Freezing, TopFourteenMobileNetV2LayersAreTheDocumentedOnes) {
  const auto model = model_of("mobilenet_v2");
  const auto unfrozen = unfreeze_top_layers(*model, 14);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"features.16.conv.2", "Conv2D"},       {"features.16.conv.3", "BatchNormalization"},
      {"features.16", "Add"},                 {"features.17.conv.0.0", "Conv2D"},
      {"features.17.conv.0.1", "BatchNormalization"}, {"features.17.conv.0.2", "ReLU"},
      {"features.17.conv.1.0", "DepthwiseConv2D"},    {"features.17.conv.1.1", "BatchNormalization"},
      {"features.17.conv.1.2", "ReLU"},       {"features.17.conv.2", "Conv2D"},
      {"features.17.conv.3", "BatchNormalization"},   {"features.18.0", "Conv2D"},
      {"features.18.1", "BatchNormalization"}, {"features.18.2", "ReLU"}};
  ASSERT_EQ(unfrozen.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(unfrozen[i].name, expected[i].first) << i;
    EXPECT_EQ(unfrozen[i].kind, expected[i].second) << i;
  }
  const auto features = model->child("features");
  const int64_t trainable = features->child("18")->parameter_count() + features->child("17")->parameter_count() +
                            model->find_tensor("features.16.conv.2.weight").numel() +
                            2 * model->find_tensor("features.16.conv.3.weight").numel() +
                            model->head().parameter_count();
  EXPECT_EQ(model->trainable_parameter_count(), trainable);
  EXPECT_FALSE(model->find_tensor("features.16.conv.1.0.weight").requires_grad());
  EXPECT_TRUE(model->find_tensor("features.16.conv.2.weight").requires_grad());
  EXPECT_TRUE(model->find_tensor("classifier.1.weight").requires_grad());
  auto batch_norm = [&](const char* a, const char* b, const char* c) {
    return std::dynamic_pointer_cast<nn::BatchNorm2d>(features->child(a)->child("conv")->child(b)->child(c));
  };
  EXPECT_TRUE(batch_norm("16", "1", "1")->frozen());
  EXPECT_FALSE(batch_norm("17", "1", "1")->frozen());
}

TEST(Freezing, FrozenBatchNormsStayInInferenceModeWhileTraining) {
  const auto model = model_of("mobilenet_v2");
  unfreeze_top_layers(*model, 14);
  Generator data(1);
  const Tensor images = Tensor::normal({2, 32, 32, 3}, 0, 1, data);
  const Tensor frozen_mean = model->find_tensor("features.16.conv.1.1.running_mean").clone();
  const Tensor unfrozen_mean = model->find_tensor("features.17.conv.1.1.running_mean").clone();

  model->train();
  const Tensor loss = cross_entropy((*model)(images), Tensor::from_vector(std::vector<int32_t>{0, 2}, {2}));
  loss.backward();
  EXPECT_EQ(model->find_tensor("features.16.conv.1.1.running_mean").to_vector<float>(),
            frozen_mean.to_vector<float>());
  EXPECT_NE(model->find_tensor("features.17.conv.1.1.running_mean").to_vector<float>(),
            unfrozen_mean.to_vector<float>());
  EXPECT_FALSE(model->find_tensor("features.5.conv.0.0.weight").grad().defined());
  EXPECT_TRUE(model->find_tensor("features.17.conv.0.0.weight").grad().defined());
  EXPECT_TRUE(model->find_tensor("features.16.conv.2.weight").grad().defined());

  // A fully frozen backbone computes the same features in train mode as in eval mode.
  freeze_backbone(*model);
  NoGradGuard no_grad;
  model->train();
  const std::vector<float> in_train = model->features(images).to_vector<float>();
  model->eval();
  EXPECT_EQ(model->features(images).to_vector<float>(), in_train);
  EXPECT_EQ(model->trainable_parameter_count(), model->head().parameter_count());
}

TEST(Freezing, EfficientNetLayersFollowTheRule) {
  const auto model = model_of("efficientnet_b0");
  const auto layers = keras_layers(*model);
  // Keras' EfficientNetB0 base after its preprocessing layers: stem (pad, conv, BN, activation), 16 blocks
  // (block1a 10 layers; the others 13 + a ZeroPadding2D when strided + Dropout and Add when residual: 4 strided,
  // 9 residual), top conv/BN/activation, and the InputLayer: 1 + 4 + 10 + 15·13 + 4 + 9·2 + 3.
  EXPECT_EQ(layers.size(), 235u);
  EXPECT_EQ(layers[1].kind, "ZeroPadding2D");
  EXPECT_EQ(layers[2].name, "features.0.0");
  const auto counts = kind_counts(layers);
  EXPECT_EQ(counts.at("Add"), 9);
  EXPECT_EQ(counts.at("Dropout"), 9);
  EXPECT_EQ(counts.at("Multiply"), 16);
  EXPECT_EQ(counts.at("ZeroPadding2D"), 5);
  EXPECT_EQ(layers.back().name, "features.8.2");

  // The top 20 layers of EfficientNet-B0: top conv/BN/activation and the last block (features.7.0, no residual):
  // project BN, project conv, the squeeze-excitation's 5 layers, depthwise activation/BN/conv, expand
  // activation/BN/conv, then features.6.3's Add, Dropout, project BN and conv.
  const auto unfrozen = unfreeze_top_layers(*model, 20);
  EXPECT_EQ(unfrozen.front().name, "features.6.3.block.3.0");
  EXPECT_TRUE(model->find_tensor("features.6.3.block.3.0.weight").requires_grad());
  EXPECT_FALSE(model->find_tensor("features.6.3.block.2.fc1.weight").requires_grad());
  EXPECT_TRUE(model->find_tensor("features.7.0.block.2.fc1.weight").requires_grad());
}

TEST(Freezing, TimmFlatBackboneCountsTheSame) {
  ModelConfig config;
  config.architecture = "efficientnet_v2_b0";
  config.classes = 2;
  const auto torchvision = create_model_uninitialized(config);
  config.layout = "timm";
  const auto timm = create_model_uninitialized(config);
  const auto a = keras_layers(*torchvision), b = keras_layers(*timm);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].kind, b[i].kind) << i << " " << a[i].name << " " << b[i].name;
  EXPECT_EQ(b[1].name, "conv_stem");
  unfreeze_top_layers(*timm, 3);
  EXPECT_TRUE(timm->find_tensor("conv_head.weight").requires_grad());
  EXPECT_TRUE(timm->find_tensor("bn2.weight").requires_grad());
  EXPECT_FALSE(timm->find_tensor("blocks.5.7.bn3.weight").requires_grad());
  EXPECT_EQ(unfreeze_top_layers(*timm, 100000).size(), b.size());
  EXPECT_EQ(timm->trainable_parameter_count(), timm->parameter_count());
  EXPECT_THROW(unfreeze_top_layers(*timm, -1), Error);
}

}  // namespace
}  // namespace pneuma::models
