// Seeded, counter-based random numbers (Philox4x32-10). A Generator is (seed, offset): each draw of n numbers
// consumes offsets [offset, offset + n) and advances the offset, so a stream is reproducible from its state and
// element i of a draw is the same whichever device or thread computes it. Its state is two integers, saved in
// checkpoints so a resumed run continues the same streams.
#pragma once
#include <cstdint>

namespace pneuma {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5eed) : seed_(seed) {}

  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }

  // Reserves `count` consecutive counters and returns the first; the caller draws element i at (seed, first + i).
  // Offsets advance in multiples of 4 (one Philox block) so reservations never share a block.
  uint64_t reserve(uint64_t count) {
    const uint64_t first = offset_;
    offset_ += (count + 3) / 4 * 4;
    return first;
  }

  double uniform();           // one number in [0, 1)
  double normal();            // one standard normal
  uint64_t next_u64();        // 64 random bits
  int64_t integer(int64_t low, int64_t high);  // uniform in [low, high)

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

Generator& default_generator();
void manual_seed(uint64_t seed);  // reseeds the default generator (offset 0)

}  // namespace pneuma
