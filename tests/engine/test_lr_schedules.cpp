// engine/optim learning-rate schedules against PyTorch 1.13 (tests/fixtures/optim_reference.json, written by
// tools/make_optim_reference.py): StepLR, LinearLR warmup + CosineAnnealingLR through SequentialLR, plain
// CosineAnnealingLR, and ReduceLROnPlateau (min/relative with cooldown and min_lr, max/absolute, eps), plus
// ReduceLrOnPlateau's state round trip.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/optim/lr_schedule.h"
#include "engine/optim/reduce_lr_on_plateau.h"
#include "kernels/error.h"

namespace pneuma {
namespace {

using nlohmann::json;

const json& schedules() {
  static const json data = [] {
    std::ifstream file(PNEUMA_SOURCE_DIR "/tests/fixtures/optim_reference.json");
    if (!file) throw std::runtime_error("cannot open tests/fixtures/optim_reference.json");
    return json::parse(file)["schedules"];
  }();
  return data;
}

void expect_rates(const optim::LrSchedule& schedule, const json& expected) {
  SCOPED_TRACE(schedule.describe());
  for (size_t step = 0; step < expected.size(); ++step) {
    const double reference = expected[step];
    EXPECT_NEAR(schedule.learning_rate(static_cast<int64_t>(step)), reference, 1e-12 + 1e-9 * std::abs(reference))
        << "step " << step;
  }
}

optim::ReduceLrOnPlateau make_plateau(const json& config) {
  const json& o = config["options"];
  optim::ReduceLrOnPlateauOptions options;
  options.mode = o["mode"] == "min" ? optim::ReduceLrOnPlateauOptions::Mode::min
                                    : optim::ReduceLrOnPlateauOptions::Mode::max;
  options.factor = o["factor"];
  options.patience = o["patience"];
  options.threshold = o["threshold"];
  options.threshold_mode = o["threshold_mode"] == "rel" ? optim::ReduceLrOnPlateauOptions::ThresholdMode::relative
                                                         : optim::ReduceLrOnPlateauOptions::ThresholdMode::absolute;
  options.cooldown = o["cooldown"];
  options.min_lr = o["min_lr"];
  options.eps = o["eps"];
  return optim::ReduceLrOnPlateau(config["base_lr"].get<double>(), options);
}

TEST(LrSchedule, StepMatchesPyTorch) {
  const json& s = schedules()["step"];
  expect_rates(optim::StepLr(s["base_lr"], s["step_size"], s["gamma"]), s["rates"]);
}

TEST(LrSchedule, WarmupCosineMatchesPyTorchsSequentialLr) {
  for (const char* name : {"warmup_cosine", "cosine"}) {
    const json& s = schedules()[name];
    expect_rates(optim::WarmupCosineLr(s["base_lr"], s["total_steps"], s["warmup_steps"], s["warmup_start_factor"],
                                       s["min_lr"]),
                 s["rates"]);
  }
}

TEST(LrSchedule, WarmupCosineEndpointsAndClamping) {
  const optim::WarmupCosineLr schedule(0.4, 100, 10, 0.0, 0.01);
  EXPECT_DOUBLE_EQ(schedule(0), 0.0);
  EXPECT_DOUBLE_EQ(schedule(5), 0.2);
  EXPECT_DOUBLE_EQ(schedule(10), 0.4);
  EXPECT_NEAR(schedule(55), 0.01 + 0.39 / 2, 1e-15);
  EXPECT_DOUBLE_EQ(schedule(100), 0.01);
  EXPECT_DOUBLE_EQ(schedule(1000), 0.01);  // stays at the minimum after the end
  for (int64_t step = 11; step < 100; ++step) EXPECT_LT(schedule(step), schedule(step - 1));
  EXPECT_THROW(optim::WarmupCosineLr(0.1, 10, 10), Error);
  EXPECT_THROW(optim::WarmupCosineLr(0.1, 10, 2, 0.5, 0.2), Error);
}

TEST(LrSchedule, ConstantAndStepBasics) {
  const optim::ConstantLr constant(0.03);
  EXPECT_EQ(constant(0), 0.03);
  EXPECT_EQ(constant(123456), 0.03);
  const optim::StepLr step(1.0, 10);
  EXPECT_DOUBLE_EQ(step(9), 1.0);
  EXPECT_DOUBLE_EQ(step(10), 0.1);
  EXPECT_NEAR(step(25), 0.01, 1e-15);
  EXPECT_THROW(optim::StepLr(1.0, 0), Error);
}

TEST(LrSchedule, ReduceOnPlateauMatchesPyTorch) {
  for (const json& config : schedules()["plateau"]) {
    SCOPED_TRACE(config["name"].get<std::string>());
    optim::ReduceLrOnPlateau plateau = make_plateau(config);
    const json& metrics = config["metrics"];
    for (size_t i = 0; i < metrics.size(); ++i) {
      const double expected = config["rates"][i];
      EXPECT_NEAR(plateau.step(metrics[i]), expected, 1e-15 + 1e-12 * expected) << "evaluation " << i;
    }
    EXPECT_EQ(plateau.evaluations(), static_cast<int64_t>(metrics.size()));
  }
}

TEST(LrSchedule, ReduceOnPlateauStateRoundTripContinuesIdentically) {
  for (const json& config : schedules()["plateau"]) {
    SCOPED_TRACE(config["name"].get<std::string>());
    const json& metrics = config["metrics"];
    const size_t half = metrics.size() / 2;
    optim::ReduceLrOnPlateau original = make_plateau(config);
    for (size_t i = 0; i < half; ++i) original.step(metrics[i]);
    const std::map<std::string, double> state = original.export_state();
    for (const auto& [key, value] : state) EXPECT_TRUE(std::isfinite(value)) << key;
    optim::ReduceLrOnPlateau resumed = make_plateau(config);
    resumed.import_state(state);
    for (size_t i = half; i < metrics.size(); ++i)
      EXPECT_EQ(resumed.step(metrics[i]), original.step(metrics[i])) << "evaluation " << i;
    EXPECT_EQ(resumed.best(), original.best());
    EXPECT_EQ(resumed.cooldown_counter(), original.cooldown_counter());
  }
  optim::ReduceLrOnPlateau plateau(0.1);
  EXPECT_FALSE(plateau.has_best());
  EXPECT_THROW(plateau.import_state({{"learning_rate", 0.1}}), Error);
}

TEST(LrSchedule, ReduceOnPlateauNanIsNeverAnImprovement) {
  optim::ReduceLrOnPlateauOptions options;
  options.patience = 0;
  optim::ReduceLrOnPlateau plateau(1.0, options);
  plateau.step(1.0);
  EXPECT_DOUBLE_EQ(plateau.step(NAN), 0.1);
  EXPECT_EQ(plateau.best(), 1.0);
  EXPECT_THROW(optim::ReduceLrOnPlateau(0.1, optim::ReduceLrOnPlateauOptions{.factor = 1.0}), Error);
}

}  // namespace
}  // namespace pneuma
