// The training progress display on stderr. On a terminal one line per epoch is redrawn in place:
//   epoch 3/30 [##########----------] 12/40  loss 0.4321  acc 0.812  123.4 img/s  ETA 4m12s
// Elsewhere (a log file, CI) it prints plain lines instead, at each quarter of the epoch, so logs stay short.
// Every epoch ends with a summary line.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace pneuma::train {

struct ProgressStatus {
  int64_t batch = 0;  // batches done in this epoch
  double loss = 0, accuracy = 0;
  double images_per_second = 0;
  double eta_seconds = -1;  // < 0: unknown
};

class ProgressBar {
 public:
  // interactive: redraw in place (stream is a terminal). A null stream prints nothing.
  ProgressBar(std::FILE* stream, bool interactive);
  static ProgressBar for_stderr();  // interactive when stderr is a terminal

  void start_epoch(int64_t epoch, int64_t epochs, int64_t batches, const std::string& phase);
  void update(const ProgressStatus& status);
  void end_epoch(const std::string& summary);
  void message(const std::string& line);  // a line of its own (clears a partly drawn bar first)

 private:
  std::string status_text(const ProgressStatus& status) const;
  std::FILE* stream_;
  bool interactive_;
  bool bar_drawn_ = false;
  int64_t epoch_ = 0, epochs_ = 0, batches_ = 0;
  int next_quarter_ = 1;
  std::string phase_;
};

std::string format_duration(double seconds);  // "42s", "4m12s", "1h03m"

}  // namespace pneuma::train
