// Head specs (models/head_spec.h): the studies' heads parse and build with the documented structure and sizes,
// create_model uses them, and every kind of mistake is one error naming the character.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/nn/dropout.h"
#include "models/blocks/dense.h"
#include "models/head_spec.h"
#include "models/registry.h"

namespace pneuma::models {
namespace {

const char* const study1 = "dropout(0.2)-dense(1024,relu)-dense";
const char* const study4 = "dropout(0.2)-dense(512,relu)-dropout(0.2)-dense(64,relu)-dropout(0.2)-dense(32,relu)-dense";

TEST(HeadSpec, ParsesTheStudiesHeads) {
  const auto layers = parse_head_spec(study1);
  ASSERT_EQ(layers.size(), 3u);
  EXPECT_EQ(layers[0].kind, HeadLayerSpec::Kind::dropout);
  EXPECT_DOUBLE_EQ(layers[0].rate, 0.2);
  EXPECT_EQ(layers[1].kind, HeadLayerSpec::Kind::dense);
  EXPECT_EQ(layers[1].units, 1024);
  EXPECT_EQ(layers[1].activation, kernels::Activation::relu);
  EXPECT_EQ(layers[2].units, -1);
  EXPECT_EQ(layers[2].activation, kernels::Activation::identity);
  EXPECT_EQ(parse_head_spec(study4).size(), 7u);
  const auto spaced = parse_head_spec(" dense( 16 , swish ) - dropout( 0.5 ) - dense ");
  ASSERT_EQ(spaced.size(), 3u);
  EXPECT_EQ(spaced[0].activation, kernels::Activation::silu);
  EXPECT_DOUBLE_EQ(spaced[1].rate, 0.5);
}

TEST(HeadSpec, BuildsOneChildPerLayer) {
  const auto head = build_head(study4, 1280, 1);
  ASSERT_EQ(head->size(), 7u);
  EXPECT_EQ(head->at<nn::Dropout>(0)->p(), 0.2);
  const auto first = head->at<Dense>(1);
  EXPECT_EQ(first->weight().shape(), (Shape{512, 1280}));
  EXPECT_EQ(first->activation(), kernels::Activation::relu);
  EXPECT_EQ(head->at<nn::Dropout>(2)->p(), 0.2);
  EXPECT_EQ(head->at<Dense>(3)->weight().shape(), (Shape{64, 512}));
  EXPECT_EQ(head->at<Dense>(5)->weight().shape(), (Shape{32, 64}));
  const auto output = head->at<Dense>(6);
  EXPECT_EQ(output->weight().shape(), (Shape{1, 32}));
  EXPECT_EQ(output->activation(), kernels::Activation::identity);
  // glorot_uniform: |w| ≤ √(6 / (in + out)), biases zero.
  const double bound = std::sqrt(6.0 / (1280 + 512));
  for (float w : first->weight().to_vector<float>()) ASSERT_LE(std::abs(w), bound);
  for (float b : first->bias().to_vector<float>()) ASSERT_EQ(b, 0.0f);
}

TEST(HeadSpec, CreateModelUsesTheHead) {
  ModelConfig config;
  config.architecture = "mobilenet_v2";
  config.classes = 3;
  config.head = study1;
  auto model = create_model(config);
  EXPECT_EQ(model->head().parameter_count(), 1280 * 1024 + 1024 + 1024 * 3 + 3);
  EXPECT_EQ(model->find_tensor("classifier.1.weight").shape(), (Shape{1024, 1280}));
  EXPECT_EQ(model->find_tensor("classifier.2.weight").shape(), (Shape{3, 1024}));
  model->eval();
  NoGradGuard no_grad;
  EXPECT_EQ((*model)(Tensor::zeros({2, 32, 32, 3})).shape(), (Shape{2, 3}));
}

void expect_spec_error(const std::string& spec, const std::string& fragment) {
  try {
    parse_head_spec(spec);
    ADD_FAILURE() << "no error for '" << spec << "'";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << spec << " -> " << error.what();
  }
}

TEST(HeadSpec, ErrorsPointAtTheCharacter) {
  expect_spec_error("dropout(0.2)-dens(3)-dense",
                    "character 14: unknown layer \"dens\" (expected dropout or dense): dropout(0.2)-<HERE>dens(3)");
  expect_spec_error("", "character 1: the spec is empty");
  expect_spec_error("dropout(1.5)-dense", "character 9: the dropout rate must be in [0, 1)");
  expect_spec_error("dense(12.5)-dense", "character 7: dense units must be a positive integer");
  expect_spec_error("dense(0)-dense", "character 7: dense units must be a positive integer");
  expect_spec_error("dense(8,mish)-dense", "character 9: unknown activation \"mish\"");
  expect_spec_error("dense(8,relu-dense", "character 13: expected \")\" closing dense(");
  expect_spec_error("dropout(0.2)", "character 13: the spec must end with the output layer \"dense\"");
  expect_spec_error("dense(8)", "the spec must end with the output layer");
  expect_spec_error("dense-dense", "character 1: the bare \"dense\" (the output layer) must be the last layer");
  expect_spec_error("dense dense", "character 7: expected \"-\" between layers");
  expect_spec_error("dropout0.2)-dense", "character 8: expected \"(\" after dropout");
  expect_spec_error("dropout()-dense", "character 9: expected a number");
  expect_spec_error("dense-", "character 7: expected a layer (dropout or dense)");
}

}  // namespace
}  // namespace pneuma::models
