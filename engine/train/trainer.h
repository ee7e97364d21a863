// The training loop of `pneuma train`: phases of epochs of batches — forward, loss, backward, gradient clipping,
// optimizer step, learning-rate schedule — with validation after every epoch, early stopping, reduce-on-plateau,
// a weight EMA, a progress bar, the history files, and checkpoints in the run folder:
//   best.safetensors  the model with the best monitored metric so far (the EMA weights when the EMA is on)
//   last.safetensors  the current model plus the complete training state under the "train_state." prefix
//                     (optimizer moments, EMA weights) and the "pneuma.train_state" metadata entry (phase, epoch,
//                     batch position, optimizer step counts, schedule / plateau / early-stopping state, the RNG
//                     state, best metric, history) — written at every epoch end and, with checkpoint_every = N,
//                     after every N batches. Every write is atomic (temporary file + rename).
// resume() restores all of it, so a run killed at any moment (even SIGKILL) and resumed from last.safetensors ends
// with bit-identical weights on the CPU, provided the batch sources reproduce their batches from
// (epoch, position) — see batch_source.h — and the model's stochastic layers draw from default_generator().
//
// Devices: the trainer runs where the model's weights are. Move the model (nn::Module::to) before constructing
// the trainer: the batches are moved to it (the next one uploaded while the current one is computed, see
// device_batch_source.h), and the loss, backward, clipping, optimizer step (each phase's optimizer is created on
// the weights' device) and weight EMA run there; the loss value, the gradient norm and the accuracy are read back
// to the host every batch. Checkpoints are written from host copies and read back into the device tensors on
// resume, so a run can also continue on another device (exact resume is tested on the CPU only).
//
// Phases (the two-phase recipe of study 2: a frozen base, then the top layers unfrozen at a lower rate) each get a
// fresh optimizer, schedule, plateau and early-stopping state, as a Keras model recompiled between two fit()
// calls does; `prepare` sets the phase's freezing and is called again when a run resumes inside the phase, so it
// must set the whole freezing state, not change the previous phase's.
//
// Patience counts follow Keras: early stopping stops, and the plateau reduces the rate, after `patience` epochs in
// a row without improvement (plateau improvement is by an absolute min_delta, like Keras').
// A non-finite loss or gradient norm stops the run with an error naming the epoch and batch; nothing is written
// after it, so last.safetensors stays the last good checkpoint. A checkpoint is never written from non-finite
// weights.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "engine/safetensors.h"
#include "engine/train/batch_source.h"
#include "engine/train/early_stopping.h"
#include "engine/train/history.h"
#include "engine/train/loss.h"
#include "engine/train/optimizer_factory.h"
#include "engine/train/progress.h"

namespace pneuma::train {

struct TrainPhase {
  std::string name = "train";
  int64_t epochs = 1;
  OptimizerSettings optimizer;
  ScheduleSettings schedule;
  std::function<void(nn::Module&)> prepare;  // sets the phase's freezing; may be empty
};

struct PlateauSettings {
  bool enabled = false;
  double factor = 0.1;
  int64_t patience = 10;  // Keras' count: reduce after this many epochs without improvement
  int64_t cooldown = 0;
  double min_lr = 0;
  double min_delta = 1e-4;  // absolute
};

struct TrainerOptions {
  std::vector<TrainPhase> phases;
  LossOptions loss;
  double clip_grad_norm = 0;  // 0: off
  // val_loss | val_accuracy | val_auc | val_f1 | train_loss | train_accuracy; the mode follows the name (losses
  // are minimised) unless monitor_mode says "min" or "max".
  std::string monitor = "val_loss";
  std::string monitor_mode = "auto";
  EarlyStoppingOptions early_stopping;  // its mode is taken from the monitor
  bool restore_best = true;             // load best.safetensors into the model at the end
  PlateauSettings plateau;
  double ema_decay = 0;              // 0: no weight EMA
  int64_t checkpoint_every = 0;      // also save last.safetensors every this many batches (0: epoch ends only)
  std::string out_dir;               // the run folder (must exist)
  std::vector<std::string> class_names;
  // Written into the metadata of every checkpoint (architecture, config, classes, normalisation, ...).
  std::map<std::string, std::string> checkpoint_metadata;
  // Writes one checkpoint: the model's tensors under their own names, plus `train_state` tensors (all named
  // "train_state.…") and `metadata` (checkpoint_metadata and the trainer's own keys). Must be atomic. Empty: the
  // trainer's write_safetensors of exactly that. The CLI plugs in the model-checkpoint writer of weights_import.
  std::function<void(const std::string& path, const std::vector<NamedTensor>& train_state,
                     const std::map<std::string, std::string>& metadata)>
      checkpoint_writer;
  bool show_progress = true;
};

struct TrainResult {
  History history;
  bool stopped_early = false;  // in the last phase
  bool has_best = false;
  int64_t best_epoch = 0;  // 1-based
  double best_value = 0;
  std::string best_checkpoint, last_checkpoint;
};

class Trainer {
 public:
  // `validation` may be null (then monitor a train_* metric). The sources and the model must outlive the trainer.
  Trainer(nn::Module& model, BatchSource& train_source, BatchSource* validation_source, TrainerOptions options);
  ~Trainer();

  // Continues from a last.safetensors written by a trainer with the same model, data and phases.
  void resume(const std::string& checkpoint_path);
  // Runs the remaining phases and epochs. Throws on a non-finite loss (after saving the history).
  TrainResult fit();

  static std::string best_checkpoint_name() { return "best.safetensors"; }
  static std::string last_checkpoint_name() { return "last.safetensors"; }

 private:
  struct State;
  void start_phase(bool resumed);
  void run_epoch();
  void finish_epoch();
  void save_last(bool finished, double running_seconds);  // running_seconds: of the epoch in progress
  void save_best();
  void write_checkpoint(const std::string& path, const std::vector<NamedTensor>& train_state,
                        std::map<std::string, std::string> metadata);
  void check_weights_finite(const char* when);
  [[noreturn]] void stop_non_finite(const std::string& what);
  double monitored_value(const EpochRecord& record) const;

  nn::Module& model_;
  BatchSource& train_source_;
  BatchSource* validation_source_;
  TrainerOptions options_;
  std::unique_ptr<State> state_;
  ProgressBar progress_;
};

// Monitor names and their natural direction ("min" for losses, "max" otherwise).
MetricMode monitor_mode(const std::string& monitor, const std::string& mode_option);

}  // namespace pneuma::train
