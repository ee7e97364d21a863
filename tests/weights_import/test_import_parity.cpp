// Weights written by the frameworks' own writers import into our models and compute what PyTorch computes:
// tools/make_import_reference.py builds each architecture in torchvision with its own random initialisation
// (BatchNorm statistics randomised), saves it with torch.save and as a Keras-layout .h5 (h5py), and records
// PyTorch's eval logits and one training step's loss and gradients. Here the .pth goes through the PyTorch reader
// and the torchvision name map, the .h5 through the Keras reader and the Keras name map, and both must give the
// same model and PyTorch's numbers (logits: max |diff| ≤ 1e-4 · max |logit|).
//
// CI runs mobilenet_v2 (SAME padding) and efficientnet_v2_s at 64×64; every other architecture runs with
//   PNEUMA_ALL_MODELS=1 build/tests/pneuma_tests --gtest_filter='ImportParity*'
// The reference files are written into <build>/import_reference/ on first use (and again when the script changes).
// Skipped, with a message, when the python (PNEUMA_PYTHON, default /usr/bin/python3) cannot import torch and h5py.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/safetensors.h"
#include "models/registry.h"
#include "tests/weights_import/import_test_support.h"
#include "weights_import/load_weights.h"
#include "weights_import/tensor_archive.h"

namespace pneuma::weights_import {
namespace {

namespace fs = std::filesystem;

struct ParityCase {
  const char* architecture;
  const char* padding;
  bool in_ci;
};

std::string case_name(const ParityCase& c) { return std::string(c.architecture) + "_" + c.padding + "_64"; }
void PrintTo(const ParityCase& c, std::ostream* out) { *out << case_name(c); }

fs::path reference_directory() { return fs::path(PNEUMA_CLI_PATH).parent_path().parent_path() / "import_reference"; }

// Writes (or reuses) the case's .pth, .h5 and reference; returns false with a failure recorded when the script fails.
bool make_references(const ParityCase& c) {
  const fs::path script = fs::path(PNEUMA_SOURCE_DIR) / "tools" / "make_import_reference.py";
  const fs::path reference = reference_directory() / (case_name(c) + ".reference.safetensors");
  if (fs::exists(reference) && fs::last_write_time(reference) >= fs::last_write_time(script)) return true;
  fs::create_directories(reference_directory());
  const std::string command = test::python() + " " + script.string() + " parity --arch " + c.architecture +
                              " --padding " + c.padding + " --resolution 64 --classes 10 --out-dir " +
                              reference_directory().string();
  const test::CommandResult result = test::run_command(command);
  if (result.exit_code != 0) ADD_FAILURE() << "reference script failed: " << command << "\n" << result.output;
  return result.exit_code == 0;
}

double max_abs(const std::vector<float>& values) {
  double largest = 0;
  for (float v : values) largest = std::max(largest, std::abs(static_cast<double>(v)));
  return largest;
}

// max |ours − reference| ≤ relative · max |reference| + absolute; returns max |diff| / max |reference|.
double expect_close(const std::string& what, const Tensor& ours, const Tensor& reference, double relative,
                    double absolute) {
  EXPECT_EQ(ours.shape(), reference.shape()) << what;
  if (ours.shape() != reference.shape()) return INFINITY;
  const std::vector<float> a = ours.to(DType::f32).to_vector<float>(), b = reference.to_vector<float>();
  double difference = 0;
  for (size_t i = 0; i < a.size(); ++i) difference = std::max(difference, std::abs(static_cast<double>(a[i]) - b[i]));
  const double scale = max_abs(b);
  EXPECT_LE(difference, relative * scale + absolute)
      << what << ": max |diff| " << difference << ", max |ref| " << scale << " (relative " << difference / scale
      << ")";
  return difference / std::max(scale, 1e-30);
}

std::shared_ptr<models::ImageClassifier> build(const ParityCase& c) {
  models::ModelConfig config;
  config.architecture = c.architecture;
  config.padding = c.padding;
  config.classes = 10;
  config.dropout = 0;
  if (std::string(c.architecture) != "mobilenet_v2") config.drop_path_rate = 0;
  return models::create_model(config);
}

const ParityCase kCases[] = {
    {"mobilenet_v2", "same", true},
    {"efficientnet_v2_s", "symmetric", true},
    {"mobilenet_v2", "symmetric", false},
    {"efficientnet_b0", "symmetric", false},
    {"efficientnet_b1", "symmetric", false},
    {"efficientnet_b2", "symmetric", false},
    {"efficientnet_b3", "symmetric", false},
    {"efficientnet_b4", "symmetric", false},
    {"efficientnet_b5", "symmetric", false},
    {"efficientnet_b6", "symmetric", false},
    {"efficientnet_b7", "symmetric", false},
    {"efficientnet_v2_m", "symmetric", false},
    {"efficientnet_v2_l", "symmetric", false},
    {"efficientnet_v2_b0", "same", false},
    {"efficientnet_v2_b1", "symmetric", false},
    {"efficientnet_v2_b2", "symmetric", false},
    {"efficientnet_v2_b3", "same", false},
    {"efficientnet_b0", "same", false},
};

class FrameworkWeights : public testing::TestWithParam<ParityCase> {};

TEST_P(FrameworkWeights, ImportAndMatchPyTorch) {
  const ParityCase& c = GetParam();
  const char* all = std::getenv("PNEUMA_ALL_MODELS");
  if (!c.in_ci && !(all != nullptr && std::string(all) == "1"))
    GTEST_SKIP() << "set PNEUMA_ALL_MODELS=1 to run " << case_name(c);
  static const bool have_python_modules = test::python_imports("torch, torchvision, h5py");
  if (!have_python_modules)
    GTEST_SKIP() << test::python() << " cannot import torch, torchvision and h5py (scripts/install_deps.sh "
                 << "--with-torch installs them)";
  const auto start = std::chrono::steady_clock::now();
  if (!make_references(c)) return;
  const std::string base = (reference_directory() / case_name(c)).string();
  const SafetensorsFile reference = read_safetensors(base + ".reference.safetensors");

  // The .pth through the PyTorch reader and the torchvision map.
  auto model = build(c);
  const LoadReport report = load_weights(*model, read_tensor_archive(base + ".pth"), {WeightSource::torchvision});
  EXPECT_EQ(report.loaded, static_cast<int64_t>(model->named_tensors().size()));
  EXPECT_TRUE(report.missing.empty() && report.unexpected.empty());

  // The Keras .h5 of the same tensors gives the same model, bit for bit.
  auto from_keras = build(c);
  const LoadReport keras_report = load_weights(*from_keras, read_tensor_archive(base + ".h5"), {WeightSource::keras});
  EXPECT_EQ(keras_report.loaded, report.loaded);
  // Skipped: the Normalization layer Keras puts in front of EfficientNets (mean, variance, count).
  EXPECT_EQ(keras_report.ignored.size(), std::string(c.architecture) == "mobilenet_v2" ? 0u : 3u);
  const auto keras_tensors = from_keras->named_tensors();
  const auto torch_tensors = model->named_tensors();
  for (size_t i = 0; i < torch_tensors.size(); ++i)
    ASSERT_EQ(keras_tensors[i].second.to_vector<float>(), torch_tensors[i].second.to_vector<float>())
        << torch_tensors[i].first << " differs between the .pth and the .h5 import";

  const Tensor& images = reference.at("input");
  double logits_error = 0, gradient_error = 0;
  {
    NoGradGuard no_grad;
    model->eval();
    from_keras->eval();
    logits_error = expect_close("eval logits (.pth)", (*model)(images), reference.at("logits"), 1e-4, 1e-6);
    expect_close("eval logits (.h5)", (*from_keras)(images), reference.at("logits"), 1e-4, 1e-6);
  }
  model->train();
  const Tensor logits = (*model)(images);
  expect_close("train logits", logits, reference.at("train_logits"), 1e-4, 1e-6);
  const Tensor loss = cross_entropy(logits, reference.at("targets"));
  expect_close("loss", loss, reference.at("loss"), 1e-4, 1e-6);
  loss.backward();
  double largest_gradient = 0;
  for (const auto& [name, parameter] : model->named_parameters())
    largest_gradient = std::max(largest_gradient, max_abs(reference.at("grad." + name).to_vector<float>()));
  for (const auto& [name, parameter] : model->named_parameters()) {
    ASSERT_TRUE(parameter.grad().defined()) << "no gradient for " << name;
    const Tensor& expected = reference.at("grad." + name);
    const double scale = std::max(max_abs(expected.to_vector<float>()), 1e-4 * largest_gradient);
    gradient_error = std::max(gradient_error, expect_close("gradient of " + name, parameter.grad(), expected, 0,
                                                           2e-3 * scale) * max_abs(expected.to_vector<float>()) / scale);
  }
  std::printf("[ parity   ] %s: %zu tensors from .pth and .h5; eval logits max rel. error %.1e; gradients max "
              "|diff| / scale %.1e; %.1f s\n", case_name(c).c_str(), torch_tensors.size(), logits_error, gradient_error,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

INSTANTIATE_TEST_SUITE_P(ImportParity, FrameworkWeights, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<ParityCase>& info) { return case_name(info.param); });

}  // namespace
}  // namespace pneuma::weights_import
