// The training loop on a tiny model and an in-memory image set: it learns, writes its history and checkpoints,
// resumes bit-exactly from a crash at any batch (two phases, EMA, plateau, early stopping and clipping on), stops
// on a non-finite loss keeping the last good checkpoint, and leaves frozen weights alone.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/ops.h"
#include "engine/safetensors.h"
#include "engine/train/tensor_batch_source.h"
#include "engine/train/trainer.h"
#include "train_test_support.h"

namespace pneuma::train {
namespace {

using testing::expect_same_tensors;
using testing::separable_images;
using testing::TemporaryFolder;
using testing::tiny_model;

struct Data {
  Tensor train_images, train_labels, val_images, val_labels;
  Data() {
    separable_images(30, 1, train_images, train_labels);
    separable_images(12, 2, val_images, val_labels);
  }
};

TensorBatchSourceOptions batches(int64_t size, bool shuffle) {
  TensorBatchSourceOptions options;
  options.batch_size = size;
  options.shuffle = shuffle;
  options.seed = 7;
  return options;
}

// Two phases like study 2: the classifier alone, then everything at a lower rate; every callback on.
TrainerOptions full_options(const std::string& out_dir) {
  TrainerOptions options;
  TrainPhase frozen;
  frozen.name = "frozen";
  frozen.epochs = 2;
  frozen.optimizer.learning_rate = 3e-3;
  frozen.prepare = [](nn::Module& model) {
    model.unfreeze();
    for (const auto& [name, child] : model.named_children())
      if (name != "classifier") child->freeze();
  };
  TrainPhase fine_tune;
  fine_tune.name = "fine-tune";
  fine_tune.epochs = 2;
  fine_tune.optimizer.kind = "sgd";
  fine_tune.optimizer.momentum = 0.9;
  fine_tune.optimizer.learning_rate = 1e-2;
  fine_tune.schedule.kind = "cosine";
  fine_tune.prepare = [](nn::Module& model) { model.unfreeze(); };
  options.phases = {frozen, fine_tune};
  options.clip_grad_norm = 5.0;
  options.ema_decay = 0.9;
  options.plateau.enabled = true;
  options.plateau.patience = 1;
  options.plateau.factor = 0.5;
  options.early_stopping.enabled = true;
  options.early_stopping.patience = 3;
  options.checkpoint_every = 1;
  options.out_dir = out_dir;
  options.class_names = {"a", "b", "c"};
  options.show_progress = false;
  return options;
}

// Fails with an exception once `limit` batches have been handed out: a crash in the middle of an epoch.
class CrashingSource : public BatchSource {
 public:
  CrashingSource(BatchSource& inner, int64_t limit) : inner_(inner), limit_(limit) {}
  int64_t batches_per_epoch() const override { return inner_.batches_per_epoch(); }
  int64_t sample_count() const override { return inner_.sample_count(); }
  void start_epoch(int64_t epoch, int64_t skip) override { inner_.start_epoch(epoch, skip); }
  bool next(TrainBatch& batch) override {
    if (handed_out_++ == limit_) throw std::runtime_error("simulated crash");
    return inner_.next(batch);
  }

 private:
  BatchSource& inner_;
  int64_t limit_, handed_out_ = 0;
};

TEST(Trainer, LearnsSeparableImagesAndWritesItsRunFolder) {
  TemporaryFolder out("trainer_learns");
  const Data data;
  auto model = tiny_model(3);
  TensorBatchSource train(data.train_images, data.train_labels, batches(6, true));
  TensorBatchSource val(data.val_images, data.val_labels, batches(6, false));
  TrainerOptions options;
  TrainPhase phase;
  phase.epochs = 12;
  phase.optimizer.learning_rate = 5e-3;
  options.phases = {phase};
  options.monitor = "val_accuracy";
  options.out_dir = out.path();
  options.show_progress = false;
  Trainer trainer(*model, train, &val, options);
  const TrainResult result = trainer.fit();

  ASSERT_EQ(result.history.epochs.size(), 12u);
  EXPECT_LT(result.history.epochs.back().train_loss, 0.6 * result.history.epochs.front().train_loss);
  EXPECT_TRUE(result.has_best);
  EXPECT_GE(result.best_value, 0.75) << "best validation accuracy";
  EXPECT_EQ(result.history.epochs[result.best_epoch - 1].val_accuracy, result.best_value);
  for (const char* name : {"best.safetensors", "last.safetensors", "history.csv", "history.json"})
    EXPECT_TRUE(std::filesystem::exists(out.file(name))) << name;
  std::ifstream csv(out.file("history.csv"));
  std::string header, line;
  std::getline(csv, header);
  EXPECT_EQ(header.rfind("epoch,phase,learning_rate,train_loss", 0), 0u) << header;
  int rows = 0;
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(rows, 12);
  const SafetensorsFile last = read_safetensors(out.file("last.safetensors"));
  const auto state = nlohmann::json::parse(last.metadata.at("pneuma.train_state"));
  EXPECT_TRUE(state.at("finished").get<bool>());
  EXPECT_EQ(state.at("epoch").get<int64_t>(), 12);
  EXPECT_EQ(state.at("history").at("epochs").size(), 12u);
  // restore_best: the model now holds the best checkpoint's weights.
  const SafetensorsFile best = read_safetensors(out.file("best.safetensors"));
  for (const auto& [name, tensor] : model->named_tensors())
    EXPECT_EQ(0, std::memcmp(tensor.raw_data(), best.at(name).raw_data(), tensor.nbytes())) << name;
}

// The heart of --resume: crash after k batches (k over several epochs and both phases), resume from
// last.safetensors with a fresh model and fresh sources, and end bit-identical to the uninterrupted run.
TEST(Trainer, ResumeAfterACrashAtAnyBatchIsBitExact) {
  const Data data;
  TemporaryFolder reference_dir("trainer_reference");
  {
    auto model = tiny_model(5);
    TensorBatchSource train(data.train_images, data.train_labels, batches(8, true));
    TensorBatchSource val(data.val_images, data.val_labels, batches(6, false));
    Trainer(*model, train, &val, full_options(reference_dir.path())).fit();
  }
  // 30 samples / 8 = 4 batches per epoch, 4 epochs (5 next() calls each): crash at the end of epoch 1 before its
  // validation, inside epoch 2, and inside epoch 3 (phase 2).
  for (int64_t crash_after : {4, 6, 13}) {
    SCOPED_TRACE("crash after batch " + std::to_string(crash_after));
    TemporaryFolder run_dir("trainer_resumed");
    {
      auto model = tiny_model(5);
      TensorBatchSource train(data.train_images, data.train_labels, batches(8, true));
      CrashingSource crashing(train, crash_after);
      TensorBatchSource val(data.val_images, data.val_labels, batches(6, false));
      Trainer trainer(*model, crashing, &val, full_options(run_dir.path()));
      EXPECT_THROW(trainer.fit(), std::runtime_error);
    }
    manual_seed(12345);  // the resumed process starts from another generator state; resume must restore it
    auto model = tiny_model(99);
    TensorBatchSource train(data.train_images, data.train_labels, batches(8, true));
    TensorBatchSource val(data.val_images, data.val_labels, batches(6, false));
    Trainer trainer(*model, train, &val, full_options(run_dir.path()));
    trainer.resume(run_dir.file("last.safetensors"));
    const TrainResult result = trainer.fit();
    EXPECT_EQ(result.history.epochs.size(), 4u);
    expect_same_tensors(reference_dir.file("last.safetensors"), run_dir.file("last.safetensors"));
    expect_same_tensors(reference_dir.file("best.safetensors"), run_dir.file("best.safetensors"));
  }
}

TEST(Trainer, FrozenPhaseLeavesTheBaseUntouched) {
  TemporaryFolder out("trainer_frozen");
  const Data data;
  auto model = tiny_model(8);
  const Tensor stem_before = model->find_tensor("stem.0.weight").clone();
  const Tensor classifier_before = model->find_tensor("classifier.weight").clone();
  TensorBatchSource train(data.train_images, data.train_labels, batches(10, true));
  TrainerOptions options = full_options(out.path());
  options.phases.resize(1);
  options.ema_decay = 0;
  Trainer trainer(*model, train, nullptr, [&] {
    options.monitor = "train_loss";
    return options;
  }());
  trainer.fit();
  const Tensor stem_after = model->find_tensor("stem.0.weight");
  EXPECT_EQ(0, std::memcmp(stem_before.raw_data(), stem_after.raw_data(), stem_after.nbytes()));
  const Tensor classifier_after = model->find_tensor("classifier.weight");
  EXPECT_NE(0, std::memcmp(classifier_before.raw_data(), classifier_after.raw_data(), classifier_after.nbytes()));
}

// Puts a NaN into one batch: batch `batch` (0-based) of epoch `epoch`.
class PoisoningSource : public BatchSource {
 public:
  PoisoningSource(BatchSource& inner, int64_t epoch, int64_t batch) : inner_(inner), epoch_(epoch), batch_(batch) {}
  int64_t batches_per_epoch() const override { return inner_.batches_per_epoch(); }
  int64_t sample_count() const override { return inner_.sample_count(); }
  void start_epoch(int64_t epoch, int64_t skip) override {
    inner_.start_epoch(epoch, skip);
    current_epoch_ = epoch;
    position_ = skip;
  }
  bool next(TrainBatch& batch) override {
    if (!inner_.next(batch)) return false;
    if (current_epoch_ == epoch_ && position_ == batch_) batch.images.data<float>()[5] = std::nanf("");
    ++position_;
    return true;
  }

 private:
  BatchSource& inner_;
  int64_t epoch_, batch_, current_epoch_ = 0, position_ = 0;
};

// A NaN in batch 3 of epoch 2: the run stops naming the epoch and batch, and last.safetensors stays the
// checkpoint written after batch 2, with finite weights.
TEST(Trainer, NonFiniteLossStopsAndKeepsTheLastGoodCheckpoint) {
  TemporaryFolder out("trainer_nan");
  const Data data;
  auto model = tiny_model(4);
  TensorBatchSource clean(data.train_images, data.train_labels, batches(6, true));
  PoisoningSource train(clean, 1, 2);
  TrainerOptions options = full_options(out.path());
  options.phases.resize(1);
  options.phases[0].epochs = 3;
  options.monitor = "train_loss";
  Trainer trainer(*model, train, nullptr, options);
  try {
    trainer.fit();
    FAIL() << "a NaN loss must stop training";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("the loss became NaN at epoch 2, batch 3"), std::string::npos) << message;
    EXPECT_NE(message.find("last good checkpoint"), std::string::npos) << message;
  }
  const SafetensorsFile last = read_safetensors(out.file("last.safetensors"));
  const auto state = nlohmann::json::parse(last.metadata.at("pneuma.train_state"));
  EXPECT_EQ(state.at("epoch").get<int64_t>(), 1);
  EXPECT_EQ(state.at("batch").get<int64_t>(), 2);
  for (const NamedTensor& entry : last.tensors) EXPECT_TRUE(all_finite(entry.tensor)) << entry.name;
  EXPECT_EQ(state.at("history").at("epochs").size(), 1u);
}

TEST(Trainer, ResumeRejectsACheckpointWithoutTrainingState) {
  TemporaryFolder out("trainer_no_state");
  const Data data;
  auto model = tiny_model(1);
  std::vector<NamedTensor> tensors;
  for (const auto& [name, tensor] : model->named_tensors()) tensors.push_back({name, tensor});
  write_safetensors(out.file("plain.safetensors"), tensors);
  TensorBatchSource train(data.train_images, data.train_labels, batches(6, true));
  TrainerOptions options = full_options(out.path());
  options.monitor = "train_loss";
  Trainer trainer(*model, train, nullptr, options);
  try {
    trainer.resume(out.file("plain.safetensors"));
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("has no training state"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace pneuma::train
