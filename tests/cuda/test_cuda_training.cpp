// The whole training pipeline on the GPU against the CPU (engine/train: trainer, predict, loss, weight EMA,
// checkpoints), on the tiny MBConv network and an in-memory image set, with the GPU's matrix products in exact fp32
// and the same generator state on both devices (so dropout and stochastic depth draw the same masks):
//  - two phases (Adam on the classifier, then SGD with momentum on everything) with clipping, weight EMA and
//    mid-epoch checkpoints: every epoch's train and validation loss on CUDA matches the CPU's, and so do the
//    final weights; the checkpoints hold host tensors (optimizer moments and EMA included) that read back;
//  - a CUDA run that crashes mid-epoch and is resumed on CUDA ends where the uninterrupted CUDA run ends, and its
//    checkpoint also continues on the CPU;
//  - a NaN in a batch stops the CUDA run naming the epoch and batch, keeping the last good checkpoint;
//  - predict() with flip TTA and Grad-CAM with the model on the GPU give the CPU's results.
// Everything skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/explain/grad_cam.h"
#include "engine/ops.h"
#include "engine/safetensors.h"
#include "engine/train/predict.h"
#include "engine/train/tensor_batch_source.h"
#include "engine/train/trainer.h"
#include "kernels/gemm.h"
#include "tests/cuda/cuda_test_support.h"
#include "tests/train/train_test_support.h"

namespace pneuma::train {
namespace {

using train::testing::separable_images;
using train::testing::TemporaryFolder;
using train::testing::tiny_model;

// Exact fp32 GPU matrix products for the lifetime of the guard (the default may be TF32).
class ExactMatmulGuard {
 public:
#if PNEUMA_WITH_CUDA
  ExactMatmulGuard() : previous_(kernels::cuda::matmul_precision()) {
    kernels::cuda::set_matmul_precision(kernels::cuda::MatmulPrecision::fp32);
  }
  ~ExactMatmulGuard() { kernels::cuda::set_matmul_precision(previous_); }

 private:
  kernels::cuda::MatmulPrecision previous_;
#endif
};

struct Data {
  Tensor train_images, train_labels, val_images, val_labels;
  Data() {
    separable_images(24, 1, train_images, train_labels);
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

// Two phases: 2 epochs of Adam on the classifier, 2 of SGD with momentum on everything; clipping, weight EMA and a
// checkpoint after every batch. (No reduce-on-plateau: its host-side decision at a threshold could go either way
// on two devices whose losses differ in the last digits.)
TrainerOptions pipeline_options(const std::string& out_dir) {
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
  options.checkpoint_every = 1;
  options.out_dir = out_dir;
  options.class_names = {"a", "b", "c"};
  options.show_progress = false;
  return options;
}

// Throws once `limit` batches have been handed out: a crash in the middle of an epoch.
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

// Puts a NaN into batch `batch` (0-based) of epoch `epoch`, on the host before the trainer uploads it.
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

struct TrainedRun {
  std::unique_ptr<models::TinyMbconvNet> model;
  TrainResult result;
};

// A fresh run of the pipeline on `device` (the model built from seed 5, which also resets the default generator).
TrainedRun train_on(Device device, const Data& data, const std::string& out_dir) {
  TrainedRun run;
  run.model = tiny_model(5);
  run.model->to(device);
  TensorBatchSource train(data.train_images, data.train_labels, batches(6, true));
  TensorBatchSource val(data.val_images, data.val_labels, batches(6, false));
  Trainer trainer(*run.model, train, &val, pipeline_options(out_dir));
  run.result = trainer.fit();
  return run;
}

// Loss values of the two devices: the same up to summation order.
::testing::AssertionResult losses_agree(const std::string& label, double gpu, double cpu) {
  const double allowed = 1e-5 + 2e-3 * std::fabs(cpu);
  if (std::isfinite(gpu) && std::fabs(gpu - cpu) <= allowed) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << label << ": CUDA " << gpu << ", CPU " << cpu << " (allowed difference "
                                       << allowed << ")";
}

void expect_histories_agree(const History& gpu, const History& cpu) {
  ASSERT_EQ(gpu.epochs.size(), cpu.epochs.size());
  for (size_t e = 0; e < cpu.epochs.size(); ++e) {
    const std::string epoch = "epoch " + std::to_string(e + 1);
    EXPECT_TRUE(losses_agree(epoch + " train loss", gpu.epochs[e].train_loss, cpu.epochs[e].train_loss));
    EXPECT_TRUE(losses_agree(epoch + " val loss", gpu.epochs[e].val_loss, cpu.epochs[e].val_loss));
    EXPECT_EQ(gpu.epochs[e].learning_rate, cpu.epochs[e].learning_rate) << epoch;
  }
}

struct CheckpointContents {
  int64_t optimizer_tensors = 0, ema_tensors = 0;
  bool has_train_state = false;
};

// Reads a checkpoint back, expecting every tensor on the host and finite; counts its training-state tensors.
CheckpointContents read_back_checkpoint(const std::string& path) {
  const SafetensorsFile file = read_safetensors(path);
  CheckpointContents contents;
  for (const NamedTensor& entry : file.tensors) {
    EXPECT_TRUE(entry.tensor.device().is_cpu()) << entry.name;
    EXPECT_TRUE(all_finite(entry.tensor)) << path << ": " << entry.name;
    contents.optimizer_tensors += entry.name.rfind("train_state.optimizer.", 0) == 0;
    contents.ema_tensors += entry.name.rfind("train_state.ema.", 0) == 0;
  }
  contents.has_train_state = file.metadata.count("pneuma.train_state") > 0;
  return contents;
}

TEST(CudaTraining, TwoPhaseRunMatchesTheCpu) {
  PNEUMA_REQUIRE_GPU();
  [[maybe_unused]] const ExactMatmulGuard exact;
  const Data data;
  TemporaryFolder cpu_dir("cuda_training_cpu"), gpu_dir("cuda_training_gpu");
  const TrainedRun cpu = train_on(Device::cpu(), data, cpu_dir.path());
  const TrainedRun gpu = train_on(Device::cuda(), data, gpu_dir.path());

  expect_histories_agree(gpu.result.history, cpu.result.history);
  EXPECT_EQ(gpu.result.best_epoch, cpu.result.best_epoch);
  const std::vector<nn::NamedTensor> cpu_weights = cpu.model->named_tensors();
  const std::vector<nn::NamedTensor> gpu_weights = gpu.model->named_tensors();
  ASSERT_EQ(gpu_weights.size(), cpu_weights.size());
  for (size_t i = 0; i < gpu_weights.size(); ++i) {
    EXPECT_TRUE(gpu_weights[i].second.device().is_cuda()) << gpu_weights[i].first;
    if (is_floating(gpu_weights[i].second.dtype())) {
      EXPECT_TRUE(pneuma::testing::expect_nmse(gpu_weights[i].first, gpu_weights[i].second, cpu_weights[i].second,
                                               1e-6));
    }
  }
  const CheckpointContents last = read_back_checkpoint(gpu_dir.file("last.safetensors"));
  EXPECT_TRUE(last.has_train_state);
  EXPECT_GT(last.ema_tensors, 0);
  const CheckpointContents best = read_back_checkpoint(gpu_dir.file("best.safetensors"));
  EXPECT_EQ(best.optimizer_tensors + best.ema_tensors, 0);
}

// A CUDA run killed (by an exception) in epoch 2 and resumed on CUDA ends where the uninterrupted CUDA run ends; the
// crashed run's checkpoint also continues on the CPU to the same losses.
TEST(CudaTraining, ResumedRunEndsLikeTheUninterruptedOneOnEitherDevice) {
  PNEUMA_REQUIRE_GPU();
  [[maybe_unused]] const ExactMatmulGuard exact;
  const Data data;
  TemporaryFolder reference_dir("cuda_training_reference");
  const TrainResult reference = train_on(Device::cuda(), data, reference_dir.path()).result;

  TemporaryFolder crashed_dir("cuda_training_crashed"), cpu_dir("cuda_training_resumed_cpu");
  {
    auto model = tiny_model(5);
    model->to(Device::cuda());
    TensorBatchSource train(data.train_images, data.train_labels, batches(6, true));
    CrashingSource crashing(train, 8);  // 4 batches per epoch and a read-ahead of one: after 2 batches of epoch 2
    TensorBatchSource val(data.val_images, data.val_labels, batches(6, false));
    Trainer trainer(*model, crashing, &val, pipeline_options(crashed_dir.path()));
    EXPECT_THROW(trainer.fit(), std::runtime_error);
  }
  const auto crashed_state =
      nlohmann::json::parse(read_safetensors(crashed_dir.file("last.safetensors")).metadata.at("pneuma.train_state"));
  ASSERT_FALSE(crashed_state.at("finished").get<bool>());
  EXPECT_EQ(crashed_state.at("epoch").get<int64_t>(), 1);
  EXPECT_GT(crashed_state.at("batch").get<int64_t>(), 0) << "the crash should come inside epoch 2";
  const CheckpointContents crashed = read_back_checkpoint(crashed_dir.file("last.safetensors"));
  EXPECT_GT(crashed.optimizer_tensors, 0) << "Adam's moments of the classifier";
  EXPECT_GT(crashed.ema_tensors, 0);
  std::filesystem::copy(crashed_dir.path(), cpu_dir.path(),
                        std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);

  for (const Device device : {Device::cuda(), Device::cpu()}) {
    SCOPED_TRACE("resumed on " + device.name());
    const TemporaryFolder& run_dir = device.is_cuda() ? crashed_dir : cpu_dir;
    manual_seed(12345);  // the resumed process starts from another generator state; resume must restore it
    auto model = tiny_model(99);
    model->to(device);
    TensorBatchSource train(data.train_images, data.train_labels, batches(6, true));
    TensorBatchSource val(data.val_images, data.val_labels, batches(6, false));
    Trainer trainer(*model, train, &val, pipeline_options(run_dir.path()));
    trainer.resume(run_dir.file("last.safetensors"));
    const TrainResult result = trainer.fit();
    expect_histories_agree(result.history, reference.history);
    EXPECT_GT(read_back_checkpoint(run_dir.file("last.safetensors")).ema_tensors, 0);
    const SafetensorsFile expected = read_safetensors(reference_dir.file("last.safetensors"));
    const SafetensorsFile got = read_safetensors(run_dir.file("last.safetensors"));
    ASSERT_EQ(got.tensors.size(), expected.tensors.size());
    for (const NamedTensor& entry : expected.tensors) {
      ASSERT_TRUE(got.contains(entry.name)) << entry.name;
      if (is_floating(entry.tensor.dtype())) {
        EXPECT_TRUE(pneuma::testing::expect_nmse(entry.name, got.at(entry.name), entry.tensor, 1e-6));
      }
    }
  }
}

// A NaN in batch 3 of epoch 2 of a CUDA run: stopped naming the epoch and batch; last.safetensors is the checkpoint
// after batch 2, finite.
TEST(CudaTraining, NonFiniteLossOnTheGpuStopsAndKeepsTheLastGoodCheckpoint) {
  PNEUMA_REQUIRE_GPU();
  TemporaryFolder out("cuda_training_nan");
  const Data data;
  auto model = tiny_model(4);
  model->to(Device::cuda());
  TensorBatchSource clean(data.train_images, data.train_labels, batches(6, true));
  PoisoningSource train(clean, 1, 2);
  TrainerOptions options = pipeline_options(out.path());
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
  }
  const auto state =
      nlohmann::json::parse(read_safetensors(out.file("last.safetensors")).metadata.at("pneuma.train_state"));
  EXPECT_EQ(state.at("epoch").get<int64_t>(), 1);
  EXPECT_EQ(state.at("batch").get<int64_t>(), 2);
  EXPECT_GT(read_back_checkpoint(out.file("last.safetensors")).optimizer_tensors, 0);
}

// predict() with flip TTA and the loss, and Grad-CAM, with the model on the GPU: the CPU's results, on the host.
TEST(CudaTraining, PredictAndGradCamOnTheGpuMatchTheCpu) {
  PNEUMA_REQUIRE_GPU();
  [[maybe_unused]] const ExactMatmulGuard exact;
  const Data data;
  auto cpu_model = tiny_model(6);
  auto gpu_model = tiny_model(6);
  gpu_model->to(Device::cuda());
  LossOptions loss;
  loss.class_weights = {1.0, 2.0, 0.5};
  PredictOptions options;
  options.tta_flip = true;
  options.loss = &loss;
  TensorBatchSource cpu_source(data.val_images, data.val_labels, batches(5, false));
  TensorBatchSource gpu_source(data.val_images, data.val_labels, batches(5, false));
  const Predictions cpu = predict(*cpu_model, cpu_source, options);
  const Predictions gpu = predict(*gpu_model, gpu_source, options);
  EXPECT_TRUE(gpu.probabilities.device().is_cpu());
  EXPECT_TRUE(gpu.labels.device().is_cpu());
  EXPECT_TRUE(pneuma::testing::expect_close("predict.probabilities", gpu.probabilities, cpu.probabilities,
                                            {.atol = 1e-5, .rtol = 1e-4}));
  EXPECT_EQ(gpu.labels.to_vector<int32_t>(), cpu.labels.to_vector<int32_t>());
  EXPECT_EQ(gpu.sample_indices, cpu.sample_indices);
  EXPECT_TRUE(losses_agree("predict loss", gpu.loss, cpu.loss));

  // Grad-CAM over the network split after its head conv; the image goes where the model is.
  auto halves = [](models::TinyMbconvNet& model) {
    const explain::TensorFunction features = [&model](const Tensor& x) {
      return (*model.child("head"))((*model.child("blocks"))((*model.child("stem"))(x)));
    };
    const explain::TensorFunction classify = [&model](const Tensor& a) {
      return (*model.child("classifier"))((*model.child("pool"))(a));
    };
    return std::make_pair(features, classify);
  };
  cpu_model->eval();
  gpu_model->eval();
  const Tensor image = data.val_images.narrow(0, 4, 1).contiguous();
  const auto [cpu_features, cpu_classify] = halves(*cpu_model);
  const auto [gpu_features, gpu_classify] = halves(*gpu_model);
  const explain::GradCamResult cam_cpu = explain::grad_cam(cpu_features, cpu_classify, image, -1);
  const explain::GradCamResult cam_gpu = explain::grad_cam(gpu_features, gpu_classify, image.to(Device::cuda()), -1);
  EXPECT_EQ(cam_gpu.class_index, cam_cpu.class_index);
  EXPECT_TRUE(cam_gpu.heat_map.device().is_cpu());
  EXPECT_TRUE(pneuma::testing::expect_close("grad_cam.heat_map", cam_gpu.heat_map, cam_cpu.heat_map,
                                            {.atol = 1e-4, .rtol = 1e-3}));
}

}  // namespace
}  // namespace pneuma::train
