// A small stand-in for the part of Google Benchmark's API that the CUDA benchmarks (bench/cuda_*.cpp) use, for
// GPU machines that have CUDA, CMake and PyTorch but not the library. bench/CMakeLists.txt puts this folder on the
// include path only in the GPU-benchmark build (PNEUMA_GPU_BENCH_ONLY) and only when find_package(benchmark) fails;
// every other build uses the real library.
//
// What it does, as the library does: benchmarks registered with RegisterBenchmark(name, function, args...) run in
// registration order; each run calls the function with a State whose range-for loop runs `iterations` times, the
// iteration count grows (×10 at most per run) until a run's total time reaches the benchmark's MinTime (default
// --benchmark_min_time, 0.5 s) and that run is reported. Only manual timing is supported: every benchmark must
// call State::SetIterationTime() in each iteration (UseManualTime()). Flags: --benchmark_filter=REGEX (regex search
// in the name, as the library), --benchmark_min_time=SECONDS, --benchmark_format=console|json (stdout),
// --benchmark_out=FILE with --benchmark_out_format=json|console. The JSON has the library's shape for what readers
// use: {"context": {...}, "benchmarks": [{"name", "run_name", "run_type": "iteration", "iterations", "real_time",
// "cpu_time", "time_unit", "bytes_per_second"?, <counters>..., "error_occurred"?, "error_message"?}]}.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace benchmark {

enum TimeUnit { kNanosecond, kMicrosecond, kMillisecond, kSecond };

class State {
 public:
  struct [[maybe_unused]] Value {};
  class Iterator {
   public:
    explicit Iterator(int64_t remaining) : remaining_(remaining) {}
    Value operator*() const { return {}; }
    Iterator& operator++() {
      --remaining_;
      return *this;
    }
    bool operator!=(const Iterator& other) const { return remaining_ != other.remaining_; }

   private:
    int64_t remaining_;
  };

  explicit State(int64_t iterations) : iterations_(iterations) {}
  Iterator begin() const { return Iterator(error_.empty() ? iterations_ : 0); }
  Iterator end() const { return Iterator(0); }
  void SetIterationTime(double seconds) { manual_seconds_ += seconds; }
  void SkipWithError(const char* message) { error_ = message && *message ? message : "skipped"; }
  void SetBytesProcessed(int64_t bytes) { bytes_processed_ = bytes; }
  int64_t iterations() const { return iterations_; }

  std::map<std::string, double> counters;

  // For the runner.
  double manual_seconds() const { return manual_seconds_; }
  const std::string& error() const { return error_; }
  int64_t bytes_processed() const { return bytes_processed_; }

 private:
  int64_t iterations_;
  double manual_seconds_ = 0;
  int64_t bytes_processed_ = -1;
  std::string error_;
};

class Benchmark {
 public:
  Benchmark(std::string name, std::function<void(State&)> function)
      : name_(std::move(name)), function_(std::move(function)) {}
  Benchmark* UseManualTime() {
    manual_time_ = true;
    return this;
  }
  Benchmark* MinTime(double seconds) {
    min_time_ = seconds;
    return this;
  }
  Benchmark* Unit(TimeUnit unit) {
    unit_ = unit;
    return this;
  }

  const std::string& name() const { return name_; }
  bool manual_time() const { return manual_time_; }
  double min_time() const { return min_time_; }
  TimeUnit unit() const { return unit_; }
  void run(State& state) const { function_(state); }

 private:
  std::string name_;
  std::function<void(State&)> function_;
  bool manual_time_ = false;
  double min_time_ = -1;  // < 0: --benchmark_min_time
  TimeUnit unit_ = kNanosecond;
};

namespace internal {

struct Flags {
  std::string filter = ".";
  double min_time = 0.5;
  std::string format = "console";
  std::string out, out_format = "json";
};

inline Flags& flags() {
  static Flags value;
  return value;
}

inline std::vector<std::unique_ptr<Benchmark>>& registry() {
  static std::vector<std::unique_ptr<Benchmark>> benchmarks;
  return benchmarks;
}

struct Result {
  std::string name;
  int64_t iterations = 0;
  double real_time = 0, cpu_time = 0;  // per iteration, in `unit`
  TimeUnit unit = kNanosecond;
  double bytes_per_second = -1;
  std::map<std::string, double> counters;
  std::string error;
};

inline const char* unit_name(TimeUnit unit) {
  return unit == kSecond ? "s" : unit == kMillisecond ? "ms" : unit == kMicrosecond ? "us" : "ns";
}
inline double unit_per_second(TimeUnit unit) {
  return unit == kSecond ? 1 : unit == kMillisecond ? 1e3 : unit == kMicrosecond ? 1e6 : 1e9;
}

inline std::string json_string(const std::string& text) {
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escape[8];
      std::snprintf(escape, sizeof(escape), "\\u%04x", c);
      quoted += escape;
    } else {
      quoted += c;
    }
  }
  return quoted + "\"";
}

inline std::string json_number(double value) {
  if (!std::isfinite(value)) return "null";
  char text[32];
  std::snprintf(text, sizeof(text), "%.10g", value);
  return text;
}

inline std::string to_json(const std::vector<Result>& results) {
  std::ostringstream out;
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S%z", std::localtime(&now));
  out << "{\n  \"context\": {\"date\": " << json_string(date)
      << ", \"library\": \"pneuma bench/fallback (Google Benchmark not installed)\"},\n  \"benchmarks\": [";
  for (size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    out << (i ? ",\n" : "\n") << "    {\"name\": " << json_string(r.name) << ", \"run_name\": " << json_string(r.name)
        << ", \"run_type\": \"iteration\", \"iterations\": " << r.iterations
        << ", \"real_time\": " << json_number(r.real_time) << ", \"cpu_time\": " << json_number(r.cpu_time)
        << ", \"time_unit\": \"" << unit_name(r.unit) << "\"";
    if (r.bytes_per_second >= 0) out << ", \"bytes_per_second\": " << json_number(r.bytes_per_second);
    for (const auto& [key, value] : r.counters) out << ", " << json_string(key) << ": " << json_number(value);
    if (!r.error.empty()) out << ", \"error_occurred\": true, \"error_message\": " << json_string(r.error);
    out << "}";
  }
  out << "\n  ]\n}\n";
  return out.str();
}

inline std::string to_console(const Result& r) {
  char line[512];
  if (!r.error.empty()) {
    std::snprintf(line, sizeof(line), "%-60s ERROR OCCURRED: '%s'", r.name.c_str(), r.error.c_str());
    return line;
  }
  std::snprintf(line, sizeof(line), "%-60s %12.3f %-2s %12.3f %-2s %10lld", r.name.c_str(), r.real_time,
                unit_name(r.unit), r.cpu_time, unit_name(r.unit), static_cast<long long>(r.iterations));
  std::string text = line;
  for (const auto& [key, value] : r.counters) {
    char counter[128];
    std::snprintf(counter, sizeof(counter), " %s=%.4g", key.c_str(), value);
    text += counter;
  }
  return text;
}

// Runs one benchmark until a run's manual time reaches its min time; returns that run.
inline Result run_one(const Benchmark& benchmark) {
  Result result;
  result.name = benchmark.name();
  result.unit = benchmark.unit();
  if (!benchmark.manual_time()) {
    result.error = "bench/fallback supports UseManualTime() benchmarks only";
    return result;
  }
  const double min_time = benchmark.min_time() >= 0 ? benchmark.min_time() : flags().min_time;
  int64_t iterations = 1;
  for (;;) {
    State state(iterations);
    const std::clock_t cpu_start = std::clock();
    benchmark.run(state);
    const double cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    if (!state.error().empty()) {
      result.error = state.error();
      return result;
    }
    const double seconds = state.manual_seconds();
    if (seconds >= min_time || iterations >= 1000000000) {
      result.iterations = iterations;
      result.real_time = seconds / iterations * unit_per_second(result.unit);
      result.cpu_time = cpu_seconds / iterations * unit_per_second(result.unit);
      if (state.bytes_processed() >= 0 && seconds > 0)
        result.bytes_per_second = static_cast<double>(state.bytes_processed()) / seconds;
      result.counters = state.counters;
      return result;
    }
    // As the library: aim 40% past the min time, growing at most ×10 per run.
    const double multiplier = seconds > 0 ? std::min(10.0, 1.4 * min_time / seconds) : 10.0;
    iterations = std::max<int64_t>(iterations + 1, static_cast<int64_t>(std::ceil(iterations * multiplier)));
  }
}

}  // namespace internal

template <class Function, class... Args>
Benchmark* RegisterBenchmark(const char* name, Function&& function, Args&&... args) {
  auto bound = [function = std::forward<Function>(function), ... args = std::forward<Args>(args)](State& state) {
    function(state, args...);
  };
  internal::registry().push_back(std::make_unique<Benchmark>(name, std::move(bound)));
  return internal::registry().back().get();
}

// Reads the flags listed at the top and removes them from argv; an unknown --benchmark_ flag is an error.
inline void Initialize(int* argc, char** argv) {
  internal::Flags& flags = internal::flags();
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    const std::string argument = argv[i];
    auto value_of = [&](const char* prefix, std::string& value) {
      const std::string start = std::string("--") + prefix + "=";
      if (argument.rfind(start, 0) != 0) return false;
      value = argument.substr(start.size());
      return true;
    };
    std::string value;
    if (value_of("benchmark_filter", value)) {
      flags.filter = value;
    } else if (value_of("benchmark_min_time", value)) {
      char* end = nullptr;
      flags.min_time = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || (*end != '\0' && std::string(end) != "s") || flags.min_time < 0) {
        std::fprintf(stderr, "%s: --benchmark_min_time needs seconds, got '%s'\n", argv[0], value.c_str());
        std::exit(1);
      }
    } else if (value_of("benchmark_format", value) || value_of("benchmark_out_format", value)) {
      if (value != "json" && value != "console") {
        std::fprintf(stderr, "%s: %s: json or console only (bench/fallback)\n", argv[0], argument.c_str());
        std::exit(1);
      }
      (argument.rfind("--benchmark_format", 0) == 0 ? flags.format : flags.out_format) = value;
    } else if (value_of("benchmark_out", value)) {
      flags.out = value;
    } else if (argument.rfind("--benchmark_", 0) == 0) {
      std::fprintf(stderr, "%s: %s is not supported by bench/fallback (Google Benchmark is not installed)\n",
                   argv[0], argument.c_str());
      std::exit(1);
    } else {
      argv[kept++] = argv[i];
    }
  }
  *argc = kept;
}

inline size_t RunSpecifiedBenchmarks() {
  const internal::Flags& flags = internal::flags();
  const std::regex filter(flags.filter == "all" ? "." : flags.filter);
  std::vector<internal::Result> results;
  for (const auto& benchmark : internal::registry()) {
    if (!std::regex_search(benchmark->name(), filter)) continue;
    results.push_back(internal::run_one(*benchmark));
    if (flags.format == "console") std::cout << internal::to_console(results.back()) << std::endl;
  }
  if (flags.format == "json") std::cout << internal::to_json(results);
  if (!flags.out.empty()) {
    const std::string temporary = flags.out + ".tmp";
    {
      std::ofstream file(temporary);
      if (flags.out_format == "json") {
        file << internal::to_json(results);
      } else {
        for (const internal::Result& r : results) file << internal::to_console(r) << "\n";
      }
      if (!file) {
        std::fprintf(stderr, "cannot write %s\n", temporary.c_str());
        std::exit(1);
      }
    }
    if (std::rename(temporary.c_str(), flags.out.c_str()) != 0) {
      std::fprintf(stderr, "cannot rename %s to %s\n", temporary.c_str(), flags.out.c_str());
      std::exit(1);
    }
  }
  return results.size();
}

inline void Shutdown() { internal::registry().clear(); }

}  // namespace benchmark
