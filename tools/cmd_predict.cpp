// `pneuma predict CKPT IMAGE...`: classifies images with a pneuma checkpoint, preprocessing each exactly as the
// checkpoint's normalisation says (weights_import/preprocess.h), and prints the top classes with their
// probabilities (softmax; a one-logit model gives sigmoid probabilities of its two class names).
//
//   pneuma predict mobilenet_v2.safetensors cat.bmp --top 3 --labels imagenet_labels.txt [--json]
//
// --save-inputs FILE writes the preprocessed images (f32 [N, H, W, C], tensor "inputs", in the order given) as
// safetensors: what the model saw, for inspection or for running the same input through another framework.
//
// --tta flip averages each image's probabilities with those of its left-right mirror (test-time augmentation).
// --gradcam FILE.png writes a Grad-CAM heat map of the top class (or of --gradcam-class) over the image as the model
// saw it; with several images the files are FILE-1.png, FILE-2.png, ... in the order given.
//
// --device cuda (or cuda:N) runs the model, Grad-CAM included, on the GPU; the images are preprocessed on the CPU.
//
// --labels replaces the checkpoint's class names: one per line; a file with one line more than there are classes
// whose first line is "background" (TF-slim's 1001-line ImageNet labels) has that line skipped.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/explain/grad_cam.h"
#include "engine/explain/heat_map.h"
#include "engine/explain/png.h"
#include "engine/ops.h"
#include "engine/train/predict.h"
#include "engine/train/training_device.h"
#include "kernels/error.h"
#include "tools/command.h"
#include "weights_import/model_checkpoint.h"

namespace pneuma::cli {
namespace {

using namespace pneuma::weights_import;

struct PredictOptions {
  std::string checkpoint, labels, save_inputs, tta = "none", gradcam, gradcam_class, device = "cpu";
  std::vector<std::string> images;
  int top = 5;
  int batch = 8;
  bool json = false;
};

struct RankedClass {
  int64_t index;
  std::string name;
  double probability;
};

struct ImagePrediction {
  std::string image;
  std::vector<RankedClass> top;
};

std::vector<std::string> read_labels(const std::string& path, size_t classes) {
  std::ifstream in(path);
  PNEUMA_CHECK(in.good(), "cannot read labels from %s", path.c_str());
  std::vector<std::string> labels;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    labels.push_back(line);
  }
  while (!labels.empty() && labels.back().empty()) labels.pop_back();
  if (labels.size() == classes + 1 && labels.front() == "background") labels.erase(labels.begin());
  PNEUMA_CHECK(labels.size() == classes, "%s has %zu labels for %zu classes", path.c_str(), labels.size(), classes);
  return labels;
}

// Probabilities [N, K] of one batch of host images, on the CPU: softmax over the logits, or for one logit sigmoid
// as [1 − p, p]. The model runs on `device`.
Tensor class_probabilities(models::ImageClassifier& model, const Tensor& images, Device device) {
  NoGradGuard no_grad;
  const Tensor logits = model(images.to(device));
  if (logits.dim(1) > 1) return softmax(logits).to(Device::cpu());
  const std::vector<float> p = sigmoid(logits).to_vector<float>();
  std::vector<float> pairs;
  for (float value : p) pairs.insert(pairs.end(), {1 - value, value});
  return Tensor::from_vector(pairs, {logits.dim(0), 2});
}

// With --tta flip: the mean of the image's and its mirror's probabilities.
Tensor predicted_probabilities(models::ImageClassifier& model, const Tensor& images, const std::string& tta,
                               Device device) {
  const Tensor plain = class_probabilities(model, images, device);
  if (tta == "none") return plain;
  const Tensor mirrored = class_probabilities(model, train::flip_horizontally(images), device);
  NoGradGuard no_grad;
  return scale(add(plain, mirrored), 0.5);
}

std::vector<RankedClass> rank(const float* probabilities, size_t classes, const std::vector<std::string>& names,
                              int top) {
  std::vector<int64_t> order(classes);
  std::iota(order.begin(), order.end(), 0);
  const size_t keep = std::min<size_t>(static_cast<size_t>(top), classes);
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep), order.end(),
                    [&](int64_t a, int64_t b) { return probabilities[a] > probabilities[b]; });
  std::vector<RankedClass> ranked;
  for (size_t i = 0; i < keep; ++i)
    ranked.push_back({order[i], names[static_cast<size_t>(order[i])], probabilities[order[i]]});
  return ranked;
}

std::vector<ImagePrediction> predict_images(ModelCheckpoint& checkpoint, const std::vector<std::string>& names,
                                            const PredictOptions& o, Device device, std::vector<Tensor>& inputs) {
  std::vector<ImagePrediction> predictions;
  for (size_t start = 0; start < o.images.size(); start += static_cast<size_t>(o.batch)) {
    const std::vector<std::string> batch(
        o.images.begin() + static_cast<std::ptrdiff_t>(start),
        o.images.begin() +
            static_cast<std::ptrdiff_t>(std::min(o.images.size(), start + static_cast<size_t>(o.batch))));
    const Tensor images = preprocess_images(batch, checkpoint.normalization);
    if (!o.save_inputs.empty()) inputs.push_back(images);
    const Tensor probabilities = predicted_probabilities(*checkpoint.model, images, o.tta, device);
    const std::vector<float> values = probabilities.to_vector<float>();
    const size_t classes = static_cast<size_t>(probabilities.dim(1));
    for (size_t i = 0; i < batch.size(); ++i)
      predictions.push_back({batch[i], rank(values.data() + i * classes, classes, names, o.top)});
  }
  return predictions;
}

// The class Grad-CAM explains: --gradcam-class as a name or an index, else the image's top class. A one-logit
// (sigmoid) model has a single logit to explain, whatever the class.
int64_t class_to_explain(const std::string& option, const std::vector<std::string>& names, const ImagePrediction& p,
                         int64_t logits) {
  if (logits == 1) return 0;
  if (option.empty()) return p.top.front().index;
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == option) return static_cast<int64_t>(i);
  char* end = nullptr;
  const long index = std::strtol(option.c_str(), &end, 10);
  PNEUMA_CHECK(*end == '\0' && !option.empty() && index >= 0 && index < logits,
               "--gradcam-class '%s' is neither a class name nor an index below %lld", option.c_str(),
               static_cast<long long>(logits));
  return index;
}

std::string numbered_path(const std::string& path, size_t number, size_t count) {
  if (count == 1) return path;
  const size_t dot = path.find_last_of('.');
  const size_t slash = path.find_last_of('/');
  const bool has_extension = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  const std::string stem = has_extension ? path.substr(0, dot) : path;
  return stem + "-" + std::to_string(number) + (has_extension ? path.substr(dot) : std::string(".png"));
}

void write_grad_cams(ModelCheckpoint& checkpoint, const std::vector<std::string>& names, const PredictOptions& o,
                     Device device, const std::vector<ImagePrediction>& predictions) {
  models::ImageClassifier& model = *checkpoint.model;
  const data::PreprocessOptions preprocess = checkpoint.normalization.preprocess_options();
  const int64_t logits = checkpoint.config.classes;
  for (size_t i = 0; i < predictions.size(); ++i) {
    const ImagePrediction& p = predictions[i];
    const int64_t explained = class_to_explain(o.gradcam_class, names, p, logits);
    const explain::GradCamResult cam =
        explain::grad_cam([&](const Tensor& x) { return model.features(x); },
                          [&](const Tensor& a) { return model.classify(a); },
                          preprocess_image(p.image, checkpoint.normalization).to(device), explained);
    const std::string path = numbered_path(o.gradcam, i + 1, predictions.size());
    explain::write_png(path, explain::overlay_heat_map(data::model_view_rgb(p.image, preprocess), cam.heat_map));
    std::fprintf(stderr, "Grad-CAM of %s for %s: %s\n", logits == 1 ? names.back().c_str() : names[explained].c_str(),
                 p.image.c_str(), path.c_str());
  }
}

void print_text(const std::vector<ImagePrediction>& predictions) {
  for (const ImagePrediction& p : predictions) {
    std::printf("%s\n", p.image.c_str());
    for (size_t i = 0; i < p.top.size(); ++i)
      std::printf("  %zu. %.4f  %s (%lld)\n", i + 1, p.top[i].probability, p.top[i].name.c_str(),
                  static_cast<long long>(p.top[i].index));
  }
}

void print_json(const std::vector<ImagePrediction>& predictions) {
  nlohmann::json out = nlohmann::json::array();
  for (const ImagePrediction& p : predictions) {
    nlohmann::json top = nlohmann::json::array();
    for (const RankedClass& c : p.top)
      top.push_back({{"class", c.index}, {"name", c.name}, {"probability", c.probability}});
    out.push_back({{"image", p.image}, {"top", top}});
  }
  std::printf("%s\n", out.dump(2).c_str());
}

int run_predict(const PredictOptions& o) {
  const Device device = train::training_device(o.device);
  ModelCheckpoint checkpoint = load_model_checkpoint(o.checkpoint);
  checkpoint.model->to(device);
  const size_t outputs = checkpoint.config.classes == 1 ? 2 : static_cast<size_t>(checkpoint.config.classes);
  const std::vector<std::string> names = o.labels.empty() ? checkpoint.class_names : read_labels(o.labels, outputs);
  PNEUMA_CHECK(names.size() == outputs, "checkpoint %s: %zu class names for %zu outputs", o.checkpoint.c_str(),
               names.size(), outputs);
  std::vector<Tensor> inputs;
  const std::vector<ImagePrediction> predictions = predict_images(checkpoint, names, o, device, inputs);
  if (!o.save_inputs.empty())
    write_safetensors(
        o.save_inputs, {{"inputs", concat(inputs, 0)}},
        {{"checkpoint", o.checkpoint}, {"normalization", nlohmann::json(checkpoint.normalization).dump()}});
  if (!o.gradcam.empty()) write_grad_cams(checkpoint, names, o, device, predictions);
  if (o.json) {
    print_json(predictions);
  } else {
    print_text(predictions);
  }
  return 0;
}

RegisterCommand registration("predict", "Classify images with a pneuma checkpoint", [](CLI::App& app) {
  auto o = std::make_shared<PredictOptions>();
  app.add_option("checkpoint", o->checkpoint, "pneuma checkpoint (.safetensors)")->required();
  app.add_option("images", o->images, "image files (PNG, JPEG, BMP, ...)")->required();
  app.add_option("--top", o->top, "classes to show per image (default 5)")->check(CLI::Range(1, 1000000));
  app.add_option("--labels", o->labels, "class names to print instead of the checkpoint's, one per line");
  app.add_option("--batch", o->batch, "images per forward pass (default 8)")->check(CLI::Range(1, 4096));
  app.add_flag("--json", o->json, "print JSON instead of text");
  app.add_option("--save-inputs", o->save_inputs, "write the preprocessed images to this .safetensors file");
  app.add_option("--tta", o->tta, "test-time augmentation: none (default) or flip (mean with the mirrored image)")
      ->check(CLI::IsMember({"none", "flip"}));
  app.add_option("--gradcam", o->gradcam, "write a Grad-CAM heat map over the image to this PNG file");
  app.add_option("--device", o->device, "cpu | cuda | cuda:N: where the model runs (default cpu)");
  app.add_option("--gradcam-class", o->gradcam_class, "class to explain, by name or index (default: the top class)");
  return [o] { return run_predict(*o); };
});

}  // namespace
}  // namespace pneuma::cli
