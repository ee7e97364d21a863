// Tensor: a reference-counted handle to (storage, shape, strides, dtype, device) plus autograd state.
// Copying a Tensor copies the handle, not the data. Images are NHWC; linear activations are [rows, features].
//
// The methods on Tensor are data-level: they never record autograd. Differentiable operations (reshape, add,
// conv2d, ...) are free functions in engine/ops.h.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/dtype.h"

namespace pneuma {

using Shape = std::vector<int64_t>;
std::string shape_string(const Shape& shape);  // "[2, 3, 4]"
int64_t shape_numel(const Shape& shape);

class Allocator;
class Generator;
class Node;
struct TensorImpl;

// Owns (or, with a custom releaser, borrows) one block of memory on one device.
struct Storage {
  Storage(size_t bytes, Device device);                                        // allocates
  Storage(size_t bytes, Allocator& allocator);                                 // allocates from `allocator`
  Storage(void* data, size_t bytes, Device device, std::shared_ptr<void> keep_alive);  // borrows
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data = nullptr;
  size_t bytes = 0;
  Device device;
  Allocator* allocator = nullptr;     // null when borrowed
  std::shared_ptr<void> keep_alive;  // for borrowed memory (e.g. a mapped file)
  std::shared_ptr<void> ready_event;  // CUDA: set while an asynchronous upload into this memory may be running
                                      // (engine/transfer.h); the first raw_data() makes compute wait for it
};

class Tensor {
 public:
  Tensor() = default;

  // ---- creation -------------------------------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu()) {
    return full(shape, 1.0, dtype, device);
  }
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);
  static Tensor scalar(double value, DType dtype = DType::f32);
  // Random tensors from a counter-based generator (the same numbers on every device and thread count).
  static Tensor uniform(const Shape& shape, double low, double high, Generator& generator, DType dtype = DType::f32);
  static Tensor normal(const Shape& shape, double mean, double stddev, Generator& generator, DType dtype = DType::f32);

  // ---- metadata -------------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim(int axis) const;  // negative axes count from the end
  int rank() const;
  int64_t numel() const;
  DType dtype() const;
  Device device() const;
  const std::vector<int64_t>& strides() const;
  int64_t storage_offset() const;  // in elements
  bool is_contiguous() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }
  const std::string& name() const;
  Tensor& set_name(std::string name);
  std::string describe() const;  // "f32[2, 3] cpu"

  // ---- data -----------------------------------------------------------------------------------
  void* raw_data();
  const void* raw_data() const;
  template <class T>
  T* data();  // checks dtype; pointer to the first element (respecting the storage offset)
  template <class T>
  const T* data() const;
  template <class T>
  std::vector<T> to_vector() const;  // contiguous copy on the host
  double item() const;               // single-element tensor as double

  // ---- data-level transforms (no autograd) ------------------------------------------------------
  Tensor contiguous() const;                   // self if contiguous, else a packed copy
  Tensor clone() const;                        // always a packed copy, same dtype and device
  Tensor detach() const;                       // same data, no autograd history, requires_grad false
  Tensor view(const Shape& shape) const;       // contiguous only; one -1 allowed
  Tensor narrow(int axis, int64_t start, int64_t length) const;  // a view
  Tensor permute(const std::vector<int>& order) const;            // a view (non-contiguous)
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  // non_blocking: a CPU→CUDA copy runs asynchronously on the transfer stream and overlaps with compute
  // (engine/transfer.h); any other move is the blocking to(device).
  Tensor to(Device device, bool non_blocking) const;
  // A packed copy in page-locked host memory (self when it already is one); the source of fast, asynchronous
  // uploads. CPU tensors only; without CUDA, pinning means nothing and this is contiguous().
  Tensor pin_memory() const;
  bool is_pinned() const;
  void copy_from(const Tensor& source);        // same shape; any dtype/device; writes into this tensor's data
  void fill(double value);

  // ---- autograd -------------------------------------------------------------------------------
  bool requires_grad() const;  // a leaf marked for gradients, or the result of a recorded op
  Tensor& set_requires_grad(bool required);  // leaves only
  bool is_leaf() const;
  const Tensor& grad() const;  // undefined until a backward pass reaches this leaf
  Tensor& mutable_grad();
  void set_grad(const Tensor& grad);
  void zero_grad();  // drops the gradient (it is re-created, not zero-filled, by the next backward)
  // Backpropagates from this tensor. A non-scalar needs an explicit gradient of the same shape.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  const std::shared_ptr<Node>& grad_fn() const;

  // ---- internals ------------------------------------------------------------------------------
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same_storage(const Tensor& other) const;

 private:
  const TensorImpl& checked() const;
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  Shape shape;
  std::vector<int64_t> strides;  // in elements
  int64_t offset = 0;            // in elements
  DType dtype = DType::f32;
  std::shared_ptr<Storage> storage;
  bool requires_grad = false;    // leaves only; non-leaves require grad through grad_fn
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
  std::string name;
};

std::vector<int64_t> contiguous_strides(const Shape& shape);

}  // namespace pneuma
