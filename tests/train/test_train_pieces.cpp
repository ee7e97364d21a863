// The trainer's parts on their own: the loss choice by head width, early-stopping patience, the weight EMA
// formula, reproducible batch orders, the history round trip and the duration format.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/ops.h"
#include "engine/train/early_stopping.h"
#include "engine/train/history.h"
#include "engine/train/loss.h"
#include "engine/train/optimizer_factory.h"
#include "engine/train/predict.h"
#include "engine/train/progress.h"
#include "engine/train/tensor_batch_source.h"
#include "engine/train/weight_ema.h"
#include "engine/nn/linear.h"

namespace pneuma::train {
namespace {

Tensor labels_of(std::vector<int32_t> values) {
  return Tensor::from_vector(values, {static_cast<int64_t>(values.size())});
}

TEST(TrainLoss, OneOutputHeadIsBinaryCrossEntropyWithLogits) {
  const Tensor logits = Tensor::from_vector(std::vector<float>{-1.5f, 0.3f, 2.0f, -0.2f}, {4, 1});
  const Tensor labels = labels_of({0, 1, 1, 0});
  double expected = 0;
  const float z[] = {-1.5f, 0.3f, 2.0f, -0.2f};
  const int y[] = {0, 1, 1, 0};
  for (int i = 0; i < 4; ++i) {
    const double p = 1 / (1 + std::exp(-z[i]));
    expected -= (y[i] ? std::log(p) : std::log(1 - p)) / 4;
  }
  EXPECT_NEAR(compute_loss(logits, labels, {}).item(), expected, 1e-6);

  // Class weights: PyTorch's weighted mean Σ w_y·l / Σ w_y through the (0, z) logit pair.
  LossOptions weighted;
  weighted.class_weights = {1.0, 3.0};
  double numerator = 0, denominator = 0;
  for (int i = 0; i < 4; ++i) {
    const double p = 1 / (1 + std::exp(-z[i]));
    const double w = y[i] ? 3.0 : 1.0;
    numerator -= w * (y[i] ? std::log(p) : std::log(1 - p));
    denominator += w;
  }
  EXPECT_NEAR(compute_loss(logits, labels, weighted).item(), numerator / denominator, 1e-6);

  // Smoothing moves the targets to y(1 − s) + s/2.
  LossOptions smoothed;
  smoothed.label_smoothing = 0.2;
  double smooth_expected = 0;
  for (int i = 0; i < 4; ++i) {
    const double p = 1 / (1 + std::exp(-z[i])), t = y[i] * 0.8 + 0.1;
    smooth_expected -= (t * std::log(p) + (1 - t) * std::log(1 - p)) / 4;
  }
  EXPECT_NEAR(compute_loss(logits, labels, smoothed).item(), smooth_expected, 1e-6);
}

TEST(TrainLoss, FocalAndCrossEntropyFollowTheHead) {
  const Tensor logits = Tensor::from_vector(std::vector<float>{2, 0.5f, -1, 0, 1, 3}, {2, 3});
  const Tensor labels = labels_of({0, 2});
  EXPECT_NEAR(compute_loss(logits, labels, {}).item(), cross_entropy(logits, labels).item(), 1e-7);
  LossOptions focal;
  focal.kind = LossKind::focal;
  focal.focal_gamma = 2;
  EXPECT_NEAR(compute_loss(logits, labels, focal).item(), focal_loss(logits, labels, Tensor(), 2).item(), 1e-7);
  const Tensor binary = Tensor::from_vector(std::vector<float>{0.7f, -2}, {2, 1});
  const Tensor targets = Tensor::from_vector(std::vector<float>{1, 0}, {2, 1});
  EXPECT_NEAR(compute_loss(binary, labels_of({1, 0}), focal).item(),
              binary_focal_loss(binary, targets, 0.25, 2).item(), 1e-7);
  EXPECT_THROW(compute_loss(binary, labels_of({1, 2}), {}), Error);  // label 2 for a sigmoid head
  EXPECT_EQ(parse_loss_kind("bce"), LossKind::cross_entropy);
  EXPECT_THROW(parse_loss_kind("hinge"), Error);
}

TEST(TrainLoss, PredictedClassesTieToTheLowestIndex) {
  EXPECT_EQ(predicted_classes(Tensor::from_vector(std::vector<float>{0.5f, 0.51f, 0.2f}, {3, 1})),
            (std::vector<int32_t>{0, 1, 0}));
  EXPECT_EQ(predicted_classes(Tensor::from_vector(std::vector<float>{0.4f, 0.4f, 0.2f, 0.1f, 0.2f, 0.7f}, {2, 3})),
            (std::vector<int32_t>{0, 2}));
}

TEST(EarlyStopping, CountsEpochsWithoutImprovementLikeKeras) {
  EarlyStoppingOptions options;
  options.enabled = true;
  options.patience = 2;
  options.min_delta = 0.1;
  EarlyStopping stopping(options);
  EXPECT_FALSE(stopping.update(1.0));
  EXPECT_FALSE(stopping.update(0.95));  // not better by min_delta
  EXPECT_EQ(stopping.wait(), 1);
  EXPECT_FALSE(stopping.update(0.8));  // better: wait resets
  EXPECT_EQ(stopping.wait(), 0);
  EXPECT_FALSE(stopping.update(0.9));
  EXPECT_TRUE(stopping.update(0.75));  // 0.75 > 0.8 - 0.1: the second epoch without improvement
  EarlyStopping restored(options);
  restored.import_state(stopping.export_state());
  EXPECT_EQ(restored.wait(), 2);
  EXPECT_DOUBLE_EQ(restored.best(), 0.8);

  options.mode = MetricMode::max;
  options.min_delta = 0;
  EarlyStopping accuracy(options);
  accuracy.update(0.5);
  EXPECT_TRUE(accuracy.is_improvement(0.6));
  EXPECT_FALSE(accuracy.is_improvement(0.5));
}

TEST(WeightEma, AveragesWithTheWarmupDecay) {
  Generator generator(3);
  nn::Linear layer(2, 1, true, generator);
  const std::vector<float> start = layer.weight().to_vector<float>();
  WeightEma ema(layer, 0.5);
  layer.weight().fill(1.0);
  ema.update(layer);  // d = min(0.5, 1/10) = 0.1
  std::vector<float> average = ema.averages()[0].second.to_vector<float>();
  EXPECT_NEAR(average[0], 0.1 * start[0] + 0.9, 1e-6);
  ema.update(layer);  // d = min(0.5, 2/11)
  average = ema.averages()[0].second.to_vector<float>();
  const double d = 2.0 / 11;
  EXPECT_NEAR(average[1], d * (0.1 * start[1] + 0.9) + (1 - d), 1e-6);
  ema.swap_with(layer);
  EXPECT_NEAR(layer.weight().to_vector<float>()[1], average[1], 1e-7);
  ema.swap_with(layer);
  EXPECT_EQ(layer.weight().to_vector<float>()[1], 1.0f);
}

TEST(TensorBatchSource, EpochOrderDependsOnlyOnSeedAndEpoch) {
  EXPECT_EQ(epoch_order(10, 3, 4, true), epoch_order(10, 3, 4, true));
  EXPECT_NE(epoch_order(10, 3, 4, true), epoch_order(10, 3, 5, true));
  std::vector<int64_t> sorted = epoch_order(10, 3, 4, true);
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, epoch_order(10, 0, 0, false));

  Generator generator(1);
  const Tensor images = Tensor::normal({7, 2, 2, 1}, 0, 1, generator);
  TensorBatchSourceOptions options;
  options.batch_size = 3;
  TensorBatchSource source(images, labels_of({0, 1, 0, 1, 0, 1, 0}), options);
  EXPECT_EQ(source.batches_per_epoch(), 3);
  std::vector<std::vector<int64_t>> full;
  TrainBatch batch;
  source.start_epoch(2, 0);
  while (source.next(batch)) full.push_back(batch.sample_indices);
  ASSERT_EQ(full.size(), 3u);
  EXPECT_EQ(full[2].size(), 1u);
  source.start_epoch(2, 1);
  ASSERT_TRUE(source.next(batch));
  EXPECT_EQ(batch.sample_indices, full[1]);
}

TEST(TrainPredict, FlipMirrorsEachRow) {
  const Tensor images = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {1, 1, 3, 2});
  EXPECT_EQ(flip_horizontally(images).to_vector<float>(), (std::vector<float>{5, 6, 3, 4, 1, 2}));
}

TEST(TrainHistory, RoundTripsThroughJsonWithMissingValues) {
  History history;
  EpochRecord record;
  record.epoch = 1;
  record.phase = "frozen";
  record.train_loss = 0.5;
  record.val_loss = std::nan("");
  record.best = true;
  history.epochs.push_back(record);
  const History back = History::from_json(nlohmann::json::parse(history.to_json().dump()));
  ASSERT_EQ(back.epochs.size(), 1u);
  EXPECT_EQ(back.epochs[0].phase, "frozen");
  EXPECT_TRUE(std::isnan(back.epochs[0].val_loss));
  EXPECT_TRUE(back.epochs[0].best);
  EXPECT_NE(history.to_csv().find("\n1,frozen,0,0.5,0,,"), std::string::npos) << history.to_csv();
}

TEST(TrainSchedule, EpochDurationsBecomeSteps) {
  ScheduleSettings step;
  step.kind = "step";
  step.step_epochs = 2;
  step.gamma = 0.5;
  const auto per_step = make_schedule(step, 1.0, 10, 6);
  EXPECT_DOUBLE_EQ(per_step->learning_rate(19), 1.0);
  EXPECT_DOUBLE_EQ(per_step->learning_rate(20), 0.5);
  step.per_epoch = true;
  EXPECT_DOUBLE_EQ(make_schedule(step, 1.0, 10, 6)->learning_rate(2), 0.5);
  ScheduleSettings bad;
  bad.kind = "linear";
  EXPECT_THROW(validate(bad), Error);
  EXPECT_EQ(format_duration(42), "42s");
  EXPECT_EQ(format_duration(252), "4m12s");
  EXPECT_EQ(format_duration(3 * 3600 + 120), "3h02m");
}

}  // namespace
}  // namespace pneuma::train
