// Our parameter and buffer names and shapes equal the reference frameworks' state_dict keys, in order, for every
// architecture the zoo mirrors: torchvision's for mobilenet_v2 (widths 0.35 … 1.4), efficientnet_b0…b7 and
// efficientnet_v2_s/m/l (and the torchvision-style efficientnet_v2_b0…b3), timm's tf_efficientnetv2_b0…b3 for the
// "timm" layout. tests/fixtures/models/state_dict_digests.txt (written by tools/make_model_reference.py
// --digest-table) holds, per model, the tensor count, the parameter count and the FNV-1a digest of the text
// "name d0,d1,…\n" per state_dict entry (num_batches_tracked left out: our BatchNorm2d has no such buffer; conv
// weights in our [out, kh, kw, in/groups] layout). On a mismatch the test writes our text next to the test binary;
// diff it with `tools/make_model_reference.py --arch A --names-only --out ref.txt`.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "models/registry.h"

namespace pneuma::models {
namespace {

std::string names_text(const nn::Module& model) {
  std::string text;
  for (const auto& [name, tensor] : model.named_tensors()) {
    text += name + " ";
    for (int axis = 0; axis < tensor.rank(); ++axis) text += (axis ? "," : "") + std::to_string(tensor.dim(axis));
    text += "\n";
  }
  return text;
}

std::string fnv1a64(const std::string& text) {
  uint64_t value = 0xcbf29ce484222325ull;
  for (unsigned char byte : text) value = (value ^ byte) * 0x100000001b3ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(value));
  return hex;
}

TEST(ModelNames, StateDictNamesAndShapesMatchTheReferences) {
  std::ifstream fixture(std::string(PNEUMA_SOURCE_DIR) + "/tests/fixtures/models/state_dict_digests.txt");
  ASSERT_TRUE(fixture) << "missing tests/fixtures/models/state_dict_digests.txt";
  std::string line;
  int rows = 0;
  while (std::getline(fixture, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    ModelConfig config;
    size_t tensors = 0;
    int64_t parameters = 0;
    std::string digest;
    fields >> config.architecture >> config.width_multiplier >> config.layout >> config.classes >> tensors >>
        parameters >> digest;
    ASSERT_FALSE(fields.fail()) << "bad fixture line: " << line;
    const auto model = create_model_uninitialized(config);
    const std::string text = names_text(*model);
    EXPECT_EQ(model->named_tensors().size(), tensors) << line;
    EXPECT_EQ(model->parameter_count(), parameters) << line;
    if (fnv1a64(text) != digest) {
      const std::string path = config.architecture + "_" + config.layout + "_names.txt";
      std::ofstream(path) << text;
      ADD_FAILURE() << line << ": names/shapes differ; ours are in " << path;
    }
    ++rows;
  }
  EXPECT_EQ(rows, 24);
}

TEST(ModelNames, TorchvisionNamesLookRight) {
  ModelConfig config;
  config.architecture = "efficientnet_v2_s";
  const auto model = create_model_uninitialized(config);
  // Spot checks a reader can verify against torchvision by eye.
  EXPECT_EQ(model->find_tensor("features.0.0.weight").shape(), (Shape{24, 3, 3, 3}));
  EXPECT_EQ(model->find_tensor("features.1.0.block.0.0.weight").shape(), (Shape{24, 3, 3, 24}));
  EXPECT_EQ(model->find_tensor("features.4.0.block.2.fc1.weight").shape(), (Shape{16, 1, 1, 256}));
  EXPECT_EQ(model->find_tensor("features.6.14.block.3.1.running_var").shape(), (Shape{256}));
  EXPECT_EQ(model->find_tensor("features.7.0.weight").shape(), (Shape{1280, 1, 1, 256}));
  EXPECT_EQ(model->find_tensor("classifier.1.weight").shape(), (Shape{1000, 1280}));
}

}  // namespace
}  // namespace pneuma::models
