// The process-wide precision of the CUDA GEMM core (kernels/gemm.h): TF32 tensor cores or exact fp32 FFMA.
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels/error.h"
#include "kernels/gemm.h"

namespace pneuma::kernels::cuda {
namespace {

MatmulPrecision initial_precision() {
  const char* value = std::getenv("PNEUMA_MATMUL_PRECISION");
  if (value == nullptr || value[0] == '\0' || std::strcmp(value, "tf32") == 0) return MatmulPrecision::tf32;
  if (std::strcmp(value, "fp32") == 0) return MatmulPrecision::fp32;
  PNEUMA_FAIL("PNEUMA_MATMUL_PRECISION must be tf32 or fp32, got '%s'", value);
}

std::atomic<MatmulPrecision>& current() {
  static std::atomic<MatmulPrecision> precision{initial_precision()};
  return precision;
}

}  // namespace

void set_matmul_precision(MatmulPrecision precision) { current().store(precision); }
MatmulPrecision matmul_precision() { return current().load(); }

}  // namespace pneuma::kernels::cuda
