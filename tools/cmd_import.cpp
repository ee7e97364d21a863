// `pneuma import`: turns a checkpoint written by torchvision, timm or Keras into a pneuma model checkpoint
// (weights_import/model_checkpoint.h): reads SRC in whatever format it is (.pth, .safetensors, Keras .h5, .npz),
// builds the architecture, maps and transposes every tensor into it (weights_import/load_weights.h) and writes
// OUT with the model config, class names and input normalisation. OUT is written atomically, and only after every
// tensor has been checked: nothing is left at OUT on any error.
//
//   pneuma import --from torchvision --arch mobilenet_v2 --padding same --normalization minus_one_one
//       --crop 0.875 --class-names imagenet_labels.txt mobilenet_v2.pth -o mobilenet_v2.safetensors
//
// --from picks the name map and the model's layout: torchvision → layout torchvision; keras → layout keras
// (Keras' BatchNorm eps and SAME padding); timm → layout timm for efficientnet_v2_b0…b3 (timm's own names), else
// timm's names mapped onto layout torchvision (pass --layout keras for timm's tf_* ports of TensorFlow weights).
// Default normalisation: imagenet, except Keras MobileNetV2 and EfficientNetV2-S/M/L (minus_one_one), whose
// keras.applications preprocessing scales to [-1, 1]. --in-channels 1 imports RGB weights into a grayscale model:
// the stem convolution's weight is summed over its input channels (models/grayscale.h), so a gray image gives what
// the RGB model gave on the same image repeated in three channels.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "models/grayscale.h"
#include "models/registry.h"
#include "tools/command.h"
#include "weights_import/load_weights.h"
#include "weights_import/model_checkpoint.h"
#include "weights_import/tensor_archive.h"

namespace pneuma::cli {
namespace {

using namespace pneuma::weights_import;

struct ImportOptions {
  std::string from, architecture, source, output;
  int64_t classes = 1000;
  std::string padding, layout, normalization, class_names_file, classifier = "error";
  double width = 1.0, crop = 1.0;
  int size = 224;
  int in_channels = 3;
};

std::string default_layout(const ImportOptions& o) {
  if (o.from == "keras") return "keras";
  if (o.from == "timm" && o.architecture.rfind("efficientnet_v2_b", 0) == 0) return "timm";
  return "torchvision";
}

std::string default_normalization(const ImportOptions& o) {
  const bool minus_one_one = o.architecture == "mobilenet_v2" || o.architecture == "efficientnet_v2_s" ||
                             o.architecture == "efficientnet_v2_m" || o.architecture == "efficientnet_v2_l";
  return o.from == "keras" && minus_one_one ? "minus_one_one" : "imagenet";
}

// One name per line (trailing spaces and a trailing '\r' dropped). A list with one name more than there are classes
// whose first line is "background" (ImageNet label files in the TF-slim style) loses that first line.
std::vector<std::string> read_class_names(const std::string& path, int64_t classes) {
  std::ifstream in(path);
  PNEUMA_CHECK(in.good(), "cannot read class names from %s", path.c_str());
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    names.push_back(line);
  }
  while (!names.empty() && names.back().empty()) names.pop_back();
  if (static_cast<int64_t>(names.size()) == classes + 1 && names.front() == "background") names.erase(names.begin());
  PNEUMA_CHECK(static_cast<int64_t>(names.size()) == classes || (classes == 1 && names.size() == 2),
               "%s has %zu class names for %lld classes", path.c_str(), names.size(), static_cast<long long>(classes));
  return names;
}

int run_import(const ImportOptions& o) {
  models::ModelConfig config;
  config.architecture = o.architecture;
  config.classes = o.classes;
  config.width_multiplier = o.width;
  config.layout = o.layout.empty() ? default_layout(o) : o.layout;
  config.padding = o.padding.empty() ? (config.layout == "torchvision" ? "symmetric" : "same") : o.padding;

  std::vector<std::string> class_names;
  if (o.class_names_file.empty()) {
    for (int64_t i = 0; i < o.classes; ++i) class_names.push_back("class_" + std::to_string(i));
  } else {
    class_names = read_class_names(o.class_names_file, o.classes);
  }
  const Normalization normalization = Normalization::preset(
      o.normalization.empty() ? default_normalization(o) : o.normalization, o.in_channels, o.size, o.crop);

  const TensorArchive archive = read_tensor_archive(o.source);
  auto model = models::create_model(config);
  LoadOptions load;
  load.source = weight_source_from_name(o.from);
  load.classifier_mismatch = classifier_mismatch_from_name(o.classifier);
  const LoadReport report = load_weights(*model, archive, load);
  if (o.in_channels == 1) {
    models::adapt_first_conv_to_grayscale(*model);
    config.in_channels = 1;
  }

  std::map<std::string, std::string> provenance = {
      {"imported_from", std::filesystem::path(o.source).filename().string()},
      {"imported_source", o.from},
      {"imported_format", archive.metadata.count("format") ? archive.metadata.at("format") : "unknown"}};
  save_model_checkpoint(o.output, *model, config, class_names, normalization, provenance);

  std::printf(
      "imported %lld tensors from %s (%s, %s) into %s: %lld classes, layout %s, padding %s, "
      "normalization %s -> %s\n",
      static_cast<long long>(report.loaded), o.source.c_str(), o.from.c_str(),
      archive.metadata.count("format") ? archive.metadata.at("format").c_str() : "?", o.architecture.c_str(),
      static_cast<long long>(o.classes), config.layout.c_str(), config.padding.c_str(), normalization.name.c_str(),
      o.output.c_str());
  if (!report.classifier_kept.empty())
    std::printf("classifier (%s): %zu tensors keep their fresh initialisation, %zu checkpoint tensors unused\n",
                o.classifier.c_str(), report.classifier_kept.size(), report.classifier_unused.size());
  return 0;
}

RegisterCommand registration(
    "import", "Convert torchvision / timm / Keras weights into a pneuma checkpoint", [](CLI::App& app) {
      auto o = std::make_shared<ImportOptions>();
      app.add_option("--from", o->from, "whose names the checkpoint uses")
          ->required()
          ->check(CLI::IsMember({"torchvision", "timm", "keras"}));
      app.add_option("--arch", o->architecture, "architecture")
          ->required()
          ->check(CLI::IsMember(models::model_names()));
      app.add_option("--classes", o->classes, "outputs of the classifier (default 1000)")
          ->check(CLI::Range(1, 1000000));
      app.add_option("--padding", o->padding, "convolution padding (default: same for keras/timm layouts)")
          ->check(CLI::IsMember({"same", "symmetric"}));
      app.add_option("--layout", o->layout, "override the model layout chosen from --from")
          ->check(CLI::IsMember({"torchvision", "timm", "keras"}));
      app.add_option("--width", o->width, "MobileNetV2 width multiplier")->check(CLI::PositiveNumber);
      app.add_option("--normalization", o->normalization, "input normalisation recorded in the checkpoint")
          ->check(CLI::IsMember({"imagenet", "minus_one_one", "zero_one"}));
      app.add_option("--size", o->size, "input height and width recorded in the checkpoint")
          ->check(CLI::Range(8, 8192));
      app.add_option("--crop", o->crop, "central crop fraction before resizing (TF-slim evaluation: 0.875)")
          ->check(CLI::Range(0.01, 1.0));
      app.add_option("--class-names", o->class_names_file, "file with one class name per line");
      app.add_option("--in-channels", o->in_channels, "3, or 1 for a grayscale model made from RGB weights")
          ->check(CLI::IsMember({1, 3}));
      app.add_option("--classifier", o->classifier,
                     "when the checkpoint's classifier does not fit: error, drop, reinit")
          ->check(CLI::IsMember({"error", "drop", "reinit"}));
      app.add_option("source", o->source, "checkpoint to import (.pth, .safetensors, .h5, .npz)")->required();
      app.add_option("-o,--output", o->output, "pneuma checkpoint to write (.safetensors)")->required();
      return [o] { return run_import(*o); };
    });

}  // namespace
}  // namespace pneuma::cli
