// load_weights and the name maps without any framework: checkpoints are made here from a model's own tensors in
// the source's names and layouts (inverse transposes written out independently), then loaded into a fresh model.
// Also: the maps against names keras.applications / timm / torchvision really use, and every error and policy.
#include <gtest/gtest.h>

#include <set>

#include "models/registry.h"
#include "weights_import/load_weights.h"

namespace pneuma::weights_import {
namespace {

// Small variants keep this fast: MobileNetV2 at width 0.35 unless told otherwise (names do not depend on width).
std::shared_ptr<models::ImageClassifier> build(const std::string& architecture,
                                               const std::string& layout = "torchvision", int64_t classes = 10,
                                               uint64_t seed = 1, double width = 0.35) {
  models::ModelConfig config;
  config.architecture = architecture;
  config.layout = layout;
  config.classes = classes;
  if (architecture == "mobilenet_v2") config.width_multiplier = width;
  Generator generator(seed);
  return models::create_model(config, generator);
}

// Our layout → the source's: the inverse of each transform.
Tensor to_source_layout(const Tensor& ours, TensorTransform transform) {
  switch (transform) {
    case TensorTransform::none:
      return ours.clone();
    case TensorTransform::torch_conv:
      return ours.permute({0, 3, 1, 2}).clone();  // OHWI → OIHW
    case TensorTransform::keras_conv:
      return ours.permute({1, 2, 3, 0}).clone();  // OHWI → HWIO
    case TensorTransform::keras_depthwise:
      return ours.permute({1, 2, 0, 3}).clone();  // CHW1 → HWC1
    case TensorTransform::keras_dense:
      return ours.permute({1, 0}).clone();  // [out,in] → [in,out]
  }
  return {};
}

TensorArchive checkpoint_of(models::ImageClassifier& model, WeightSource source, const std::string& scope = "") {
  const NameMap map = build_name_map(source, ModelStructure(model));
  TensorArchive archive;
  archive.path = "synthetic";
  for (const NameMapping& entry : map.entries) {
    EXPECT_FALSE(entry.source_names.empty()) << entry.model_name << " has no source name";
    if (entry.source_names.empty()) continue;
    archive.tensors.push_back(
        {scope + entry.source_names.front(), to_source_layout(model.find_tensor(entry.model_name), entry.transform)});
  }
  return archive;
}

void expect_same_tensors(models::ImageClassifier& a, models::ImageClassifier& b, bool with_classifier = true) {
  const auto x = a.named_tensors(), y = b.named_tensors();
  ASSERT_EQ(x.size(), y.size());
  for (size_t i = 0; i < x.size(); ++i) {
    if (!with_classifier && x[i].first.rfind("classifier.", 0) == 0) continue;
    EXPECT_EQ(x[i].second.to_vector<float>(), y[i].second.to_vector<float>()) << x[i].first;
  }
}

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

struct RoundTrip {
  const char* architecture;
  const char* layout;
  std::vector<WeightSource> sources;
};

// Each architecture family and block kind (MobileNetV2 blocks; MBConv with and without expansion; Fused-MBConv
// with and without expansion) under every source that names it. Layouts "torchvision" and "keras" share names,
// so one model serves both.
TEST(ImportLoadWeights, EveryNameMapCoversEveryTensorAndRoundTrips) {
  using S = WeightSource;
  const RoundTrip cases[] = {{"mobilenet_v2", "torchvision", {S::torchvision, S::timm, S::keras, S::pneuma}},
                             {"efficientnet_b0", "torchvision", {S::torchvision, S::timm, S::keras}},
                             {"efficientnet_v2_b0", "torchvision", {S::torchvision, S::timm, S::keras}},
                             {"efficientnet_v2_b0", "timm", {S::timm, S::pneuma}}};
  for (const RoundTrip& c : cases) {
    auto model = build(c.architecture, c.layout);
    std::vector<std::vector<float>> expected;
    for (const auto& [name, tensor] : model->named_tensors()) expected.push_back(tensor.to_vector<float>());
    for (const WeightSource source : c.sources) {
      SCOPED_TRACE(std::string(c.architecture) + " " + c.layout + " from " + weight_source_name(source));
      const TensorArchive archive = checkpoint_of(*model, source);
      std::set<std::string> names;
      for (const NamedTensor& t : archive.tensors)
        EXPECT_TRUE(names.insert(t.name).second) << "source name " << t.name << " used twice";
      for (auto& [name, tensor] : model->named_tensors()) tensor.fill(0);
      const LoadReport report = load_weights(*model, archive, {source});
      EXPECT_EQ(report.loaded, static_cast<int64_t>(expected.size()));
      const auto loaded = model->named_tensors();
      for (size_t i = 0; i < loaded.size(); ++i)
        EXPECT_EQ(loaded[i].second.to_vector<float>(), expected[i]) << loaded[i].first;
    }
  }
}

TEST(ImportLoadWeights, MapsUseTheSourcesRealNames) {
  auto source_of = [](models::ImageClassifier& model, WeightSource source, const std::string& ours) {
    for (const NameMapping& e : build_name_map(source, ModelStructure(model)).entries)
      if (e.model_name == ours) return e.source_names;
    return std::vector<std::string>{};
  };
  using V = std::vector<std::string>;
  auto mobilenet = build("mobilenet_v2", "keras");
  EXPECT_EQ(source_of(*mobilenet, WeightSource::keras, "features.0.0.weight"), V{"Conv1/kernel"});
  EXPECT_EQ(source_of(*mobilenet, WeightSource::keras, "features.0.1.running_var"), V{"bn_Conv1/moving_variance"});
  EXPECT_EQ(source_of(*mobilenet, WeightSource::keras, "features.1.conv.0.0.weight"),
            V{"expanded_conv_depthwise/depthwise_kernel"});
  EXPECT_EQ(source_of(*mobilenet, WeightSource::keras, "features.1.conv.2.weight"),
            V{"expanded_conv_project_BN/gamma"});
  EXPECT_EQ(source_of(*mobilenet, WeightSource::keras, "features.2.conv.0.0.weight"), V{"block_1_expand/kernel"});
  EXPECT_EQ(source_of(*mobilenet, WeightSource::keras, "features.2.conv.0.1.bias"), V{"block_1_expand_BN/beta"});
  EXPECT_EQ(source_of(*mobilenet, WeightSource::keras, "features.17.conv.2.weight"), V{"block_16_project/kernel"});
  EXPECT_EQ(source_of(*mobilenet, WeightSource::keras, "features.18.1.running_mean"), V{"Conv_1_bn/moving_mean"});
  EXPECT_EQ(source_of(*mobilenet, WeightSource::keras, "classifier.1.weight"), V{"predictions/kernel"});
  EXPECT_EQ(source_of(*mobilenet, WeightSource::timm, "features.1.conv.0.0.weight"), V{"blocks.0.0.conv_dw.weight"});
  EXPECT_EQ(source_of(*mobilenet, WeightSource::timm, "features.3.conv.2.weight"), V{"blocks.1.1.conv_pwl.weight"});
  EXPECT_EQ(source_of(*mobilenet, WeightSource::timm, "features.17.conv.3.running_var"),
            V{"blocks.6.0.bn3.running_var"});
  EXPECT_EQ(source_of(*mobilenet, WeightSource::timm, "features.18.0.weight"), V{"conv_head.weight"});
  EXPECT_EQ(source_of(*mobilenet, WeightSource::timm, "classifier.1.bias"), V{"classifier.bias"});

  auto b0 = build("efficientnet_b0", "keras");
  EXPECT_EQ(source_of(*b0, WeightSource::keras, "features.0.1.weight"), V{"stem_bn/gamma"});
  EXPECT_EQ(source_of(*b0, WeightSource::keras, "features.1.0.block.0.0.weight"),
            (V{"block1a_dwconv2/depthwise_kernel", "block1a_dwconv/depthwise_kernel"}));
  EXPECT_EQ(source_of(*b0, WeightSource::keras, "features.1.0.block.1.fc1.bias"), V{"block1a_se_reduce/bias"});
  EXPECT_EQ(source_of(*b0, WeightSource::keras, "features.2.1.block.0.0.weight"), V{"block2b_expand_conv/kernel"});
  EXPECT_EQ(source_of(*b0, WeightSource::keras, "features.2.1.block.3.1.weight"), V{"block2b_project_bn/gamma"});
  EXPECT_EQ(source_of(*b0, WeightSource::keras, "features.8.0.weight"), V{"top_conv/kernel"});
  EXPECT_EQ(source_of(*b0, WeightSource::timm, "features.1.0.block.2.0.weight"), V{"blocks.0.0.conv_pw.weight"});
  EXPECT_EQ(source_of(*b0, WeightSource::timm, "features.6.3.block.2.fc2.weight"),
            V{"blocks.5.3.se.conv_expand.weight"});

  auto v2 = build("efficientnet_v2_b0", "keras");
  EXPECT_EQ(source_of(*v2, WeightSource::keras, "features.1.0.block.0.0.weight"), V{"block1a_project_conv/kernel"});
  EXPECT_EQ(source_of(*v2, WeightSource::keras, "features.2.1.block.1.1.running_var"),
            V{"block2b_project_bn/moving_variance"});
  EXPECT_EQ(source_of(*v2, WeightSource::keras, "features.4.2.block.1.0.weight"),
            (V{"block4c_dwconv2/depthwise_kernel", "block4c_dwconv/depthwise_kernel"}));
  EXPECT_EQ(source_of(*v2, WeightSource::timm, "features.2.0.block.0.0.weight"), V{"blocks.1.0.conv_exp.weight"});
  EXPECT_EQ(source_of(*v2, WeightSource::timm, "features.1.0.block.0.1.bias"), V{"blocks.0.0.bn1.bias"});
}

TEST(ImportLoadWeights, OneErrorListsEveryProblemAndChangesNothing) {
  auto original = build("mobilenet_v2", "torchvision", 10, 1);
  TensorArchive archive = checkpoint_of(*original, WeightSource::torchvision);
  auto find = [&](const std::string& name) -> Tensor& {
    for (NamedTensor& t : archive.tensors)
      if (t.name == name) return t.tensor;
    throw std::runtime_error("no " + name);
  };
  find("features.1.conv.0.0.weight") = Tensor::zeros({16, 3, 3, 2});
  archive.tensors.erase(archive.tensors.begin() + 3);  // features.0.1.running_mean
  archive.tensors.push_back({"features.99.weight", Tensor::zeros({2})});
  archive.tensors.push_back({"features.0.1.num_batches_tracked", Tensor::zeros({}, DType::i64)});  // ignored
  auto fresh = build("mobilenet_v2", "torchvision", 10, 2);
  auto untouched = build("mobilenet_v2", "torchvision", 10, 2);
  const std::string message = error_of([&] { load_weights(*fresh, archive, {WeightSource::torchvision}); });
  EXPECT_NE(message.find("missing from the checkpoint (1): features.0.1.running_mean"), std::string::npos) << message;
  EXPECT_NE(message.find("unexpected in the checkpoint (1): features.99.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("wrong shape (1): features.1.conv.0.0.weight ← 'features.1.conv.0.0.weight': checkpoint "
                         "[16, 3, 3, 2] (OIHW→OHWI [16, 3, 2, 3]), model [16, 3, 3, 1]"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find("num_batches_tracked"), std::string::npos) << message;
  expect_same_tensors(*fresh, *untouched);

  // Not strict: missing and unexpected are reported, wrong shapes still fail.
  find("features.1.conv.0.0.weight") =
      to_source_layout(original->find_tensor("features.1.conv.0.0.weight"), TensorTransform::torch_conv);
  const LoadReport report =
      load_weights(*fresh, archive, {WeightSource::torchvision, ClassifierMismatch::error, false});
  EXPECT_EQ(report.missing, std::vector<std::string>{"features.0.1.running_mean (as 'features.0.1.running_mean')"});
  EXPECT_EQ(report.unexpected, std::vector<std::string>{"features.99.weight"});
  EXPECT_EQ(report.ignored, std::vector<std::string>{"features.0.1.num_batches_tracked"});
  EXPECT_EQ(report.loaded, static_cast<int64_t>(original->named_tensors().size()) - 1);
}

TEST(ImportLoadWeights, ClassifierPolicies) {
  auto imagenet = build("mobilenet_v2", "keras", 1000, 1);
  const TensorArchive archive = checkpoint_of(*imagenet, WeightSource::keras);
  auto three = build("mobilenet_v2", "keras", 3, 2);
  const std::string message = error_of([&] { load_weights(*three, archive, {WeightSource::keras}); });
  EXPECT_NE(message.find("classifier of another shape (2)"), std::string::npos) << message;
  EXPECT_NE(message.find("classifier_mismatch drop / reinit"), std::string::npos) << message;
  EXPECT_EQ(message.find("different architecture"), std::string::npos) << message;

  const Tensor head_before = three->find_tensor("classifier.1.weight").clone();
  const LoadReport dropped = load_weights(*three, archive, {WeightSource::keras, ClassifierMismatch::drop});
  EXPECT_EQ(dropped.classifier_kept, (std::vector<std::string>{"classifier.1.weight", "classifier.1.bias"}));
  EXPECT_EQ(three->find_tensor("classifier.1.weight").to_vector<float>(), head_before.to_vector<float>());
  expect_same_tensors(*imagenet, *three, false);

  // reinit: even a classifier that fits is not loaded.
  auto same_classes = build("mobilenet_v2", "keras", 1000, 3);
  const Tensor own_head = same_classes->find_tensor("classifier.1.bias").clone();
  const LoadReport reinit = load_weights(*same_classes, archive, {WeightSource::keras, ClassifierMismatch::reinit});
  EXPECT_EQ(reinit.classifier_kept.size(), 2u);
  EXPECT_EQ(reinit.classifier_unused, (std::vector<std::string>{"predictions/kernel", "predictions/bias"}));
  EXPECT_EQ(same_classes->find_tensor("classifier.1.bias").to_vector<float>(), own_head.to_vector<float>());
  expect_same_tensors(*imagenet, *same_classes, false);
}

TEST(ImportLoadWeights, WrongArchitectureIsNamedAsSuch) {
  auto mobilenet = build("mobilenet_v2");
  auto efficientnet = build("efficientnet_b0");
  const std::string message = error_of([&] {
    load_weights(*efficientnet, checkpoint_of(*mobilenet, WeightSource::torchvision), {WeightSource::torchvision});
  });
  EXPECT_NE(message.find("torchvision checkpoint synthetic does not fit efficientnet_b0 — it holds a different "
                         "architecture"),
            std::string::npos)
      << message.substr(0, 400);
  auto wider = build("mobilenet_v2", "torchvision", 10, 1, 0.5);
  const std::string width = error_of(
      [&] { load_weights(*wider, checkpoint_of(*mobilenet, WeightSource::torchvision), {WeightSource::torchvision}); });
  EXPECT_NE(width.find("different architecture (or width, depth or layout)"), std::string::npos)
      << width.substr(0, 400);
  EXPECT_NE(width.find("wrong shape ("), std::string::npos) << width.substr(0, 400);
}

TEST(ImportLoadWeights, KerasNamesMatchUnderAnOuterModelScopeAndConvertDtypes) {
  auto original = build("mobilenet_v2", "keras", 10, 1);
  TensorArchive archive = checkpoint_of(*original, WeightSource::keras, "mobilenetv2_1.00_224/");
  for (NamedTensor& t : archive.tensors)
    if (t.name.find("_BN/") != std::string::npos) t.tensor = t.tensor.to(DType::f64);
  auto fresh = build("mobilenet_v2", "keras", 10, 2);
  EXPECT_EQ(load_weights(*fresh, archive, {WeightSource::keras}).loaded,
            static_cast<int64_t>(original->named_tensors().size()));
  expect_same_tensors(*original, *fresh);
  EXPECT_EQ(fresh->find_tensor("features.2.conv.0.1.weight").dtype(), DType::f32);
}

TEST(ImportLoadWeights, SourcesThatCannotFillALayoutSaySo) {
  auto timm_layout = build("efficientnet_v2_b0", "timm");
  const std::string torchvision =
      error_of([&] { build_name_map(WeightSource::torchvision, ModelStructure(*timm_layout)); });
  EXPECT_NE(torchvision.find("torchvision has no such model"), std::string::npos) << torchvision;
  const std::string keras = error_of([&] { build_name_map(WeightSource::keras, ModelStructure(*timm_layout)); });
  EXPECT_NE(keras.find("Keras weights load into layout \"keras\""), std::string::npos) << keras;
  EXPECT_EQ(classifier_mismatch_from_name("reinit"), ClassifierMismatch::reinit);
  EXPECT_NE(error_of([] { classifier_mismatch_from_name("ignore"); }).find("error, drop or reinit"), std::string::npos);
  EXPECT_NE(error_of([] { weight_source_from_name("caffe"); }).find("torchvision, timm, keras or pneuma"),
            std::string::npos);
}

}  // namespace
}  // namespace pneuma::weights_import
