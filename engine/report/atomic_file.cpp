// Atomic whole-file writes: temporary file in the same directory, fsync, rename over the target.
#include "engine/report/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "kernels/error.h"

namespace pneuma {

void write_file_atomically(const std::string& path, std::string_view bytes, const char* what) {
  PNEUMA_CHECK(!path.empty(), "%s: empty output path", what);
  const std::string temporary = path + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  PNEUMA_CHECK(fd >= 0, "%s %s: cannot create %s: %s", what, path.c_str(), temporary.c_str(), std::strerror(errno));
  auto fail = [&](const char* step) {
    const int error = errno == 0 ? EIO : errno;
    ::close(fd);
    ::unlink(temporary.c_str());
    PNEUMA_FAIL("%s %s: %s failed: %s", what, path.c_str(), step, std::strerror(error));
  };
  const char* in = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    errno = 0;
    const ssize_t put = ::write(fd, in, left);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) fail("write");
    in += put;
    left -= static_cast<size_t>(put);
  }
  if (::fsync(fd) != 0) fail("fsync");
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    PNEUMA_FAIL("%s %s: close failed: %s", what, path.c_str(), std::strerror(error));
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    PNEUMA_FAIL("%s %s: rename from %s failed: %s", what, path.c_str(), temporary.c_str(), std::strerror(error));
  }
}

}  // namespace pneuma
