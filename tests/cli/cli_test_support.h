// Running the built `pneuma` executable from tests: synchronously (exit status and combined output), or in the
// background (to kill it), optionally under a file-size limit that makes writes fail like a full disk.
#pragma once
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace pneuma::cli_testing {

inline std::string shared_dir() { return PNEUMA_SHARED_DIR; }
inline std::string fixtures_dir() { return shared_dir() + "/data/fixtures"; }

struct ChildOptions {
  long file_size_limit_bytes = -1;  // RLIMIT_FSIZE (SIGXFSZ ignored, so writes fail with EFBIG)
};

// Starts `pneuma args...` with stdout and stderr going to `log_path`; returns its pid.
inline pid_t start_cli(const std::vector<std::string>& args, const std::string& log_path,
                       const ChildOptions& options = {}) {
  std::vector<std::string> argv_storage = {PNEUMA_CLI_PATH};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) ::_exit(127);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
    if (options.file_size_limit_bytes >= 0) {
      ::signal(SIGXFSZ, SIG_IGN);  // stays ignored across exec
      const rlimit limit{static_cast<rlim_t>(options.file_size_limit_bytes),
                         static_cast<rlim_t>(options.file_size_limit_bytes)};
      ::setrlimit(RLIMIT_FSIZE, &limit);
    }
    ::setenv("PNEUMA_THREADS", "2", 0);
    // Idle OpenMP threads sleep instead of spinning: on a shared CI machine spinning threads of tiny runs fight
    // the data loader's threads for the cores (10-30x slower here).
    ::setenv("OMP_WAIT_POLICY", "passive", 0);
    std::vector<char*> argv;
    for (std::string& arg : argv_storage) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

inline std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

struct CliResult {
  int exit_code = -1;       // -1 when killed by a signal
  int signal = 0;
  std::string output;       // stdout and stderr interleaved
  // The lines of the output that start with "pneuma <command>: error:".
  std::vector<std::string> error_lines() const {
    std::vector<std::string> lines;
    std::istringstream stream(output);
    for (std::string line; std::getline(stream, line);)
      if (line.rfind("pneuma ", 0) == 0 && line.find(": error: ") != std::string::npos) lines.push_back(line);
    return lines;
  }
};

inline CliResult wait_cli(pid_t pid, const std::string& log_path) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  CliResult result;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  result.output = read_file(log_path);
  return result;
}

inline CliResult run_cli(const std::vector<std::string>& args, const std::string& log_path,
                         const ChildOptions& options = {}) {
  return wait_cli(start_cli(args, log_path, options), log_path);
}

// A fresh folder for one test, removed afterwards.
class TestFolder {
 public:
  explicit TestFolder(const std::string& name)
      : path_(std::filesystem::temp_directory_path() / ("pneuma_cli_" + name + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TestFolder() {
    std::error_code ignored;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ignored);
    std::filesystem::remove_all(path_, ignored);
  }
  std::string path() const { return path_.string(); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace pneuma::cli_testing
