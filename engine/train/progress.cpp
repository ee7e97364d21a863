// Drawing the progress bar (see progress.h).
#include "engine/train/progress.h"

#include <unistd.h>

#include <cmath>

namespace pneuma::train {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long long total = std::llround(seconds);
  char text[32];
  if (total < 60)
    std::snprintf(text, sizeof text, "%llds", total);
  else if (total < 3600)
    std::snprintf(text, sizeof text, "%lldm%02llds", total / 60, total % 60);
  else
    std::snprintf(text, sizeof text, "%lldh%02lldm", total / 3600, total / 60 % 60);
  return text;
}

ProgressBar::ProgressBar(std::FILE* stream, bool interactive) : stream_(stream), interactive_(interactive) {}

ProgressBar ProgressBar::for_stderr() { return ProgressBar(stderr, ::isatty(STDERR_FILENO) != 0); }

void ProgressBar::start_epoch(int64_t epoch, int64_t epochs, int64_t batches, const std::string& phase) {
  epoch_ = epoch;
  epochs_ = epochs;
  batches_ = batches;
  phase_ = phase;
  next_quarter_ = 1;
  bar_drawn_ = false;
}

std::string ProgressBar::status_text(const ProgressStatus& s) const {
  char text[256];
  std::snprintf(text, sizeof text, "%lld/%lld  loss %.4f  acc %.3f  %.1f img/s  ETA %s",
                static_cast<long long>(s.batch), static_cast<long long>(batches_), s.loss, s.accuracy,
                s.images_per_second, format_duration(s.eta_seconds).c_str());
  return text;
}

void ProgressBar::update(const ProgressStatus& status) {
  if (!stream_) return;
  const std::string prefix = "epoch " + std::to_string(epoch_) + "/" + std::to_string(epochs_) +
                             (phase_.empty() ? "" : " (" + phase_ + ")");
  if (interactive_) {
    const int width = 20;
    const int filled = batches_ > 0 ? static_cast<int>(width * status.batch / batches_) : 0;
    std::string bar(filled, '#');
    bar.resize(width, '-');
    std::fprintf(stream_, "\r\033[K%s [%s] %s", prefix.c_str(), bar.c_str(), status_text(status).c_str());
    std::fflush(stream_);
    bar_drawn_ = true;
    return;
  }
  // Plain lines at 25%, 50% and 75% of the epoch (the end is the summary line).
  if (next_quarter_ > 3 || status.batch * 4 < next_quarter_ * batches_ || status.batch >= batches_) return;
  while (next_quarter_ <= 3 && status.batch * 4 >= next_quarter_ * batches_) ++next_quarter_;
  std::fprintf(stream_, "%s %s\n", prefix.c_str(), status_text(status).c_str());
  std::fflush(stream_);
}

void ProgressBar::end_epoch(const std::string& summary) { message(summary); }

void ProgressBar::message(const std::string& line) {
  if (!stream_) return;
  if (bar_drawn_) std::fprintf(stream_, "\r\033[K");
  bar_drawn_ = false;
  std::fprintf(stream_, "%s\n", line.c_str());
  std::fflush(stream_);
}

}  // namespace pneuma::train
