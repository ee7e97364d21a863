// Creating and probing the run folder (see output_directory.h).
#include "engine/train/output_directory.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "kernels/error.h"

namespace pneuma::train {

void prepare_output_directory(const std::string& directory) {
  namespace fs = std::filesystem;
  PNEUMA_CHECK(!directory.empty(), "no output folder given (--out)");
  std::error_code error;
  fs::create_directories(directory, error);
  PNEUMA_CHECK(!error, "cannot create output folder %s: %s", directory.c_str(), error.message().c_str());
  PNEUMA_CHECK(fs::is_directory(directory), "output folder %s is not a folder", directory.c_str());
  const std::string probe = (fs::path(directory) / (".write-test-" + std::to_string(::getpid()))).string();
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  PNEUMA_CHECK(fd >= 0, "cannot write to output folder %s: %s", directory.c_str(), std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
}

}  // namespace pneuma::train
