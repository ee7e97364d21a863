// Shape ops: reshape (a view of contiguous input), flatten, and concat along any axis.
#include <string>

#include "engine/ops.h"
#include "engine/ops/op_support.h"

namespace pneuma {

Tensor reshape(const Tensor& input_, const Shape& shape) {
  const char* op = "reshape";
  PNEUMA_CHECK(input_.defined(), "reshape: input is undefined");
  // A view when the input is contiguous (any device: no kernel runs), else a packed copy, which needs a kernel.
  // Tensor::view resolves -1 and checks the size.
  if (!input_.is_contiguous()) ops_detail::require_kernel(op, input_);
  Tensor output = input_.contiguous().view(shape);
  const Shape input_shape = input_.shape();
  return record_operation(op, output, {input_}, [input_shape](const Tensor& grad_output, const std::vector<bool>&) {
    return std::vector<Tensor>{grad_output.contiguous().view(input_shape)};
  });
}

Tensor flatten(const Tensor& input, int start_axis) {
  PNEUMA_CHECK(input.defined(), "flatten: input is undefined");
  const int rank = input.rank();
  if (rank == 0) return reshape(input, {1});
  const int start = ops_detail::normalize_axis("flatten", start_axis, rank);
  Shape shape(input.shape().begin(), input.shape().begin() + start);
  shape.push_back(shape_numel(Shape(input.shape().begin() + start, input.shape().end())));
  return reshape(input, shape);
}

Tensor concat(const std::vector<Tensor>& inputs_, int axis_) {
  const char* op = "concat";
  PNEUMA_CHECK(!inputs_.empty(), "concat: no inputs");
  const Tensor& first = inputs_[0];
  PNEUMA_CHECK(first.defined(), "concat: input 0 is undefined");
  const int rank = first.rank();
  PNEUMA_CHECK(rank >= 1, "concat: inputs must have at least one axis, got %s", first.describe().c_str());
  const int axis = ops_detail::normalize_axis(op, axis_, rank);
  const DType dtype = ops_detail::check_floating_operands(op, {{"input 0", first}});

  Shape output_shape = first.shape();
  output_shape[axis] = 0;
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const Tensor& input = inputs_[i];
    PNEUMA_CHECK(input.defined(), "concat: input %zu is undefined", i);
    const std::string name = "input " + std::to_string(i);
    ops_detail::check_floating_operands(op, {{"input 0", first}, {name.c_str(), input}});
    bool compatible = input.rank() == rank;
    for (int d = 0; compatible && d < rank; ++d) compatible = d == axis || input.dim(d) == first.dim(d);
    PNEUMA_CHECK(compatible, "concat: input %zu %s does not match input 0 %s outside axis %d", i,
                 input.describe().c_str(), first.describe().c_str(), axis);
    output_shape[axis] += input.dim(axis);
  }

  // Viewed as [outer, axis · inner]: each input is a block of columns of width dim(axis) · inner.
  const int64_t outer = shape_numel(Shape(output_shape.begin(), output_shape.begin() + axis));
  const int64_t inner = shape_numel(Shape(output_shape.begin() + axis + 1, output_shape.end()));
  const int64_t output_width = output_shape[axis] * inner;
  std::vector<int64_t> widths, column_offsets;
  std::vector<Shape> input_shapes;
  int64_t column = 0;
  for (const Tensor& input : inputs_) {
    widths.push_back(input.dim(axis) * inner);
    column_offsets.push_back(column);
    input_shapes.push_back(input.shape());
    column += widths.back();
  }

  Tensor output = Tensor::empty(output_shape, dtype, first.device());
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const Tensor input = inputs_[i].contiguous();
    ops_detail::dispatch(
        input, op,
        [&]<class T>() {
          kernels::cpu::copy_rows<T>(outer, widths[i], input.data<T>(), widths[i],
                                     output.data<T>() + column_offsets[i], output_width);
        },
        [&] {
          kernels::cuda::copy_rows(outer, widths[i], sizeof(float), input.data<float>(), widths[i],
                                   output.data<float>() + column_offsets[i], output_width);
        });
  }
  return record_operation(
      op, output, inputs_,
      [outer, output_width, widths, column_offsets, input_shapes](const Tensor& grad_output_,
                                                                  const std::vector<bool>& needs) {
        const Tensor grad_output = grad_output_.contiguous();
        std::vector<Tensor> grads(input_shapes.size());
        for (size_t i = 0; i < grads.size(); ++i) {
          if (!needs[i]) continue;
          grads[i] = Tensor::empty(input_shapes[i], grad_output.dtype(), grad_output.device());
          ops_detail::dispatch(
              grad_output, "concat backward",
              [&]<class T>() {
                kernels::cpu::copy_rows<T>(outer, widths[i], grad_output.data<T>() + column_offsets[i], output_width,
                                           grads[i].template data<T>(), widths[i]);
              },
              [&] {
                kernels::cuda::copy_rows(outer, widths[i], sizeof(float), grad_output.data<float>() + column_offsets[i],
                                         output_width, grads[i].data<float>(), widths[i]);
              });
        }
        return grads;
      });
}

}  // namespace pneuma
