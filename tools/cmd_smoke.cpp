// `pneuma smoke`: a two-minute end-to-end check of an installation on real images. It reads a few images per
// class from an image folder (root/<class>/* or root/train/<class>/*), trains the small MBConv network of
// models/tiny_mbconv_net.h on them for a number of Adam steps and prints the loss of every step and the speed.
// The loss must fall: it exits non-zero when it does not, so a broken build or kernel shows up here first.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/data/image.h"
#include "engine/ops.h"
#include "engine/optim/optim.h"
#include "kernels/error.h"
#include "models/tiny_mbconv_net.h"
#include "tools/command.h"

namespace pneuma::cli {
namespace {

namespace fs = std::filesystem;

struct SmokeOptions {
  std::string data;
  int images_per_class = 16;
  int resolution = 64;
  int steps = 30;
  uint64_t seed = 0;
};

bool is_image_file(const fs::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(), ::tolower);
  return extension == ".png" || extension == ".jpg" || extension == ".jpeg" || extension == ".bmp";
}

// The class folders under `root` (or under `root/train` when that exists), sorted by name.
std::vector<fs::path> class_folders(const fs::path& root) {
  PNEUMA_CHECK(fs::is_directory(root), "data folder '%s' does not exist or is not a folder", root.c_str());
  const fs::path base = fs::is_directory(root / "train") ? root / "train" : root;
  std::vector<fs::path> folders;
  for (const auto& entry : fs::directory_iterator(base))
    if (entry.is_directory()) folders.push_back(entry.path());
  std::sort(folders.begin(), folders.end());
  PNEUMA_CHECK(folders.size() >= 2, "'%s' needs at least two class folders, found %zu", base.c_str(), folders.size());
  return folders;
}

struct Batch {
  Tensor images, labels;
  std::vector<std::string> class_names;
};

Batch load_batch(const SmokeOptions& options) {
  Batch batch;
  std::vector<float> pixels;
  std::vector<int32_t> labels;
  for (const fs::path& folder : class_folders(options.data)) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(folder))
      if (entry.is_regular_file() && is_image_file(entry.path())) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    PNEUMA_CHECK(!files.empty(), "class folder '%s' has no images", folder.c_str());
    files.resize(std::min<size_t>(files.size(), options.images_per_class));
    for (const fs::path& file : files) {
      const Image image =
          resize_bilinear_antialiased(to_rgb(decode_image(file.string())), options.resolution, options.resolution);
      for (float value : image.pixels) pixels.push_back(value / 127.5f - 1.0f);
      labels.push_back(static_cast<int32_t>(batch.class_names.size()));
    }
    batch.class_names.push_back(folder.filename().string());
  }
  const int64_t count = static_cast<int64_t>(labels.size());
  batch.images = Tensor::from_vector(pixels, {count, options.resolution, options.resolution, 3});
  batch.labels = Tensor::from_vector(labels, {count});
  return batch;
}

int run_smoke(const SmokeOptions& options) {
  const Batch batch = load_batch(options);
  std::printf("smoke: %lld images of %zu classes from %s at %dx%d\n",
              static_cast<long long>(batch.labels.shape()[0]), batch.class_names.size(), options.data.c_str(),
              options.resolution, options.resolution);
  manual_seed(options.seed);
  Generator init(options.seed);
  models::TinyMbconvNetOptions net_options;
  net_options.classes = static_cast<int64_t>(batch.class_names.size());
  models::TinyMbconvNet net(net_options, init);
  net.train();
  optim::AdamOptions adam;
  adam.learning_rate = 3e-3;
  optim::Adam optimizer(net.parameters(), adam);

  std::vector<double> losses;
  const auto start = std::chrono::steady_clock::now();
  for (int step = 0; step < options.steps; ++step) {
    optimizer.zero_grad();
    Tensor loss = cross_entropy(net(batch.images), batch.labels);
    loss.backward();
    optimizer.step();
    losses.push_back(loss.item());
    PNEUMA_CHECK(all_finite(loss), "loss became %f at step %d", losses.back(), step);
    std::printf("step %3d  loss %.4f\n", step, losses.back());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double images_per_second = options.steps * batch.labels.shape()[0] / seconds;
  std::printf("smoke: %d training steps in %.2f s (%.1f images/s), loss %.4f -> %.4f\n", options.steps, seconds,
              images_per_second, losses.front(), losses.back());
  PNEUMA_CHECK(losses.back() < 0.7 * losses.front(),
               "the loss did not fall (%.4f -> %.4f): the engine is not learning", losses.front(), losses.back());
  return 0;
}

RegisterCommand registration("smoke", "Check an installation: train a small network on a few real images",
                             [](CLI::App& app) {
                               auto options = std::make_shared<SmokeOptions>();
                               app.add_option("data", options->data, "image folder: root/<class>/* or root/train/<class>/*")
                                   ->required();
                               app.add_option("--images-per-class", options->images_per_class)->check(CLI::Range(1, 10000));
                               app.add_option("--resolution", options->resolution)->check(CLI::Range(16, 1024));
                               app.add_option("--steps", options->steps)->check(CLI::Range(2, 100000));
                               app.add_option("--seed", options->seed);
                               return [options] { return run_smoke(*options); };
                             });

}  // namespace
}  // namespace pneuma::cli
