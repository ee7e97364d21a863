// Runs body(i) for i in [0, count) on `threads` std::threads (work handed out one index at a time). The first
// exception thrown by any body stops the handing out and is rethrown in the caller. Used for decoding many
// files (duplicate check, cache build), where each item is coarse.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace pneuma::data {

template <class Body>
void parallel_map(size_t count, int threads, Body&& body) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  const auto work = [&] {
    while (!failed.load()) {
      const size_t i = next.fetch_add(1);
      if (i >= count) return;
      try {
        body(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  const size_t workers = std::min<size_t>(std::max(threads, 1), std::max<size_t>(count, 1));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < workers; ++t) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace pneuma::data
