// The gradient checker itself: it must accept a correct backward and reject wrong, missing or non-deterministic ones,
// naming the worst element.
#include <gtest/gtest.h>

#include <string>

#include "engine/ops.h"
#include "tests/support/gradcheck.h"

namespace pneuma {
namespace {

using testing::gradcheck;
using testing::random_leaf;

// y = x³ elementwise, recorded with a backward of factor · 3x² (factor 1 is correct).
Tensor cube(const Tensor& x, double factor, bool produce_gradient = true) {
  Tensor output = x * x * x;
  output = output.detach();
  const Tensor saved = x.detach();
  return record_operation("cube", output, {x},
                          [saved, factor, produce_gradient](const Tensor& grad_output, const std::vector<bool>&) {
                            if (!produce_gradient) return std::vector<Tensor>{Tensor()};
                            NoGradGuard no_grad;
                            return std::vector<Tensor>{grad_output * saved * saved * (3.0 * factor)};
                          });
}

TEST(GradcheckChecker, AcceptsACorrectBackward) {
  Generator generator(1);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return cube(x[0], 1.0); }, {random_leaf({3, 5}, generator)}));
}

TEST(GradcheckChecker, RejectsAWrongBackwardAndNamesTheWorstElement) {
  Generator generator(2);
  const ::testing::AssertionResult result =
      gradcheck([](const std::vector<Tensor>& x) { return cube(x[0], 1.001); }, {random_leaf({3, 5}, generator)});
  ASSERT_FALSE(result);
  const std::string message = result.message();
  EXPECT_NE(message.find("worst: input 0 [3, 5] element ["), std::string::npos) << message;
  EXPECT_NE(message.find("analytic"), std::string::npos) << message;
}

TEST(GradcheckChecker, RejectsAMissingGradient) {
  Generator generator(3);
  const ::testing::AssertionResult result = gradcheck(
      [](const std::vector<Tensor>& x) { return cube(x[0], 1.0, false); }, {random_leaf({4}, generator, 0.5, 1)});
  ASSERT_FALSE(result);
  EXPECT_NE(std::string(result.message()).find("no gradient was produced"), std::string::npos) << result.message();
}

TEST(GradcheckChecker, RejectsANonDeterministicFunction) {
  Generator generator(4);
  Generator shared(5);  // reused across calls: each evaluation draws a different mask
  const ::testing::AssertionResult result = gradcheck(
      [&shared](const std::vector<Tensor>& x) { return dropout(x[0], 0.5, true, shared); },
      {random_leaf({64}, generator)});
  ASSERT_FALSE(result);
  EXPECT_NE(std::string(result.message()).find("not deterministic"), std::string::npos) << result.message();
}

TEST(GradcheckChecker, NeedsAnInputThatRequiresGrad) {
  Generator generator(6);
  EXPECT_FALSE(gradcheck([](const std::vector<Tensor>& x) { return relu(x[0]); },
                         {testing::random_constant({3}, generator)}));
}

}  // namespace
}  // namespace pneuma
