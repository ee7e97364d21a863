#include "engine/tensor.h"

#include <cmath>
#include <cstring>
#include <numeric>

#include "engine/allocator.h"
#include "engine/autograd.h"
#include "engine/rng.h"
#include "engine/transfer.h"
#include "kernels/elementwise.h"
#include "kernels/parallel.h"
#include "kernels/philox.h"
#if PNEUMA_WITH_CUDA
#include "kernels/cuda/device_memory.h"
#endif

namespace pneuma {

std::string shape_string(const Shape& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<int64_t> contiguous_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t stride = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return strides;
}

// ---- Storage ------------------------------------------------------------------------------------
Storage::Storage(size_t bytes_, Device device_) : bytes(bytes_), device(device_) {
  allocator = &device_allocator(device);
  data = allocator->allocate(bytes);
}
Storage::Storage(size_t bytes_, Allocator& allocator_)
    : bytes(bytes_), device(allocator_.device()), allocator(&allocator_) {
  data = allocator->allocate(bytes);
}
Storage::Storage(void* data_, size_t bytes_, Device device_, std::shared_ptr<void> keep_alive_)
    : data(data_), bytes(bytes_), device(device_), keep_alive(std::move(keep_alive_)) {}
Storage::~Storage() {
  // A block freed while an upload into it may still run: later compute that reuses it must come after the copy.
  if (ready_event) wait_for_upload(*this);
  if (allocator != nullptr) allocator->deallocate(data, bytes);
}

// ---- creation -----------------------------------------------------------------------------------
Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) PNEUMA_CHECK(d >= 0, "negative dimension in shape %s", shape_string(shape).c_str());
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill(0.0);
  return t;
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill(value);
  return t;
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  PNEUMA_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
               "from_vector: %zu values do not fill shape %s", values.size(), shape_string(shape).c_str());
  Tensor t = empty(shape, dtype_of<T>());
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  return t;
}
template Tensor Tensor::from_vector<float>(const std::vector<float>&, const Shape&);
template Tensor Tensor::from_vector<double>(const std::vector<double>&, const Shape&);
template Tensor Tensor::from_vector<int32_t>(const std::vector<int32_t>&, const Shape&);
template Tensor Tensor::from_vector<int64_t>(const std::vector<int64_t>&, const Shape&);
template Tensor Tensor::from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&);

Tensor Tensor::scalar(double value, DType dtype) { return full({}, value, dtype); }

Tensor Tensor::uniform(const Shape& shape, double low, double high, Generator& generator, DType dtype) {
  Tensor t = empty(shape, dtype);
  const int64_t n = t.numel();
  const uint64_t seed = generator.seed(), first = generator.reserve(static_cast<uint64_t>(n));
  dispatch_floating(dtype, "Tensor::uniform", [&]<class T>() {
    T* out = t.data<T>();
    kernels::parallel_for(n, 1 << 14, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        out[i] = static_cast<T>(low + (high - low) * kernels::philox_uniform_at(seed, first, i));
    });
  });
  return t;
}

Tensor Tensor::normal(const Shape& shape, double mean, double stddev, Generator& generator, DType dtype) {
  Tensor t = empty(shape, dtype);
  const int64_t n = t.numel();
  const uint64_t seed = generator.seed(), first = generator.reserve(static_cast<uint64_t>(n) * 2);
  dispatch_floating(dtype, "Tensor::normal", [&]<class T>() {
    T* out = t.data<T>();
    kernels::parallel_for(n, 1 << 14, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        out[i] = static_cast<T>(mean + stddev * kernels::philox_normal_at(seed, first, i));
    });
  });
  return t;
}

// ---- metadata -----------------------------------------------------------------------------------
const TensorImpl& Tensor::checked() const {
  PNEUMA_CHECK(impl_ != nullptr, "use of an undefined tensor");
  return *impl_;
}
const Shape& Tensor::shape() const { return checked().shape; }
int Tensor::rank() const { return static_cast<int>(checked().shape.size()); }
int64_t Tensor::dim(int axis) const {
  const int r = rank();
  const int a = axis < 0 ? axis + r : axis;
  PNEUMA_CHECK(a >= 0 && a < r, "axis %d out of range for a rank-%d tensor", axis, r);
  return impl_->shape[a];
}
int64_t Tensor::numel() const { return shape_numel(checked().shape); }
DType Tensor::dtype() const { return checked().dtype; }
Device Tensor::device() const { return checked().storage->device; }
const std::vector<int64_t>& Tensor::strides() const { return checked().strides; }
int64_t Tensor::storage_offset() const { return checked().offset; }
bool Tensor::is_contiguous() const {
  const TensorImpl& t = checked();
  int64_t expected = 1;
  for (int i = static_cast<int>(t.shape.size()) - 1; i >= 0; --i) {
    if (t.shape[i] != 1 && t.strides[i] != expected) return false;
    expected *= t.shape[i];
  }
  return true;
}
const std::string& Tensor::name() const { return checked().name; }
Tensor& Tensor::set_name(std::string name) {
  impl_->name = std::move(name);
  return *this;
}
std::string Tensor::describe() const {
  if (!defined()) return "undefined";
  return std::string(dtype_name(dtype())) + shape_string(shape()) + " " + device().name();
}
bool Tensor::same_storage(const Tensor& other) const {
  return defined() && other.defined() && impl_->storage == other.impl_->storage;
}

// ---- data ---------------------------------------------------------------------------------------
void* Tensor::raw_data() {
  const TensorImpl& t = checked();
  if (t.storage->ready_event) [[unlikely]] wait_for_upload(*t.storage);
  return static_cast<char*>(t.storage->data) + t.offset * static_cast<int64_t>(dtype_size(t.dtype));
}
const void* Tensor::raw_data() const { return const_cast<Tensor*>(this)->raw_data(); }

template <class T>
T* Tensor::data() {
  PNEUMA_CHECK(dtype() == dtype_of<T>(), "tensor holds %s, accessed as %s", dtype_name(dtype()),
               dtype_name(dtype_of<T>()));
  return static_cast<T*>(raw_data());
}
template <class T>
const T* Tensor::data() const {
  return const_cast<Tensor*>(this)->data<T>();
}
template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = to(Device::cpu()).contiguous();
  if (host.dtype() != dtype_of<T>()) host = host.to(dtype_of<T>());
  const T* p = host.data<T>();
  return std::vector<T>(p, p + host.numel());
}

#define PNEUMA_INSTANTIATE_DATA(T)                       \
  template T* Tensor::data<T>();                         \
  template const T* Tensor::data<T>() const;             \
  template std::vector<T> Tensor::to_vector<T>() const;
PNEUMA_INSTANTIATE_DATA(float)
PNEUMA_INSTANTIATE_DATA(double)
PNEUMA_INSTANTIATE_DATA(int32_t)
PNEUMA_INSTANTIATE_DATA(int64_t)
PNEUMA_INSTANTIATE_DATA(uint8_t)
#undef PNEUMA_INSTANTIATE_DATA

double Tensor::item() const {
  PNEUMA_CHECK(numel() == 1, "item() needs a single-element tensor, got %s", describe().c_str());
  return to_vector<double>()[0];
}

// ---- data-level transforms ----------------------------------------------------------------------
namespace {

// Reads element i of a contiguous host buffer of any dtype as double, and writes one.
double read_as_double(const void* data, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::f32: return static_cast<const float*>(data)[i];
    case DType::f64: return static_cast<const double*>(data)[i];
    case DType::i32: return static_cast<const int32_t*>(data)[i];
    case DType::i64: return static_cast<double>(static_cast<const int64_t*>(data)[i]);
    case DType::u8: return static_cast<const uint8_t*>(data)[i];
    case DType::bf16: {
      float value;
      kernels::cpu::convert_bf16_to_f32(1, static_cast<const uint16_t*>(data) + i, &value);
      return value;
    }
    case DType::f16: {
      float value;
      kernels::cpu::convert_f16_to_f32(1, static_cast<const uint16_t*>(data) + i, &value);
      return value;
    }
  }
  return 0;
}

void write_from_double(void* data, DType dtype, int64_t i, double value) {
  switch (dtype) {
    case DType::f32: static_cast<float*>(data)[i] = static_cast<float>(value); break;
    case DType::f64: static_cast<double*>(data)[i] = value; break;
    case DType::i32: static_cast<int32_t*>(data)[i] = static_cast<int32_t>(value); break;
    case DType::i64: static_cast<int64_t*>(data)[i] = static_cast<int64_t>(value); break;
    case DType::u8: static_cast<uint8_t*>(data)[i] = static_cast<uint8_t>(value); break;
    case DType::bf16: {
      const float f = static_cast<float>(value);
      kernels::cpu::convert_f32_to_bf16(1, &f, static_cast<uint16_t*>(data) + i);
      break;
    }
    case DType::f16: {
      const float f = static_cast<float>(value);
      kernels::cpu::convert_f32_to_f16(1, &f, static_cast<uint16_t*>(data) + i);
      break;
    }
  }
}

// Packs a strided host tensor of any dtype into `destination` (same dtype, contiguous).
void pack_host(const Tensor& source, void* destination) {
  const size_t element = dtype_size(source.dtype());
  if (source.is_contiguous()) {
    std::memcpy(destination, source.raw_data(), source.nbytes());
    return;
  }
  const int rank = source.rank();
  PNEUMA_CHECK(rank <= kernels::kMaxRank, "tensors of rank > %d are not supported", kernels::kMaxRank);
  switch (element) {
    case 8:
      kernels::cpu::copy_strided(rank, source.shape().data(), source.strides().data(),
                                 static_cast<const double*>(source.raw_data()), static_cast<double*>(destination));
      break;
    case 4:
      kernels::cpu::copy_strided(rank, source.shape().data(), source.strides().data(),
                                 static_cast<const float*>(source.raw_data()), static_cast<float*>(destination));
      break;
    default: {
      // 1- and 2-byte types: walk the index space directly.
      const int64_t n = source.numel();
      std::vector<int64_t> index(rank, 0);
      const char* base = static_cast<const char*>(source.raw_data());
      char* out = static_cast<char*>(destination);
      for (int64_t i = 0; i < n; ++i) {
        int64_t offset = 0;
        for (int a = 0; a < rank; ++a) offset += index[a] * source.strides()[a];
        std::memcpy(out + i * element, base + offset * static_cast<int64_t>(element), element);
        for (int a = rank - 1; a >= 0; --a) {
          if (++index[a] < source.shape()[a]) break;
          index[a] = 0;
        }
      }
    }
  }
}

#if PNEUMA_WITH_CUDA
// Dtype conversion of a packed device tensor into `destination` (same shape, same device): f32 ⇄ f64 / bf16 /
// f16 directly, other floating pairs through f32.
void convert_on_device(const Tensor& source, Tensor& destination) {
  const DType from = source.dtype(), to = destination.dtype();
  PNEUMA_CHECK(is_floating(from) && is_floating(to),
               "copy_from: device-side conversion needs floating dtypes (%s into %s)", source.describe().c_str(),
               destination.describe().c_str());
  const int64_t n = source.numel();
  const void* in = source.raw_data();
  void* out = destination.raw_data();
  if (from == DType::f32) {
    switch (to) {
      case DType::f64: return kernels::cuda::convert_f32_to_f64(n, static_cast<const float*>(in), static_cast<double*>(out));
      case DType::bf16: return kernels::cuda::convert_f32_to_bf16(n, static_cast<const float*>(in), static_cast<uint16_t*>(out));
      case DType::f16: return kernels::cuda::convert_f32_to_f16(n, static_cast<const float*>(in), static_cast<uint16_t*>(out));
      default: break;
    }
  } else if (to == DType::f32) {
    switch (from) {
      case DType::f64: return kernels::cuda::convert_f64_to_f32(n, static_cast<const double*>(in), static_cast<float*>(out));
      case DType::bf16: return kernels::cuda::convert_bf16_to_f32(n, static_cast<const uint16_t*>(in), static_cast<float*>(out));
      case DType::f16: return kernels::cuda::convert_f16_to_f32(n, static_cast<const uint16_t*>(in), static_cast<float*>(out));
      default: break;
    }
  }
  Tensor through_f32 = Tensor::empty(source.shape(), DType::f32, source.device());
  convert_on_device(source, through_f32);
  convert_on_device(through_f32, destination);
}
#endif

}  // namespace

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor copy = empty(shape(), dtype(), device());
  copy.copy_from(*this);
  return copy;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  const TensorImpl& t = checked();
  impl->shape = t.shape;
  impl->strides = t.strides;
  impl->offset = t.offset;
  impl->dtype = t.dtype;
  impl->storage = t.storage;
  impl->name = t.name;
  return Tensor(std::move(impl));
}

Tensor Tensor::view(const Shape& requested) const {
  PNEUMA_CHECK(is_contiguous(), "view of a non-contiguous tensor %s (call contiguous() first)", describe().c_str());
  Shape shape = requested;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      PNEUMA_CHECK(infer < 0, "view: more than one -1 in %s", shape_string(requested).c_str());
      infer = static_cast<int>(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    PNEUMA_CHECK(known > 0 && numel() % known == 0, "view: cannot infer -1 in %s for %lld elements",
                 shape_string(requested).c_str(), static_cast<long long>(numel()));
    shape[infer] = numel() / known;
  }
  PNEUMA_CHECK(shape_numel(shape) == numel(), "view: %s has %lld elements, tensor %s has %lld",
               shape_string(shape).c_str(), static_cast<long long>(shape_numel(shape)), describe().c_str(),
               static_cast<long long>(numel()));
  Tensor result = detach();
  result.impl_->shape = shape;
  result.impl_->strides = contiguous_strides(shape);
  return result;
}

Tensor Tensor::narrow(int axis, int64_t start, int64_t length) const {
  const int r = rank();
  const int a = axis < 0 ? axis + r : axis;
  PNEUMA_CHECK(a >= 0 && a < r, "narrow: axis %d out of range for rank %d", axis, r);
  PNEUMA_CHECK(start >= 0 && length >= 0 && start + length <= shape()[a],
               "narrow: [%lld, %lld) outside axis %d of size %lld", static_cast<long long>(start),
               static_cast<long long>(start + length), axis, static_cast<long long>(shape()[a]));
  Tensor result = detach();
  result.impl_->shape[a] = length;
  result.impl_->offset += start * impl_->strides[a];
  return result;
}

Tensor Tensor::permute(const std::vector<int>& order) const {
  const int r = rank();
  PNEUMA_CHECK(static_cast<int>(order.size()) == r, "permute: %zu axes given for rank %d", order.size(), r);
  std::vector<bool> seen(r, false);
  Tensor result = detach();
  for (int i = 0; i < r; ++i) {
    PNEUMA_CHECK(order[i] >= 0 && order[i] < r && !seen[order[i]], "permute: invalid axis order");
    seen[order[i]] = true;
    result.impl_->shape[i] = impl_->shape[order[i]];
    result.impl_->strides[i] = impl_->strides[order[i]];
  }
  return result;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor result = empty(shape(), target, device());
  result.copy_from(*this);
  return result;
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor result = empty(shape(), dtype(), target);
  result.copy_from(*this);
  return result;
}

Tensor Tensor::to(Device target, bool non_blocking) const {
  if (non_blocking && target.is_cuda() && device().is_cpu()) return upload_async(*this, target);
  return to(target);
}

Tensor Tensor::pin_memory() const {
  PNEUMA_CHECK(device().is_cpu(), "pin_memory: %s is not a CPU tensor", describe().c_str());
  if (!cuda_built()) return contiguous();
  if (is_pinned() && is_contiguous()) return *this;
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape();
  impl->strides = contiguous_strides(shape());
  impl->dtype = dtype();
  impl->storage = std::make_shared<Storage>(nbytes(), pinned_host_allocator());
  Tensor pinned(std::move(impl));
  if (numel() > 0) pack_host(*this, pinned.raw_data());
  return pinned;
}

bool Tensor::is_pinned() const { return cuda_built() && checked().storage->allocator == &pinned_host_allocator(); }

void Tensor::copy_from(const Tensor& source) {
  PNEUMA_CHECK(source.shape() == shape(), "copy_from: shape %s into %s", shape_string(source.shape()).c_str(),
               shape_string(shape()).c_str());
  PNEUMA_CHECK(is_contiguous(), "copy_from: destination must be contiguous");
  if (numel() == 0) return;
  // Bring the source to the host (or keep it on its device) packed, then convert.
  if (device().is_cpu() && source.device().is_cpu()) {
    if (source.dtype() == dtype()) {
      pack_host(source, raw_data());
      return;
    }
    Tensor packed = source.contiguous();
    const int64_t n = numel();
    const void* in = packed.raw_data();
    void* out = raw_data();
    if (source.dtype() == DType::f32 && dtype() == DType::f64) {
      kernels::cpu::convert_f32_to_f64(n, static_cast<const float*>(in), static_cast<double*>(out));
    } else if (source.dtype() == DType::f64 && dtype() == DType::f32) {
      kernels::cpu::convert_f64_to_f32(n, static_cast<const double*>(in), static_cast<float*>(out));
    } else if (source.dtype() == DType::f32 && dtype() == DType::bf16) {
      kernels::cpu::convert_f32_to_bf16(n, static_cast<const float*>(in), static_cast<uint16_t*>(out));
    } else if (source.dtype() == DType::bf16 && dtype() == DType::f32) {
      kernels::cpu::convert_bf16_to_f32(n, static_cast<const uint16_t*>(in), static_cast<float*>(out));
    } else {
      for (int64_t i = 0; i < n; ++i) write_from_double(out, dtype(), i, read_as_double(in, source.dtype(), i));
    }
    return;
  }
#if PNEUMA_WITH_CUDA
  kernels::cuda::set_device(device().is_cuda() ? device().index : source.device().index);
  if (device().is_cuda() && source.device().is_cpu()) {
    // Pack and convert on the host, then upload.
    const Tensor packed = source.contiguous().to(dtype());
    kernels::cuda::copy_host_to_device(raw_data(), packed.raw_data(), nbytes());
  } else if (device().is_cpu()) {
    // Pack on the device, download, convert on the host.
    const Tensor packed = source.contiguous();
    if (packed.dtype() == dtype()) {
      kernels::cuda::copy_device_to_host(raw_data(), packed.raw_data(), nbytes());
    } else {
      Tensor host = empty(shape(), packed.dtype());
      kernels::cuda::copy_device_to_host(host.raw_data(), packed.raw_data(), host.nbytes());
      copy_from(host);
    }
  } else if (source.dtype() != dtype()) {
    convert_on_device(source.contiguous(), *this);
  } else if (source.is_contiguous()) {
    kernels::cuda::copy_device_to_device(raw_data(), source.raw_data(), nbytes());
  } else {
    PNEUMA_CHECK(source.rank() <= kernels::kMaxRank, "tensors of rank > %d are not supported", kernels::kMaxRank);
    kernels::cuda::copy_strided(source.rank(), source.shape().data(), source.strides().data(),
                                dtype_size(dtype()), source.raw_data(), raw_data());
  }
#else
  PNEUMA_FAIL("copy between %s and %s needs the CUDA backend", source.describe().c_str(), describe().c_str());
#endif
}

void Tensor::fill(double value) {
  PNEUMA_CHECK(is_contiguous(), "fill: tensor must be contiguous");
  if (device().is_cuda()) {
#if PNEUMA_WITH_CUDA
    kernels::cuda::set_device(device().index);
    if (value == 0.0 && !std::signbit(value)) {  // all-zero bits in every dtype
      kernels::cuda::zero_device(raw_data(), nbytes());
      return;
    }
    if (dtype() == DType::f32) {
      kernels::cuda::fill<float>(numel(), static_cast<float>(value), data<float>());
      return;
    }
#endif
    Tensor host = full(shape(), value, dtype());
    copy_from(host);
    return;
  }
  const int64_t n = numel();
  switch (dtype()) {
    case DType::f32: kernels::cpu::fill(n, static_cast<float>(value), data<float>()); break;
    case DType::f64: kernels::cpu::fill(n, value, data<double>()); break;
    default:
      for (int64_t i = 0; i < n; ++i) write_from_double(raw_data(), dtype(), i, value);
  }
}

// ---- autograd accessors -------------------------------------------------------------------------
bool Tensor::requires_grad() const { return checked().requires_grad || checked().grad_fn != nullptr; }
Tensor& Tensor::set_requires_grad(bool required) {
  PNEUMA_CHECK(checked().grad_fn == nullptr,
               "set_requires_grad on a non-leaf tensor (the result of a recorded op); detach() it first");
  PNEUMA_CHECK(!required || is_floating(dtype()), "only floating-point tensors can require gradients");
  impl_->requires_grad = required;
  return *this;
}
bool Tensor::is_leaf() const { return checked().grad_fn == nullptr; }
const Tensor& Tensor::grad() const { return checked().grad; }
Tensor& Tensor::mutable_grad() { return impl_->grad; }
void Tensor::set_grad(const Tensor& grad) { impl_->grad = grad; }
void Tensor::zero_grad() { impl_->grad = Tensor(); }
const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked().grad_fn; }
void Tensor::backward(const Tensor& gradient, bool retain_graph) const { run_backward(*this, gradient, retain_graph); }

}  // namespace pneuma
