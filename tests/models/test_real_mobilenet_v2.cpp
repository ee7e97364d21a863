// Our MobileNetV2 with the real ImageNet weights of ../shared/weights (torchvision state_dict layout, trained by
// TF-slim with TensorFlow SAME padding): loaded by name (conv weights OIHW -> our OHWI), it gives the top-1 classes
// that ../shared/README.md lists for the sample photos (TF-slim preprocessing: central 87.5% crop, bilinear resize
// to 224, x/127.5 − 1). Skipped when the shared folder is absent.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "engine/autograd.h"
#include "engine/data/image.h"
#include "engine/ops.h"
#include "engine/safetensors.h"
#include "models/registry.h"

namespace pneuma::models {
namespace {

TEST(RealMobileNetV2, ClassifiesTheSamplePhotos) {
  const std::string weights = std::string(PNEUMA_SHARED_DIR) + "/weights";
  const std::string checkpoint = weights + "/mobilenet_v2_imagenet/mobilenet_v2_1.0_224_tfslim.safetensors";
  if (!std::filesystem::exists(checkpoint)) GTEST_SKIP() << "no " << checkpoint;
  ModelConfig config;
  config.architecture = "mobilenet_v2";
  config.padding = "same";
  auto model = create_model_uninitialized(config);
  size_t loaded = 0;
  for (const NamedTensor& entry : read_safetensors(checkpoint).tensors) {
    if (entry.name.find("num_batches_tracked") != std::string::npos) continue;
    Tensor ours = model->find_tensor(entry.name);
    ASSERT_TRUE(ours.defined()) << entry.name;
    ours.copy_from(entry.tensor.rank() == 4 ? entry.tensor.permute({0, 2, 3, 1}).contiguous() : entry.tensor);
    ++loaded;
  }
  ASSERT_EQ(loaded, model->named_tensors().size());
  model->eval();
  NoGradGuard no_grad;
  const std::vector<std::pair<const char*, std::vector<int>>> expected = {
      {"cat.bmp", {285}}, {"parrot.jpg", {88}}, {"hot_dog.jpg", {934}}, {"Chicken.jpg", {7, 8}},
      {"grace_hopper.bmp", {667}}};
  for (const auto& [file, classes] : expected) {
    const Image image = resize_bilinear_antialiased(
        center_crop(to_rgb(decode_image(weights + "/imagenet_samples/" + file)), 0.875), 224, 224);
    std::vector<float> pixels(image.pixels.size());
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = image.pixels[i] / 127.5f - 1;
    const std::vector<float> logits = (*model)(Tensor::from_vector(pixels, {1, 224, 224, 3})).to_vector<float>();
    const int top1 = static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    EXPECT_NE(std::find(classes.begin(), classes.end(), top1), classes.end()) << file << " -> " << top1;
  }
}

}  // namespace
}  // namespace pneuma::models
