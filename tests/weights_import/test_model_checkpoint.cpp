// Our model checkpoint: a round trip restores the model, config, class names, normalisation and extra metadata;
// training state beside the model is ignored by the loader; bad metadata, missing tensors and misuse are one clear
// error each, and a failed save leaves no file.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "models/registry.h"
#include "tests/weights_import/import_test_support.h"
#include "weights_import/model_checkpoint.h"

namespace pneuma::weights_import {
namespace {

namespace fs = std::filesystem;

models::ModelConfig small_config() {
  models::ModelConfig config;
  config.architecture = "mobilenet_v2";
  config.width_multiplier = 0.35;
  config.classes = 3;
  config.padding = "same";
  return config;
}

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(ImportModelCheckpoint, RoundTripRestoresModelAndMetadata) {
  const test::ScratchDirectory scratch;
  const std::string path = scratch.file("model.safetensors");
  const models::ModelConfig config = small_config();
  Generator generator(7);
  auto model = models::create_model(config, generator);
  const Normalization normalization = Normalization::preset("minus_one_one", 3, 96, 0.875);
  const std::vector<std::string> classes = {"normal", "bacterial", "viral"};
  save_model_checkpoint(path, *model, config, classes, normalization, {{"epochs", "12"}},
                        {{"train_state.step", Tensor::full({1}, 42, DType::i64)}});

  const ModelCheckpoint loaded = load_model_checkpoint(path);
  EXPECT_EQ(loaded.config.architecture, "mobilenet_v2");
  EXPECT_EQ(loaded.config.width_multiplier, 0.35);
  EXPECT_EQ(loaded.config.padding, "same");
  EXPECT_EQ(loaded.class_names, classes);
  EXPECT_EQ(loaded.normalization.name, "minus_one_one");
  EXPECT_EQ(loaded.normalization.height, 96);
  EXPECT_EQ(loaded.normalization.center_crop_fraction, 0.875);
  EXPECT_EQ(loaded.normalization.mean, (std::vector<double>{127.5, 127.5, 127.5}));
  EXPECT_EQ(loaded.metadata.at("epochs"), "12");
  EXPECT_EQ(loaded.metadata.at("format_version"), "1");
  EXPECT_EQ(loaded.metadata.at("padding"), "same");
  EXPECT_EQ(nlohmann::json::parse(loaded.metadata.at("classes")), nlohmann::json(classes));
  EXPECT_FALSE(loaded.model->is_training());
  const auto a = model->named_tensors(), b = loaded.model->named_tensors();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].second.to_vector<float>(), b[i].second.to_vector<float>()) << a[i].first;
  }
  // The same logits.
  Generator input_generator(3);
  const Tensor images = Tensor::normal({1, 32, 32, 3}, 0, 1, input_generator);
  NoGradGuard no_grad;
  model->eval();
  EXPECT_EQ((*model)(images).to_vector<float>(), (*loaded.model)(images).to_vector<float>());
}

TEST(ImportModelCheckpoint, SaveRefusesMisuseAndLeavesNoFile) {
  const test::ScratchDirectory scratch;
  const std::string path = scratch.file("model.safetensors");
  const models::ModelConfig config = small_config();
  auto model = models::create_model(config);
  const Normalization normalization = Normalization::preset("imagenet");
  EXPECT_NE(error_of([&] {
              save_model_checkpoint(path, *model, config, {"a", "b"}, normalization);
            }).find("2 class names for a model with 3 outputs"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              save_model_checkpoint(path, *model, config, {"a", "b", "c"}, normalization, {{"config", "x"}});
            }).find("reserved key 'config'"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              save_model_checkpoint(path, *model, config, {"a", "b", "c"}, normalization, {},
                                    {{"optimizer.m", Tensor::zeros({1})}});
            }).find("must be named train_state."),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              save_model_checkpoint(path, *model, config, {"a", "b", "c"}, Normalization::preset("imagenet", 1));
            }).find("normalization has 1 channels but the model takes 3"),
            std::string::npos);
  models::ModelConfig other = config;
  other.classes = 4;
  EXPECT_NE(error_of([&] {
              save_model_checkpoint(path, *model, other, {"a", "b", "c", "d"}, normalization);
            }).find("config says 4 classes"),
            std::string::npos);
  EXPECT_TRUE(fs::is_empty(scratch.path()));
}

TEST(ImportModelCheckpoint, LoadNamesWhatIsWrong) {
  const test::ScratchDirectory scratch;
  const models::ModelConfig config = small_config();
  auto model = models::create_model(config);
  std::vector<NamedTensor> tensors;
  for (const auto& [name, tensor] : model->named_tensors()) tensors.push_back({name, tensor});
  std::map<std::string, std::string> metadata = {
      {"architecture", "mobilenet_v2"},
      {"config", nlohmann::json(config).dump()},
      {"classes", R"(["a","b","c"])"},
      {"normalization", nlohmann::json(Normalization::preset("imagenet")).dump()},
      {"padding", "same"},
      {"format_version", "1"}};
  auto write_and_load = [&](const std::vector<NamedTensor>& t, const std::map<std::string, std::string>& m) {
    const std::string path = scratch.file("case.safetensors");
    write_safetensors(path, t, m);
    return error_of([&] { load_model_checkpoint(path); });
  };
  EXPECT_EQ(write_and_load(tensors, metadata), "(no error)");

  auto changed = [&](const std::string& key, const std::string& value) {
    auto m = metadata;
    if (value.empty())
      m.erase(key);
    else
      m[key] = value;
    return write_and_load(tensors, m);
  };
  EXPECT_NE(changed("format_version", "").find("no 'format_version' (not a pneuma model checkpoint?)"),
            std::string::npos);
  EXPECT_NE(changed("format_version", "2").find("format_version 2 is not supported"), std::string::npos);
  EXPECT_NE(changed("config", "{not json").find("metadata 'config' is not valid JSON"), std::string::npos);
  EXPECT_NE(changed("config", R"({"architecture": "mobilenet_v2", "colour": 1})").find("unknown key 'colour'"),
            std::string::npos);
  EXPECT_NE(changed("classes", R"(["a"])").find("1 class names for a model with 3 outputs"), std::string::npos);
  EXPECT_NE(changed("classes", R"({"a": 1})").find("metadata has the wrong form"), std::string::npos);
  EXPECT_NE(changed("normalization", R"({"mean": [1,2,3], "std": [1,0,1]})").find("channel 1 has mean 2 and std 0"),
            std::string::npos);
  EXPECT_NE(changed("architecture", "efficientnet_b0").find("disagrees with its config"), std::string::npos);

  auto missing = tensors;
  missing.erase(missing.begin() + 2);
  missing.push_back({"train_state.adam.step", Tensor::zeros({1})});  // ignored
  const std::string message = write_and_load(missing, metadata);
  EXPECT_NE(message.find("missing from the checkpoint (1): features.0.1.bias"), std::string::npos) << message;
  EXPECT_EQ(message.find("train_state"), std::string::npos) << message;
}

TEST(ImportModelCheckpoint, BinaryModelsTakeTwoClassNames) {
  const test::ScratchDirectory scratch;
  models::ModelConfig config = small_config();
  config.classes = 1;
  auto model = models::create_model(config);
  save_model_checkpoint(scratch.file("binary.safetensors"), *model, config, {"normal", "pneumonia"},
                        Normalization::preset("zero_one"));
  EXPECT_EQ(load_model_checkpoint(scratch.file("binary.safetensors")).class_names,
            (std::vector<std::string>{"normal", "pneumonia"}));
}

}  // namespace
}  // namespace pneuma::weights_import
