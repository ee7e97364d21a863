// Runs a parser we cannot make crash-proof (libhdf5: corrupt files can make it read out of bounds or loop) in a
// forked child process. The child writes its results as a byte stream to a pipe; the parent reads and validates it.
// A child that crashes, exits early or goes silent for `inactivity_seconds` becomes one pneuma::Error — the calling
// process itself never crashes or hangs on a hostile file.
//
// The child must only use the C library, the standard library and the isolated library (no engine allocator, no
// OpenMP, no CUDA), and ends with _exit, so nothing of the parent's state is flushed or destroyed twice.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace pneuma::weights_import {

// Writing side, used in the child. Writes are unbuffered pipe writes; a parent that has gone away ends the child.
class StreamWriter {
 public:
  explicit StreamWriter(int fd) : fd_(fd) {}
  void bytes(const void* data, uint64_t count);
  void u8(uint8_t value) { bytes(&value, 1); }
  void u64(uint64_t value) { bytes(&value, 8); }
  void text(const std::string& value);

 private:
  int fd_;
};

// Reading side, used in the parent. Every read has the inactivity timeout; an early end of the stream throws.
class StreamReader {
 public:
  StreamReader(int fd, std::string label, int inactivity_seconds)
      : fd_(fd), label_(std::move(label)), inactivity_seconds_(inactivity_seconds) {}
  void bytes(void* data, uint64_t count);
  uint8_t u8();
  uint64_t u64();
  std::string text(uint64_t max_bytes);
  const std::string& label() const { return label_; }

 private:
  int fd_;
  std::string label_;
  int inactivity_seconds_;
};

// Forks; the child runs produce(writer) and exits; the parent runs consume(reader) and reaps the child.
// `label` names the work in messages ("Keras file x.h5: libhdf5"). The child may allocate `memory_limit_bytes`
// beyond what it inherited (RLIMIT_DATA; 0 = no cap, and no cap under AddressSanitizer, whose shadow memory
// counts): a corrupt length field then fails an allocation quickly instead of making the child zero gigabytes.
void run_in_child_process(const std::string& label, int inactivity_seconds, uint64_t memory_limit_bytes,
                          const std::function<void(StreamWriter&)>& produce,
                          const std::function<void(StreamReader&)>& consume);

}  // namespace pneuma::weights_import
