// fork + pipe plumbing for run_in_child_process: timed reads in the parent, and the child's exit status turned
// into a message when the stream ends early.
#include "weights_import/child_process_stream.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "kernels/error.h"

namespace pneuma::weights_import {
namespace {
struct StreamEnded {};  // thrown by StreamReader at end of stream; turned into the child's fate
}  // namespace

void StreamWriter::bytes(const void* data, uint64_t count) {
  const char* in = static_cast<const char*>(data);
  while (count > 0) {
    const ssize_t put = ::write(fd_, in, count);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) ::_exit(3);  // the parent stopped listening: nothing left to do
    in += put;
    count -= static_cast<uint64_t>(put);
  }
}

void StreamWriter::text(const std::string& value) {
  u64(value.size());
  bytes(value.data(), value.size());
}

void StreamReader::bytes(void* data, uint64_t count) {
  char* out = static_cast<char*>(data);
  while (count > 0) {
    pollfd request{fd_, POLLIN, 0};
    const int ready = ::poll(&request, 1, inactivity_seconds_ * 1000);
    if (ready < 0 && errno == EINTR) continue;
    PNEUMA_CHECK(ready >= 0, "%s: poll failed: %s", label_.c_str(), std::strerror(errno));
    PNEUMA_CHECK(ready > 0, "%s: no progress for %d s (a corrupt file can make it loop); stopped", label_.c_str(),
                 inactivity_seconds_);
    const ssize_t got = ::read(fd_, out, count);
    if (got < 0 && errno == EINTR) continue;
    PNEUMA_CHECK(got >= 0, "%s: read failed: %s", label_.c_str(), std::strerror(errno));
    if (got == 0) throw StreamEnded{};
    out += got;
    count -= static_cast<uint64_t>(got);
  }
}

uint8_t StreamReader::u8() {
  uint8_t value = 0;
  bytes(&value, 1);
  return value;
}

uint64_t StreamReader::u64() {
  uint64_t value = 0;
  bytes(&value, 8);
  return value;
}

std::string StreamReader::text(uint64_t max_bytes) {
  const uint64_t length = u64();
  PNEUMA_CHECK(length <= max_bytes, "%s: child sent a string of %llu bytes", label_.c_str(),
               static_cast<unsigned long long>(length));
  std::string value(length, '\0');
  bytes(value.data(), length);
  return value;
}

namespace {

// The calling process's data size (VmData: heap and private writable mappings, what RLIMIT_DATA limits), or 0.
uint64_t data_bytes_in_use() {
  char text[256] = {};
  const int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  const ssize_t got = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  if (got <= 0) return 0;
  // size resident shared text lib data dt: the sixth field, in pages.
  unsigned long long fields[6] = {};
  if (std::sscanf(text, "%llu %llu %llu %llu %llu %llu", &fields[0], &fields[1], &fields[2], &fields[3], &fields[4],
                  &fields[5]) != 6)
    return 0;
  return fields[5] * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

// How the child ended, in words.
std::string child_fate(pid_t child, bool kill_first) {
  if (kill_first) ::kill(child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    const int signal_number = WTERMSIG(status);
    if (kill_first && signal_number == SIGKILL) return "";
    return std::string("crashed (signal ") + std::to_string(signal_number) + ", " + ::strsignal(signal_number) +
           ") on this file, which is corrupt or not a Keras weights file";
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "";
}

}  // namespace

void run_in_child_process(const std::string& label, int inactivity_seconds, uint64_t memory_limit_bytes,
                          const std::function<void(StreamWriter&)>& produce,
                          const std::function<void(StreamReader&)>& consume) {
  int pipe_fds[2];
  PNEUMA_CHECK(::pipe2(pipe_fds, O_CLOEXEC) == 0, "%s: pipe failed: %s", label.c_str(), std::strerror(errno));
  const pid_t child = ::fork();
  if (child < 0) {
    const int error = errno;
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    PNEUMA_FAIL("%s: fork failed: %s", label.c_str(), std::strerror(error));
  }
  if (child == 0) {
    ::close(pipe_fds[0]);
    ::signal(SIGPIPE, SIG_DFL);
#if !defined(__SANITIZE_ADDRESS__)
    if (memory_limit_bytes > 0) {
      const rlim_t cap = data_bytes_in_use() + memory_limit_bytes;
      const rlimit limit{cap, cap};
      ::setrlimit(RLIMIT_DATA, &limit);
    }
#endif
    StreamWriter writer(pipe_fds[1]);
    try {
      produce(writer);
    } catch (...) {
      ::_exit(4);  // produce reports its own errors in the stream; anything escaping is a bug
    }
    ::close(pipe_fds[1]);
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  StreamReader reader(pipe_fds[0], label, inactivity_seconds);
  try {
    consume(reader);
  } catch (const Error&) {
    ::close(pipe_fds[0]);
    child_fate(child, true);
    throw;
  } catch (const StreamEnded&) {  // say why the stream ended early
    ::close(pipe_fds[0]);
    const std::string fate = child_fate(child, false);
    PNEUMA_FAIL("%s: %s", label.c_str(), fate.empty() ? "ended its output early" : fate.c_str());
  }
  ::close(pipe_fds[0]);
  const std::string fate = child_fate(child, false);
  PNEUMA_CHECK(fate.empty(), "%s: %s", label.c_str(), fate.c_str());
}

}  // namespace pneuma::weights_import
