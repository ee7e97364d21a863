// The model zoo's table and configs: every architecture builds, has exactly the reference number of parameters for
// 1000 classes (torchvision's num_params / a count with torchvision 0.14; tf_efficientnetv2_b0…b3 counted with
// timm 1.0.31), runs a forward pass, and bad configs fail with one clear message.
#include <gtest/gtest.h>

#include <array>

#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/nn/batch_norm2d.h"
#include "engine/ops.h"
#include "models/registry.h"

namespace pneuma::models {
namespace {

struct CountCase {
  const char* architecture;
  double width;
  const char* layout;
  int64_t parameters;
};

// The numbers: torchvision.models.<arch>(num_classes=1000) and timm.create_model("tf_efficientnetv2_bN"),
// sum(p.numel() for p in model.parameters()) — the same as tests/fixtures/models/state_dict_digests.txt.
const CountCase count_cases[] = {
    {"mobilenet_v2", 1.0, "torchvision", 3504872},       {"mobilenet_v2", 0.35, "torchvision", 1677128},
    {"mobilenet_v2", 0.5, "torchvision", 1968680},       {"mobilenet_v2", 0.75, "torchvision", 2636424},
    {"mobilenet_v2", 1.4, "torchvision", 6108776},       {"efficientnet_b0", 1.0, "torchvision", 5288548},
    {"efficientnet_b1", 1.0, "torchvision", 7794184},    {"efficientnet_b2", 1.0, "torchvision", 9109994},
    {"efficientnet_b3", 1.0, "torchvision", 12233232},   {"efficientnet_b4", 1.0, "torchvision", 19341616},
    {"efficientnet_b5", 1.0, "torchvision", 30389784},   {"efficientnet_b6", 1.0, "torchvision", 43040704},
    {"efficientnet_b7", 1.0, "torchvision", 66347960},   {"efficientnet_v2_s", 1.0, "torchvision", 21458488},
    {"efficientnet_v2_m", 1.0, "torchvision", 54139356}, {"efficientnet_v2_l", 1.0, "torchvision", 118515272},
    {"efficientnet_v2_b0", 1.0, "timm", 7139704},        {"efficientnet_v2_b1", 1.0, "timm", 8141052},
    {"efficientnet_v2_b2", 1.0, "timm", 10096086},       {"efficientnet_v2_b3", 1.0, "timm", 14358406},
    {"efficientnet_v2_b0", 1.0, "torchvision", 7139704}, {"efficientnet_v2_b3", 1.0, "keras", 14358406},
};

TEST(ModelRegistry, ParameterCountsMatchTheReferences) {
  for (const CountCase& c : count_cases) {
    ModelConfig config;
    config.architecture = c.architecture;
    config.width_multiplier = c.width;
    config.layout = c.layout;
    const auto model = create_model_uninitialized(config);
    EXPECT_EQ(model->parameter_count(), c.parameters) << c.architecture << " width " << c.width << " " << c.layout;
    EXPECT_EQ(model->trainable_parameter_count(), c.parameters);
  }
}

TEST(ModelRegistry, NamesListEveryArchitectureInTableOrder) {
  const std::vector<std::string> expected = {
      "mobilenet_v2",       "efficientnet_b0",    "efficientnet_b1",    "efficientnet_b2",   "efficientnet_b3",
      "efficientnet_b4",    "efficientnet_b5",    "efficientnet_b6",    "efficientnet_b7",   "efficientnet_v2_s",
      "efficientnet_v2_m",  "efficientnet_v2_l",  "efficientnet_v2_b0", "efficientnet_v2_b1", "efficientnet_v2_b2",
      "efficientnet_v2_b3"};
  EXPECT_EQ(model_names(), expected);
}

TEST(ModelRegistry, ModelsRunForwardAtOddResolutions) {
  NoGradGuard no_grad;
  Generator data(3);
  const std::vector<std::array<const char*, 3>> cases = {{"mobilenet_v2", "symmetric", "torchvision"},
                                                         {"mobilenet_v2", "same", "torchvision"},
                                                         {"efficientnet_b0", "symmetric", "torchvision"},
                                                         {"efficientnet_v2_b0", "same", "timm"}};
  for (const auto& [architecture, padding, layout] : cases) {
    ModelConfig config;
    config.architecture = architecture;
    config.classes = 5;
    config.padding = padding;
    config.layout = layout;
    auto model = create_model(config);
    model->eval();
    const Tensor images = Tensor::normal({2, 45, 37, 3}, 0, 1, data);
    const Tensor feature_map = model->features(images);
    EXPECT_EQ(feature_map.shape(), (Shape{2, 2, 2, model->feature_channels()})) << architecture << " " << padding;
    const Tensor logits = model->classify(feature_map);
    EXPECT_EQ(logits.shape(), (Shape{2, 5}));
    EXPECT_TRUE(all_finite(logits));
    EXPECT_EQ((*model)(images).to_vector<float>(), logits.to_vector<float>());
  }
}

TEST(ModelRegistry, SeedsDecideTheWeightsAndUninitializedModelsDrawNothing) {
  ModelConfig config;
  config.architecture = "efficientnet_v2_b0";
  config.classes = 3;
  Generator a(5), b(5), c(6);
  const auto first = create_model(config, a), second = create_model(config, b), third = create_model(config, c);
  const auto bare = create_model_uninitialized(config);
  const auto names = first->named_tensors(), bare_names = bare->named_tensors();
  ASSERT_EQ(names.size(), bare_names.size());
  for (size_t i = 0; i < names.size(); ++i) ASSERT_EQ(names[i].first, bare_names[i].first);
  const std::string conv = "features.4.0.block.1.0.weight";
  EXPECT_EQ(first->find_tensor(conv).to_vector<float>(), second->find_tensor(conv).to_vector<float>());
  EXPECT_NE(first->find_tensor(conv).to_vector<float>(), third->find_tensor(conv).to_vector<float>());
  for (float w : bare->find_tensor(conv).to_vector<float>()) ASSERT_EQ(w, 0.0f);
  for (float w : bare->find_tensor("features.4.0.block.1.1.weight").to_vector<float>()) ASSERT_EQ(w, 1.0f);
}

TEST(ModelRegistry, AccessorsDescribeTheModel) {
  ModelConfig config;
  config.architecture = "efficientnet_v2_b0";
  config.classes = 2;
  auto torchvision = create_model_uninitialized(config);
  EXPECT_EQ(torchvision->architecture(), "efficientnet_v2_b0");
  EXPECT_EQ(torchvision->stem_conv_name(), "features.0.0");
  EXPECT_EQ(torchvision->feature_channels(), 1280);
  EXPECT_EQ(torchvision->classes(), 2);
  EXPECT_EQ(torchvision->in_channels(), 3);
  EXPECT_EQ(&torchvision->backbone(), torchvision->child("features").get());
  EXPECT_EQ(&torchvision->head(), torchvision->child("classifier").get());

  config.layout = "timm";
  auto timm = create_model_uninitialized(config);
  EXPECT_EQ(timm->stem_conv_name(), "conv_stem");
  EXPECT_TRUE(timm->find_tensor("classifier.weight").defined());
  EXPECT_TRUE(timm->find_tensor("blocks.5.7.se.conv_reduce.weight").defined());
  // The flat backbone holds exactly the backbone's parameters: everything but the classifier.
  EXPECT_EQ(timm->backbone().parameter_count() + timm->head().parameter_count(), timm->parameter_count());
  EXPECT_EQ(timm->head().parameter_count(), 1280 * 2 + 2);
}

TEST(ModelRegistry, LayoutsSetTheNumerics) {
  auto stem_batch_norm = [](const std::shared_ptr<ImageClassifier>& model) {
    return std::dynamic_pointer_cast<nn::BatchNorm2d>(model->child("features")->child("0")->child("1"));
  };
  ModelConfig config;
  config.architecture = "mobilenet_v2";
  config.layout = "keras";
  auto keras = create_model_uninitialized(config);
  auto bn = stem_batch_norm(keras);
  ASSERT_NE(bn, nullptr);
  EXPECT_DOUBLE_EQ(bn->eps(), 1e-3);
  EXPECT_DOUBLE_EQ(bn->momentum(), 1e-3);
  config.layout = "torchvision";
  bn = stem_batch_norm(create_model_uninitialized(config));
  EXPECT_DOUBLE_EQ(bn->eps(), 1e-5);
  EXPECT_DOUBLE_EQ(bn->momentum(), 0.1);
  config.architecture = "efficientnet_b0";
  config.layout = "keras";
  bn = stem_batch_norm(create_model_uninitialized(config));
  EXPECT_DOUBLE_EQ(bn->eps(), 1e-3);
  EXPECT_DOUBLE_EQ(bn->momentum(), 0.01);
  config.architecture = "efficientnet_b5";
  config.layout = "torchvision";
  bn = stem_batch_norm(create_model_uninitialized(config));
  EXPECT_DOUBLE_EQ(bn->momentum(), 0.01);
}

void expect_error(const ModelConfig& config, const std::string& fragment) {
  try {
    create_model(config);
    ADD_FAILURE() << "no error for " << config.architecture << " (expected '" << fragment << "')";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
  }
}

TEST(ModelRegistry, BadConfigsFailClearly) {
  ModelConfig config;
  config.architecture = "resnet50";
  expect_error(config, "unknown architecture 'resnet50' (known: mobilenet_v2, efficientnet_b0");
  config.architecture = "mobilenet_v2";
  config.layout = "timm";
  expect_error(config, "layout \"timm\" is not available");
  config.layout = "tensorflow";
  expect_error(config, "layout must be");
  config.layout = "torchvision";
  config.padding = "valid";
  expect_error(config, "padding must be");
  config.padding = "same";
  config.classes = 0;
  expect_error(config, "classes must be >= 1");
  config.classes = 2;
  config.drop_path_rate = 0.1;
  expect_error(config, "no stochastic depth");
  config.drop_path_rate = -1;
  config.dropout = 0.3;
  config.head = "dense";
  expect_error(config, "put the dropout in the head spec");
  config = ModelConfig();
  config.architecture = "efficientnet_b0";
  config.width_multiplier = 1.2;
  expect_error(config, "width_multiplier must be 1");
  config.width_multiplier = 1;
  config.layout = "timm";
  expect_error(config, "layout \"timm\" is not available");
  config.architecture = "efficientnet_v2_s";
  expect_error(config, "efficientnet_v2_b0 … b3 only");
}

TEST(ModelConfigJson, RoundTripsAndRejectsUnknownKeys) {
  ModelConfig config;
  config.architecture = "efficientnet_v2_b2";
  config.classes = 4;
  config.in_channels = 1;
  config.padding = "same";
  config.layout = "keras";
  config.dropout = 0.25;
  config.head = "dense(64,relu)-dense";
  const nlohmann::json json = config;
  const ModelConfig back = json.get<ModelConfig>();
  EXPECT_EQ(nlohmann::json(back), json);
  EXPECT_EQ(back.head, config.head);
  EXPECT_EQ(back.in_channels, 1);

  const ModelConfig minimal = nlohmann::json::parse(R"({"architecture": "mobilenet_v2"})").get<ModelConfig>();
  EXPECT_EQ(minimal.classes, 1000);
  EXPECT_EQ(minimal.layout, "torchvision");

  try {
    nlohmann::json::parse(R"({"architecture": "mobilenet_v2", "num_classes": 3})").get<ModelConfig>();
    ADD_FAILURE() << "unknown key accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("unknown key 'num_classes' (known: architecture"), std::string::npos)
        << error.what();
  }
  EXPECT_THROW(nlohmann::json::parse(R"({"classes": 3})").get<ModelConfig>(), Error);
  EXPECT_THROW(nlohmann::json::parse(R"({"architecture": "mobilenet_v2", "classes": "three"})").get<ModelConfig>(),
               Error);
}

}  // namespace
}  // namespace pneuma::models
