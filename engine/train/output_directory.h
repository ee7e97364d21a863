// The run folder of `pneuma train` / `pneuma eval`: created when missing and checked for write permission before
// any work starts, so an unwritable output folder is one clear error at once instead of a failure hours later.
#pragma once
#include <string>

namespace pneuma::train {

void prepare_output_directory(const std::string& directory);

}  // namespace pneuma::train
