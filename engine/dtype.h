// Element types a tensor can hold. fp32 is the compute type today; fp64 serves gradient checks; bf16/fp16 are
// representable (storage and conversion) so mixed precision can follow without an API change.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/error.h"

namespace pneuma {

enum class DType : uint8_t { f32, f64, bf16, f16, i32, i64, u8 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::bf16: return 2;
    case DType::f16: return 2;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::u8: return 1;
  }
  return 0;
}

const char* dtype_name(DType t);
DType dtype_from_name(const std::string& name);  // "f32", "float32", "F32", ... ; throws on unknown
bool is_floating(DType t);

template <class T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::u8; }

// Calls body.template operator()<T>() with T = float or double according to `dtype`; other types are an error
// naming the operation. Usage: dispatch_floating(x.dtype(), "conv2d", [&]<class T>() { ... });
template <class Body>
decltype(auto) dispatch_floating(DType dtype, const char* operation, Body&& body) {
  switch (dtype) {
    case DType::f32: return body.template operator()<float>();
    case DType::f64: return body.template operator()<double>();
    default: break;
  }
  PNEUMA_FAIL("%s: dtype %s is not supported (f32 and f64 are)", operation, dtype_name(dtype));
}

}  // namespace pneuma
