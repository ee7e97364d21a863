// The training loop, its checkpoints and its exact resume (see trainer.h).
#include "engine/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/metrics/classification_metrics.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "engine/safetensors.h"
#include "engine/train/device_batch_source.h"
#include "engine/train/predict.h"
#include "engine/train/training_device.h"
#include "engine/train/weight_ema.h"
#include "kernels/error.h"

namespace pneuma::train {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr const char* kStateKey = "pneuma.train_state";
constexpr const char* kStateFormat = "pneuma.train_state/1";
constexpr const char* kOptimizerPrefix = "train_state.optimizer.";
constexpr const char* kEmaPrefix = "train_state.ema.";
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

json scalars_to_json(const std::map<std::string, double>& scalars) {
  json object = json::object();
  for (const auto& [key, value] : scalars) object[key] = value;
  return object;
}

std::map<std::string, double> scalars_from_json(const json& object) {
  std::map<std::string, double> scalars;
  for (const auto& [key, value] : object.items()) scalars[key] = value.get<double>();
  return scalars;
}

// "NaN", "inf" or "-inf" (printf's spelling of NaN depends on its sign bit).
std::string non_finite_name(double value) {
  return std::isnan(value) ? "NaN" : (value > 0 ? "inf" : "-inf");
}

bool is_loss_monitor(const std::string& monitor) { return monitor.find("loss") != std::string::npos; }

// On host copies (the batch itself on the CPU), so the accuracy is counted the same way on every device.
int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  const std::vector<int32_t> predicted = predicted_classes(class_probabilities(logits.detach().to(Device::cpu())));
  const std::vector<int32_t> truth = labels.to_vector<int32_t>();
  int64_t correct = 0;
  for (size_t i = 0; i < truth.size(); ++i) correct += predicted[i] == truth[i];
  return correct;
}

}  // namespace

MetricMode monitor_mode(const std::string& monitor, const std::string& mode_option) {
  static const char* known[] = {"val_loss", "val_accuracy", "val_auc", "val_f1", "train_loss", "train_accuracy"};
  bool found = false;
  for (const char* name : known) found = found || monitor == name;
  PNEUMA_CHECK(found, "unknown monitor '%s' (val_loss, val_accuracy, val_auc, val_f1, train_loss, train_accuracy)",
               monitor.c_str());
  if (mode_option == "min") return MetricMode::min;
  if (mode_option == "max") return MetricMode::max;
  PNEUMA_CHECK(mode_option == "auto", "unknown monitor mode '%s' (auto, min, max)", mode_option.c_str());
  return is_loss_monitor(monitor) ? MetricMode::min : MetricMode::max;
}

// Everything that changes while training; all of it goes into last.safetensors.
struct Trainer::State {
  // Position: the next batch to run is batch `batch` of epoch `epoch_in_phase` of phase `phase` (0-based);
  // `epoch` counts epochs over all phases and keys the data order and augmentation.
  size_t phase = 0;
  int64_t epoch_in_phase = 0, epoch = 0, batch = 0;
  int64_t phase_step = 0;  // optimizer steps in this phase (the schedule's clock)
  bool phase_started = false;
  bool finished = false;
  bool stopped_early = false;

  // Running sums of the epoch in progress.
  double loss_sum = 0;
  int64_t correct = 0, seen = 0;
  double epoch_seconds = 0;  // before this session, for the history

  // Best monitored value over the whole run.
  bool has_best = false;
  double best_value = 0;
  int64_t best_epoch = 0;

  History history;
  std::unique_ptr<optim::Optimizer> optimizer;
  std::unique_ptr<optim::LrSchedule> schedule;
  std::unique_ptr<optim::ReduceLrOnPlateau> plateau;
  EarlyStopping early_stopping;
  std::unique_ptr<WeightEma> ema;
  MetricMode mode = MetricMode::min;
};

Trainer::Trainer(nn::Module& model, BatchSource& train_source, BatchSource* validation_source, TrainerOptions options)
    : model_(model),
      train_source_(train_source),
      validation_source_(validation_source),
      options_(std::move(options)),
      state_(std::make_unique<State>()),
      progress_(options_.show_progress ? ProgressBar::for_stderr() : ProgressBar(nullptr, false)) {
  PNEUMA_CHECK(!options_.phases.empty(), "training needs at least one phase");
  for (const TrainPhase& phase : options_.phases) {
    PNEUMA_CHECK(phase.epochs >= 1, "phase '%s' needs at least one epoch", phase.name.c_str());
    validate(phase.optimizer);
    validate(phase.schedule);
  }
  state_->mode = monitor_mode(options_.monitor, options_.monitor_mode);
  PNEUMA_CHECK(validation_source_ != nullptr || options_.monitor.rfind("train_", 0) == 0,
               "monitor '%s' needs a validation split (or monitor train_loss)", options_.monitor.c_str());
  PNEUMA_CHECK(options_.clip_grad_norm >= 0, "gradient clipping norm must be >= 0, got %g", options_.clip_grad_norm);
  PNEUMA_CHECK(options_.checkpoint_every >= 0, "checkpoint interval must be >= 0");
  PNEUMA_CHECK(std::filesystem::is_directory(options_.out_dir), "run folder '%s' does not exist",
               options_.out_dir.c_str());
  if (options_.plateau.enabled)
    PNEUMA_CHECK(options_.plateau.patience >= 1, "plateau patience must be at least 1 epoch");
  if (options_.ema_decay > 0) state_->ema = std::make_unique<WeightEma>(model_, options_.ema_decay);
}

Trainer::~Trainer() = default;

double Trainer::monitored_value(const EpochRecord& r) const {
  const std::string& m = options_.monitor;
  if (m == "val_loss") return r.val_loss;
  if (m == "val_accuracy") return r.val_accuracy;
  if (m == "val_auc") return r.val_auc;
  if (m == "val_f1") return r.val_f1;
  if (m == "train_accuracy") return r.train_accuracy;
  return r.train_loss;
}

void Trainer::start_phase(bool resumed) {
  State& s = *state_;
  const TrainPhase& phase = options_.phases[s.phase];
  if (phase.prepare) phase.prepare(model_);
  s.optimizer = make_optimizer(phase.optimizer, model_);
  s.schedule = make_schedule(phase.schedule, phase.optimizer.learning_rate, train_source_.batches_per_epoch(),
                             phase.epochs);
  if (options_.plateau.enabled) {
    optim::ReduceLrOnPlateauOptions o;
    o.mode = s.mode == MetricMode::min ? optim::ReduceLrOnPlateauOptions::Mode::min
                                       : optim::ReduceLrOnPlateauOptions::Mode::max;
    o.factor = options_.plateau.factor;
    o.patience = options_.plateau.patience - 1;  // PyTorch counts "more than patience"; Keras "at least"
    o.cooldown = options_.plateau.cooldown;
    o.min_lr = options_.plateau.min_lr;
    o.threshold = options_.plateau.min_delta;
    o.threshold_mode = optim::ReduceLrOnPlateauOptions::ThresholdMode::absolute;
    s.plateau = std::make_unique<optim::ReduceLrOnPlateau>(phase.optimizer.learning_rate, o);
  } else {
    s.plateau.reset();
  }
  EarlyStoppingOptions early = options_.early_stopping;
  early.mode = s.mode;
  s.early_stopping = EarlyStopping(early);
  if (!resumed) {
    s.epoch_in_phase = 0;
    s.batch = 0;
    s.phase_step = 0;
  }
  s.phase_started = true;
  const int64_t trainable = model_.trainable_parameter_count();
  PNEUMA_CHECK(trainable > 0, "phase '%s' has no trainable parameter (everything is frozen)", phase.name.c_str());
  progress_.message("phase '" + phase.name + "': " + std::to_string(phase.epochs) + " epochs, " +
                    phase.optimizer.kind + " lr " + detail::format_message("%g", phase.optimizer.learning_rate) +
                    ", " + std::to_string(trainable) + " of " + std::to_string(model_.parameter_count()) +
                    " parameters trainable");
}

void Trainer::check_weights_finite(const char* when) {
  for (const auto& [name, tensor] : model_.named_tensors())
    if (is_floating(tensor.dtype()) && !all_finite(tensor))
      stop_non_finite(detail::format_message("weight '%s' is not finite %s", name.c_str(), when));
}

void Trainer::stop_non_finite(const std::string& what) {
  const State& s = *state_;
  if (!s.history.epochs.empty()) s.history.write(options_.out_dir);
  const std::string last = (std::filesystem::path(options_.out_dir) / last_checkpoint_name()).string();
  const std::string keep = std::filesystem::exists(last) ? "the last good checkpoint " + last + " is kept"
                                                         : "no checkpoint had been written yet";
  PNEUMA_FAIL("%s at epoch %lld, batch %lld (phase '%s'); training stopped, %s", what.c_str(),
              static_cast<long long>(s.epoch + 1), static_cast<long long>(s.batch + 1),
              options_.phases[std::min(s.phase, options_.phases.size() - 1)].name.c_str(), keep.c_str());
}

void Trainer::run_epoch() {
  State& s = *state_;
  const TrainPhase& phase = options_.phases[s.phase];
  const int64_t batches = train_source_.batches_per_epoch();
  int64_t planned_epochs = 0, later_epochs = 0;  // all phases' epochs; those after this one
  for (size_t p = 0; p < options_.phases.size(); ++p) {
    planned_epochs += options_.phases[p].epochs;
    if (p > s.phase) later_epochs += options_.phases[p].epochs;
  }
  progress_.start_epoch(s.epoch + 1, planned_epochs, batches, phase.name);

  const std::vector<Tensor> parameters = model_.parameters();
  model_.train();
  DeviceBatchSource source(train_source_, module_device(model_));  // batch i+1 is uploaded during step i
  source.start_epoch(s.epoch, s.batch);
  const Clock::time_point start = Clock::now();
  int64_t images_this_session = 0, batches_this_session = 0, batches_since_checkpoint = 0;
  TrainBatch batch;
  while (source.next(batch)) {
    const int64_t step = phase.schedule.per_epoch ? s.epoch_in_phase : s.phase_step;
    double learning_rate = s.schedule->learning_rate(step);
    if (s.plateau) learning_rate *= s.plateau->learning_rate() / phase.optimizer.learning_rate;
    s.optimizer->set_learning_rate(learning_rate);

    s.optimizer->zero_grad();
    const Tensor logits = model_(batch.images);
    const Tensor loss = compute_loss(logits, batch.labels, options_.loss);
    const double loss_value = loss.item();
    if (!std::isfinite(loss_value)) stop_non_finite("the loss became " + non_finite_name(loss_value));
    loss.backward();
    if (options_.clip_grad_norm > 0) {
      const double norm = optim::clip_grad_norm(parameters, options_.clip_grad_norm);
      if (!std::isfinite(norm)) stop_non_finite("the gradient norm became " + non_finite_name(norm));
    }
    s.optimizer->step();
    s.optimizer->zero_grad();
    if (s.ema) s.ema->update(model_);

    const int64_t n = batch.images.dim(0);
    s.loss_sum += loss_value * static_cast<double>(n);
    s.correct += count_correct(logits, batch.labels);
    s.seen += n;
    images_this_session += n;
    s.batch = batch.position + 1;  // the next batch to run, also past batches the source passed over
    ++s.phase_step;

    const double elapsed = seconds_since(start);
    const double per_batch = elapsed / static_cast<double>(++batches_this_session);
    const int64_t remaining_epochs = phase.epochs - s.epoch_in_phase - 1 + later_epochs;
    ProgressStatus status;
    status.batch = s.batch;
    status.loss = s.loss_sum / static_cast<double>(s.seen);
    status.accuracy = static_cast<double>(s.correct) / static_cast<double>(s.seen);
    status.images_per_second = static_cast<double>(images_this_session) / std::max(elapsed, 1e-9);
    status.eta_seconds = per_batch * static_cast<double>(batches - s.batch + remaining_epochs * batches);
    progress_.update(status);

    const bool checkpoint_due = options_.checkpoint_every > 0 && ++batches_since_checkpoint >= options_.checkpoint_every;
    if (checkpoint_due && s.batch < batches) {
      save_last(false, seconds_since(start));
      batches_since_checkpoint = 0;
    }
  }
  PNEUMA_CHECK(s.seen > 0, "epoch %lld had no training batch", static_cast<long long>(s.epoch + 1));
  s.epoch_seconds += seconds_since(start);
}

void Trainer::finish_epoch() {
  State& s = *state_;
  const TrainPhase& phase = options_.phases[s.phase];
  EpochRecord record;
  record.epoch = s.epoch + 1;
  record.phase = phase.name;
  record.learning_rate = s.optimizer->learning_rate();
  record.train_loss = s.loss_sum / static_cast<double>(s.seen);
  record.train_accuracy = static_cast<double>(s.correct) / static_cast<double>(s.seen);
  record.val_loss = record.val_accuracy = record.val_auc = record.val_f1 = kNaN;

  const Clock::time_point validation_start = Clock::now();
  if (validation_source_) {
    LossOptions validation_loss = options_.loss;
    validation_loss.class_weights.clear();  // as Keras: class weights shape the training signal only
    PredictOptions predict_options;
    predict_options.loss = &validation_loss;
    if (s.ema) s.ema->swap_with(model_);
    Predictions predictions;
    try {
      predictions = predict(model_, *validation_source_, predict_options);
    } catch (...) {
      if (s.ema) s.ema->swap_with(model_);
      throw;
    }
    if (s.ema) s.ema->swap_with(model_);
    metrics::MetricsOptions metric_options;
    metric_options.class_names = options_.class_names;
    metric_options.bootstrap.resamples = 0;
    metric_options.keep_curves = false;
    const metrics::ClassificationMetrics m =
        metrics::compute_classification_metrics(predictions.probabilities, predictions.labels, metric_options);
    record.val_loss = predictions.loss;
    record.val_accuracy = m.accuracy;
    record.val_auc = m.macro_roc_auc;
    record.val_f1 = m.macro.f1;
  }
  record.seconds = s.epoch_seconds + seconds_since(validation_start);
  record.images_per_second = static_cast<double>(s.seen) / std::max(s.epoch_seconds, 1e-9);

  if (validation_source_ && !std::isfinite(record.val_loss))
    stop_non_finite("the validation loss became " + non_finite_name(record.val_loss));
  const double value = monitored_value(record);
  PNEUMA_CHECK(std::isfinite(value),
               "the monitored metric %s is undefined at epoch %lld (e.g. AUC with one class in the validation "
               "split); monitor another metric",
               options_.monitor.c_str(), static_cast<long long>(record.epoch));
  const bool improved = !s.has_best || (s.mode == MetricMode::min ? value < s.best_value : value > s.best_value);
  record.best = improved;
  if (improved) {
    s.has_best = true;
    s.best_value = value;
    s.best_epoch = record.epoch;
    save_best();
  }
  if (s.plateau) s.plateau->step(value);
  const bool stop = options_.early_stopping.enabled && s.early_stopping.update(value);
  s.history.epochs.push_back(record);

  std::string summary = detail::format_message(
      "epoch %lld/%s  train loss %.4f acc %.3f", static_cast<long long>(record.epoch), phase.name.c_str(),
      record.train_loss, record.train_accuracy);
  if (validation_source_)
    summary += detail::format_message("  val loss %.4f acc %.3f auc %.3f f1 %.3f", record.val_loss,
                                      record.val_accuracy, record.val_auc, record.val_f1);
  summary += detail::format_message("  lr %.3g  %.1f img/s  %s%s", record.learning_rate, record.images_per_second,
                                    format_duration(record.seconds).c_str(), improved ? "  *best*" : "");
  progress_.end_epoch(summary);

  // Advance the position to the next epoch (or phase) before saving, so a resume starts there.
  s.loss_sum = 0;
  s.correct = 0;
  s.seen = 0;
  s.epoch_seconds = 0;
  s.batch = 0;
  ++s.epoch;
  ++s.epoch_in_phase;
  if (stop || s.epoch_in_phase >= phase.epochs) {
    if (stop) progress_.message(detail::format_message("early stopping: %s did not improve for %lld epochs",
                                                       options_.monitor.c_str(),
                                                       static_cast<long long>(options_.early_stopping.patience)));
    s.stopped_early = stop;
    ++s.phase;
    s.epoch_in_phase = 0;
    s.phase_step = 0;
    s.phase_started = false;
  }
  s.finished = s.phase >= options_.phases.size();
  save_last(s.finished, 0);
  s.history.write(options_.out_dir);
}

void Trainer::write_checkpoint(const std::string& path, const std::vector<NamedTensor>& train_state,
                               std::map<std::string, std::string> metadata) {
  for (const auto& [key, value] : options_.checkpoint_metadata) metadata.emplace(key, value);
  if (options_.checkpoint_writer) {
    options_.checkpoint_writer(path, train_state, metadata);
    return;
  }
  std::vector<NamedTensor> tensors;
  for (const auto& [name, tensor] : model_.named_tensors()) tensors.push_back({name, tensor});
  tensors.insert(tensors.end(), train_state.begin(), train_state.end());
  write_safetensors(path, tensors, metadata);
}

void Trainer::save_best() {
  State& s = *state_;
  if (s.ema) s.ema->swap_with(model_);
  const std::map<std::string, std::string> metadata = {
      {"pneuma.best", json{{"epoch", s.best_epoch}, {"monitor", options_.monitor}, {"value", s.best_value},
                           {"ema", s.ema != nullptr}}
                          .dump()}};
  try {
    check_weights_finite("before saving the best checkpoint");
    write_checkpoint((std::filesystem::path(options_.out_dir) / best_checkpoint_name()).string(), {}, metadata);
  } catch (...) {
    if (s.ema) s.ema->swap_with(model_);
    throw;
  }
  if (s.ema) s.ema->swap_with(model_);
}

void Trainer::save_last(bool finished, double running_seconds) {
  State& s = *state_;
  check_weights_finite("before saving a checkpoint");
  std::vector<NamedTensor> tensors;  // the training state's tensors
  json state = {{"format", kStateFormat},
                {"phase", s.phase},
                {"epoch_in_phase", s.epoch_in_phase},
                {"epoch", s.epoch},
                {"batch", s.batch},
                {"phase_step", s.phase_step},
                {"finished", finished},
                {"stopped_early", s.stopped_early},
                {"loss_sum", s.loss_sum},
                {"correct", s.correct},
                {"seen", s.seen},
                {"epoch_seconds", s.epoch_seconds + running_seconds},
                {"has_best", s.has_best},
                {"best_value", s.best_value},
                {"best_epoch", s.best_epoch},
                {"monitor", options_.monitor},
                {"rng", {{"seed", default_generator().seed()}, {"offset", default_generator().offset()}}},
                {"history", s.history.to_json()}};
  if (s.phase_started) {
    const optim::OptimizerState optimizer_state = s.optimizer->export_state();
    for (const auto& [key, tensor] : optimizer_state.tensors) tensors.push_back({kOptimizerPrefix + key, tensor});
    state["optimizer"] = {{"type", s.optimizer->type_name()}, {"scalars", scalars_to_json(optimizer_state.scalars)}};
    if (s.plateau) state["plateau"] = scalars_to_json(s.plateau->export_state());
    state["early_stopping"] = scalars_to_json(s.early_stopping.export_state());
  }
  if (s.ema) {
    for (const auto& [name, tensor] : s.ema->averages()) tensors.push_back({kEmaPrefix + name, tensor});
    state["ema_updates"] = s.ema->updates();
  }
  write_checkpoint((std::filesystem::path(options_.out_dir) / last_checkpoint_name()).string(), tensors,
                   {{kStateKey, state.dump()}});
}

void Trainer::resume(const std::string& checkpoint_path) {
  const SafetensorsFile file = read_safetensors(checkpoint_path);
  auto found = file.metadata.find(kStateKey);
  PNEUMA_CHECK(found != file.metadata.end(),
               "%s has no training state (only a last.safetensors written by pneuma train can be resumed)",
               checkpoint_path.c_str());
  json state;
  try {
    state = json::parse(found->second);
  } catch (const json::exception& error) {
    PNEUMA_FAIL("%s: the training state is not valid JSON: %s", checkpoint_path.c_str(), error.what());
  }
  PNEUMA_CHECK(state.value("format", "") == kStateFormat, "%s: unknown training state format '%s'",
               checkpoint_path.c_str(), state.value("format", "").c_str());
  PNEUMA_CHECK(state.value("monitor", "") == options_.monitor,
               "%s was trained monitoring %s, this run monitors %s", checkpoint_path.c_str(),
               state.value("monitor", "").c_str(), options_.monitor.c_str());

  State& s = *state_;
  try {
    for (auto& [name, tensor] : model_.named_tensors()) {
      PNEUMA_CHECK(file.contains(name), "%s has no tensor '%s' of the model", checkpoint_path.c_str(), name.c_str());
      const Tensor& saved = file.at(name);
      PNEUMA_CHECK(saved.shape() == tensor.shape() && saved.dtype() == tensor.dtype(),
                   "%s: tensor '%s' is %s, the model's is %s", checkpoint_path.c_str(), name.c_str(),
                   saved.describe().c_str(), tensor.describe().c_str());
      Tensor destination = tensor;
      destination.copy_from(saved);
    }
    s.phase = state.at("phase").get<size_t>();
    PNEUMA_CHECK(s.phase <= options_.phases.size(), "%s is in phase %zu, this run has %zu phases",
                 checkpoint_path.c_str(), s.phase + 1, options_.phases.size());
    s.epoch_in_phase = state.at("epoch_in_phase").get<int64_t>();
    s.epoch = state.at("epoch").get<int64_t>();
    s.batch = state.at("batch").get<int64_t>();
    s.phase_step = state.at("phase_step").get<int64_t>();
    s.finished = state.at("finished").get<bool>();
    s.stopped_early = state.at("stopped_early").get<bool>();
    s.loss_sum = state.at("loss_sum").get<double>();
    s.correct = state.at("correct").get<int64_t>();
    s.seen = state.at("seen").get<int64_t>();
    s.epoch_seconds = state.at("epoch_seconds").get<double>();
    s.has_best = state.at("has_best").get<bool>();
    s.best_value = state.at("best_value").get<double>();
    s.best_epoch = state.at("best_epoch").get<int64_t>();
    s.history = History::from_json(state.at("history"));
    PNEUMA_CHECK(s.batch >= 0 && s.batch <= train_source_.batches_per_epoch(),
                 "%s stopped at batch %lld, but an epoch of this data has %lld batches (different data or batch "
                 "size?)",
                 checkpoint_path.c_str(), static_cast<long long>(s.batch),
                 static_cast<long long>(train_source_.batches_per_epoch()));

    if (!s.finished && state.contains("optimizer")) {
      PNEUMA_CHECK(s.epoch_in_phase < options_.phases[s.phase].epochs,
                   "%s is at epoch %lld of phase '%s', which this run gives only %lld epochs",
                   checkpoint_path.c_str(), static_cast<long long>(s.epoch_in_phase + 1),
                   options_.phases[s.phase].name.c_str(), static_cast<long long>(options_.phases[s.phase].epochs));
      start_phase(true);
      PNEUMA_CHECK(state.at("optimizer").at("type").get<std::string>() == s.optimizer->type_name(),
                   "%s was trained with %s, this phase uses %s", checkpoint_path.c_str(),
                   state.at("optimizer").at("type").get<std::string>().c_str(), s.optimizer->type_name().c_str());
      optim::OptimizerState optimizer_state;
      optimizer_state.scalars = scalars_from_json(state.at("optimizer").at("scalars"));
      const std::string prefix = kOptimizerPrefix;
      for (const NamedTensor& entry : file.tensors)
        if (entry.name.rfind(prefix, 0) == 0) optimizer_state.tensors[entry.name.substr(prefix.size())] = entry.tensor;
      s.optimizer->import_state(optimizer_state);
      if (s.plateau) {
        PNEUMA_CHECK(state.contains("plateau"), "%s has no reduce-on-plateau state, but this run uses it",
                     checkpoint_path.c_str());
        s.plateau->import_state(scalars_from_json(state.at("plateau")));
      }
      s.early_stopping.import_state(scalars_from_json(state.at("early_stopping")));
    }
    if (s.ema) {
      PNEUMA_CHECK(state.contains("ema_updates"), "%s has no weight EMA, but this run uses one",
                   checkpoint_path.c_str());
      const std::string prefix = kEmaPrefix;
      for (const NamedTensor& entry : file.tensors)
        if (entry.name.rfind(prefix, 0) == 0) s.ema->load_average(entry.name.substr(prefix.size()), entry.tensor);
      s.ema->set_updates(state.at("ema_updates").get<int64_t>());
    }
    default_generator().set_state(state.at("rng").at("seed").get<uint64_t>(),
                                  state.at("rng").at("offset").get<uint64_t>());
  } catch (const json::exception& error) {
    PNEUMA_FAIL("%s: damaged training state: %s", checkpoint_path.c_str(), error.what());
  }
  progress_.message(detail::format_message("resuming %s at epoch %lld, batch %lld%s", checkpoint_path.c_str(),
                                           static_cast<long long>(s.epoch + 1), static_cast<long long>(s.batch),
                                           s.finished ? " (the run had finished)" : ""));
}

TrainResult Trainer::fit() {
  State& s = *state_;
  while (s.phase < options_.phases.size()) {
    if (!s.phase_started) start_phase(false);
    run_epoch();
    finish_epoch();
  }
  s.finished = true;
  const std::filesystem::path out(options_.out_dir);
  TrainResult result;
  result.history = s.history;
  result.stopped_early = s.stopped_early;
  result.has_best = s.has_best;
  result.best_epoch = s.best_epoch;
  result.best_value = s.best_value;
  result.best_checkpoint = (out / best_checkpoint_name()).string();
  result.last_checkpoint = (out / last_checkpoint_name()).string();
  if (options_.restore_best && s.has_best) {
    const SafetensorsFile best = read_safetensors(result.best_checkpoint);
    for (auto& [name, tensor] : model_.named_tensors()) {
      Tensor destination = tensor;
      destination.copy_from(best.at(name));
    }
    progress_.message(detail::format_message("restored the best weights (epoch %lld, %s %.4f)",
                                             static_cast<long long>(s.best_epoch), options_.monitor.c_str(),
                                             s.best_value));
  } else if (s.ema) {
    s.ema->swap_with(model_);  // the model ends as the average it was validated with
  }
  return result;
}

}  // namespace pneuma::train
