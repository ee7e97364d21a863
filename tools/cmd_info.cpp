// `pneuma info MODEL`: builds a model of the zoo (models/registry.h) and prints its layer table (name, type, output
// shape, parameters, multiply-adds), the total and trainable parameter counts and the cost of one image at the
// given resolution, from a forward pass under NoGradGuard (models/summary.h). `pneuma info --list` prints the
// architecture names.
//
//   pneuma info mobilenet_v2 --classes 3 --resolution 224 --width 0.75 --head "dropout(0.2)-dense(1024,relu)-dense"
//   pneuma info efficientnet_v2_b0 --layout timm --in-channels 1
// The model is built without random initialisation (create_model_uninitialized): only its structure is looked at.
#include <cstdio>
#include <memory>
#include <string>

#include "models/registry.h"
#include "models/summary.h"
#include "tools/command.h"

namespace pneuma::cli {
namespace {

struct InfoOptions {
  std::string model;
  bool list = false;
  models::ModelConfig config;
  int64_t resolution = 224;
};

int run_info(InfoOptions& options) {
  if (options.list) {
    for (const std::string& name : models::model_names()) std::printf("%s\n", name.c_str());
    return 0;
  }
  PNEUMA_CHECK(!options.model.empty(), "name a model (one of pneuma info --list)");
  options.config.architecture = options.model;
  const auto model = models::create_model_uninitialized(options.config);
  std::fputs(models::format_summary(models::summarize(*model, options.resolution)).c_str(), stdout);
  return 0;
}

const RegisterCommand registration("info", "Print a model's layer table, parameter count and cost", [](CLI::App& app) {
  auto options = std::make_shared<InfoOptions>();
  app.add_option("model", options->model, "architecture (see --list)");
  app.add_flag("--list", options->list, "print the architecture names and exit");
  app.add_option("--classes", options->config.classes, "outputs of the last layer")->capture_default_str();
  app.add_option("--resolution", options->resolution, "square input size in pixels")->capture_default_str();
  app.add_option("--width", options->config.width_multiplier, "MobileNetV2 width multiplier")->capture_default_str();
  app.add_option("--head", options->config.head, "head spec, e.g. dropout(0.2)-dense(1024,relu)-dense");
  app.add_option("--in-channels", options->config.in_channels, "input channels (1 = grayscale)")
      ->capture_default_str();
  app.add_option("--layout", options->config.layout, "torchvision, timm or keras")->capture_default_str();
  app.add_option("--padding", options->config.padding, "symmetric or same (TensorFlow)")->capture_default_str();
  return [options] { return run_info(*options); };
});

}  // namespace
}  // namespace pneuma::cli
