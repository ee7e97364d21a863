// The option table and the recipes in recipes/: every recipe parses, validates, names data and weights that exist
// under ../shared (relative to the repository root, as the recipes are run), and its model can be built. Plus the
// command-line text → JSON conversion and the precedence of flags over recipes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/train/loss.h"
#include "engine/train/train_config.h"
#include "models/head_spec.h"
#include "models/registry.h"
#include "train_test_support.h"

namespace pneuma::train {
namespace {

namespace fs = std::filesystem;

const OptionSpec& spec(const std::string& name) {
  for (const OptionSpec& s : train_option_specs())
    if (s.name == name) return s;
  throw std::runtime_error("no option " + name);
}

TEST(TrainConfig, OptionTextBecomesTypedJson) {
  EXPECT_EQ(option_value_from_text(spec("batch-size"), "16"), 16);
  EXPECT_EQ(option_value_from_text(spec("lr"), "1e-4"), 1e-4);
  EXPECT_EQ(option_value_from_text(spec("hflip"), "false"), false);
  EXPECT_EQ(option_value_from_text(spec("brightness"), "0.8, 1"), nlohmann::json::array({0.8, 1.0}));
  EXPECT_EQ(option_value_from_text(spec("classes"), "normal,viral"), nlohmann::json::array({"normal", "viral"}));
  EXPECT_THROW(option_value_from_text(spec("epochs"), "2.5"), Error);
  EXPECT_THROW(option_value_from_text(spec("lr"), "fast"), Error);
}

TEST(TrainConfig, UnknownOptionsAndWrongTypesAreErrors) {
  try {
    TrainConfig::from_json({{"learning-rate", 0.1}});
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("unknown option 'learning-rate'"), std::string::npos);
  }
  EXPECT_THROW(TrainConfig::from_json({{"epochs", "ten"}}), Error);
  const TrainConfig round_trip = TrainConfig::from_json(TrainConfig{}.to_json());
  EXPECT_EQ(round_trip.to_json(), TrainConfig{}.to_json());
}

TEST(TrainConfig, FlagsOverrideTheRecipe) {
  testing::TemporaryFolder folder("recipe_override");
  std::ofstream(folder.file("r.json")) << R"({"description": "x", "batch_size": 8, "lr": 0.5, "data": "d", "out": "o"})";
  const nlohmann::json recipe = read_recipe(folder.file("r.json"));
  EXPECT_EQ(recipe.at("batch-size"), 8);  // underscores become dashes; documentation keys are dropped
  EXPECT_FALSE(recipe.contains("description"));
  const TrainConfig config = TrainConfig::from_json(merge_options(recipe, {{"lr", 0.01}}));
  EXPECT_EQ(config.batch_size, 8);
  EXPECT_EQ(config.lr, 0.01);
  std::ofstream(folder.file("bad.json")) << R"({"batch-size": 8, "epoch": 3})";
  EXPECT_THROW(read_recipe(folder.file("bad.json")), Error);
}

TEST(Recipes, EveryRecipeIsValidAndPointsAtSharedData) {
  const fs::path root = PNEUMA_SOURCE_DIR;
  const bool shared_present = fs::is_directory(root / "../shared/data");
  int recipes = 0;
  for (const auto& entry : fs::directory_iterator(root / "recipes")) {
    if (entry.path().extension() != ".json") continue;
    ++recipes;
    SCOPED_TRACE(entry.path().filename().string());
    const TrainConfig config = TrainConfig::from_json(read_recipe(entry.path().string()));
    EXPECT_NO_THROW(config.validate());
    EXPECT_NO_THROW(parse_loss_kind(config.loss));
    if (!config.head.empty()) EXPECT_NO_THROW(models::parse_head_spec(config.head));
    EXPECT_NE(std::find(models::model_names().begin(), models::model_names().end(), config.arch),
              models::model_names().end());
    EXPECT_EQ(config.out.rfind("runs/", 0), 0u) << "runs go under runs/ (ignored by git)";
    if (shared_present) {
      EXPECT_TRUE(fs::exists(root / config.data)) << config.data;
      if (!config.image_root.empty()) EXPECT_TRUE(fs::is_directory(root / config.image_root)) << config.image_root;
      if (!config.weights.empty()) EXPECT_TRUE(fs::exists(root / config.weights)) << config.weights;
    }
  }
  EXPECT_GE(recipes, 5);
}

}  // namespace
}  // namespace pneuma::train
