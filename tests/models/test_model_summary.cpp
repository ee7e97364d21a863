// The layer table (models/summary.h) and `pneuma info`: multiply-add counts equal the published ones
// (torchvision's GFLOPS metadata, which counts MACs: mobilenet_v2 0.301 at 224, efficientnet_b0 0.386 at 224, the
// exact numbers computed with torch forward hooks over Conv2d/Linear), the rows cover every parameter, and the CLI
// prints the table or one error line.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <memory>

#include "models/registry.h"
#include "models/summary.h"

namespace pneuma::models {
namespace {

std::shared_ptr<ImageClassifier> model_of(const char* architecture, const char* layout = "torchvision") {
  ModelConfig config;
  config.architecture = architecture;
  config.layout = layout;
  return create_model_uninitialized(config);
}

TEST(ModelSummary, MultiplyAddsMatchThePublishedCounts) {
  EXPECT_EQ(summarize(*model_of("mobilenet_v2"), 224).multiply_adds, 300774272);
  EXPECT_EQ(summarize(*model_of("efficientnet_b0"), 224).multiply_adds, 385814752);
}

TEST(ModelSummary, RowsCoverEveryParameterAndKeepTheMode) {
  for (const char* architecture : {"mobilenet_v2", "efficientnet_b0", "efficientnet_v2_s"}) {
    auto model = model_of(architecture);
    model->train();
    const ModelSummary summary = summarize(*model, 64);
    EXPECT_TRUE(model->is_training());
    int64_t parameters = 0;
    for (const LayerRow& row : summary.rows) parameters += row.parameters;
    EXPECT_EQ(parameters, summary.parameters) << architecture;
    EXPECT_EQ(summary.rows.back().output_shape, (Shape{1, 1000}));
    EXPECT_EQ(summary.rows.back().name, "classifier.1");
  }
  auto timm = model_of("efficientnet_v2_b0", "timm");
  const ModelSummary summary = summarize(*timm, 64);
  int64_t parameters = 0;
  for (const LayerRow& row : summary.rows) parameters += row.parameters;
  EXPECT_EQ(parameters, summary.parameters);
  EXPECT_EQ(summary.rows.front().name, "conv_stem");
  EXPECT_EQ(summary.rows.front().output_shape, (Shape{1, 32, 32, 32}));
  const std::string text = format_summary(summary);
  EXPECT_NE(text.find("blocks.3.0.se"), std::string::npos);
  EXPECT_NE(text.find("FLOPs = 2 x MACs"), std::string::npos);
}

// Runs the CLI; returns (exit status, stdout + stderr).
std::pair<int, std::string> run_cli(const std::string& arguments) {
  const std::string command = std::string(PNEUMA_CLI_PATH) + " " + arguments + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  std::array<char, 4096> buffer;
  while (pipe && fgets(buffer.data(), buffer.size(), pipe)) output += buffer.data();
  const int status = pipe ? pclose(pipe) : -1;
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(InfoCommand, PrintsTheLayerTable) {
  const auto [status, output] =
      run_cli("info mobilenet_v2 --classes 3 --resolution 96 --width 0.5 --in-channels 1 "
              "--head 'dropout(0.2)-dense(64,relu)-dense'");
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("input [1, 96, 96, 1]"), std::string::npos) << output;
  EXPECT_NE(output.find("classifier.2"), std::string::npos);
  EXPECT_NE(output.find("[1, 3]"), std::string::npos);
  EXPECT_NE(output.find("trainable"), std::string::npos);
  const auto [list_status, list] = run_cli("info --list");
  EXPECT_EQ(list_status, 0);
  EXPECT_NE(list.find("efficientnet_v2_b3"), std::string::npos);
}

TEST(InfoCommand, BadInputIsOneErrorLine) {
  const auto [status, output] = run_cli("info resnet50");
  EXPECT_EQ(status, 1);
  EXPECT_EQ(output.rfind("pneuma info: error: unknown architecture 'resnet50'", 0), 0u) << output;
  EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), 1) << output;
  const auto [head_status, head_output] = run_cli("info mobilenet_v2 --head 'dense(8,relu)'");
  EXPECT_EQ(head_status, 1);
  EXPECT_NE(head_output.find("head spec, character 14"), std::string::npos) << head_output;
}

}  // namespace
}  // namespace pneuma::models
