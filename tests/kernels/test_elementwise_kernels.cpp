// CPU elementwise kernels against naive double-precision references: broadcast binary ops forward and backward
// (plus finite differences), fills, scaled copies, deterministic sums, strided and row copies, all_finite.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/elementwise.h"
#include "kernels/error.h"
#include "kernels/parallel.h"

namespace pneuma::kernels {
namespace {

using Shape = std::vector<int64_t>;

int64_t element_count(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_text(const Shape& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

// NumPy broadcasting: right-align the shapes; each operand gets its contiguous strides, 0 on broadcast axes.
BroadcastShape broadcast(const Shape& a, const Shape& b) {
  BroadcastShape s;
  s.rank = static_cast<int>(std::max(a.size(), b.size()));
  int64_t a_step = 1, b_step = 1;
  for (int d = s.rank - 1; d >= 0; --d) {
    const int from_end = s.rank - 1 - d;
    const int64_t a_size = from_end < static_cast<int>(a.size()) ? a[a.size() - 1 - from_end] : 1;
    const int64_t b_size = from_end < static_cast<int>(b.size()) ? b[b.size() - 1 - from_end] : 1;
    EXPECT_TRUE(a_size == b_size || a_size == 1 || b_size == 1);
    s.shape[d] = a_size == 1 ? b_size : a_size;
    s.a_stride[d] = a_size == 1 ? 0 : a_step;
    s.b_stride[d] = b_size == 1 ? 0 : b_step;
    a_step *= a_size;
    b_step *= b_size;
  }
  return s;
}

// Offsets of output element `flat` into a and b.
void operand_offsets(const BroadcastShape& s, int64_t flat, int64_t* a_offset, int64_t* b_offset) {
  *a_offset = *b_offset = 0;
  for (int d = s.rank - 1; d >= 0; --d) {
    const int64_t index = flat % s.shape[d];
    flat /= s.shape[d];
    *a_offset += index * s.a_stride[d];
    *b_offset += index * s.b_stride[d];
  }
}

double apply(Binary op, double x, double y) {
  switch (op) {
    case Binary::add: return x + y;
    case Binary::subtract: return x - y;
    case Binary::multiply: return x * y;
    case Binary::divide: return x / y;
  }
  return 0;
}

// d(op)/d(operand) at (x, y).
double partial(Binary op, int which, double x, double y) {
  switch (op) {
    case Binary::add: return 1;
    case Binary::subtract: return which == 0 ? 1 : -1;
    case Binary::multiply: return which == 0 ? y : x;
    case Binary::divide: return which == 0 ? 1 / y : -x / (y * y);
  }
  return 0;
}

template <class T>
std::vector<T> random_values(int64_t count, std::mt19937& rng, double low = -2, double high = 2) {
  std::uniform_real_distribution<double> uniform(low, high);
  std::vector<T> v(static_cast<size_t>(count));
  for (auto& x : v) x = static_cast<T>(uniform(rng));
  return v;
}

// Divisors kept away from zero so divide's gradient is well conditioned.
template <class T>
std::vector<T> random_divisors(int64_t count, std::mt19937& rng) {
  std::vector<T> v = random_values<T>(count, rng, 0.5, 2.0);
  std::bernoulli_distribution negative(0.5);
  for (auto& x : v)
    if (negative(rng)) x = -x;
  return v;
}

template <class T>
void expect_close(const std::vector<T>& got, const std::vector<double>& want, double atol, double rtol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    const double error = std::fabs(static_cast<double>(got[i]) - want[i]);
    ASSERT_FALSE(std::isnan(static_cast<double>(got[i]))) << what << " element " << i << " not written or NaN";
    ASSERT_LE(error, atol + rtol * std::fabs(want[i]))
        << what << " element " << i << ": got " << got[i] << ", want " << want[i];
  }
}

const Binary kAllOps[] = {Binary::add, Binary::subtract, Binary::multiply, Binary::divide};
const char* op_name(Binary op) {
  switch (op) {
    case Binary::add: return "add";
    case Binary::subtract: return "subtract";
    case Binary::multiply: return "multiply";
    case Binary::divide: return "divide";
  }
  return "?";
}

struct BroadcastCase {
  Shape a, b;
};
const std::vector<BroadcastCase> kBroadcastCases = {
    {{3, 1, 5}, {4, 1}},         {{}, {2, 3}},           {{2, 3}, {}},           {{2, 3, 4, 5}, {5}},
    {{5}, {2, 3, 4, 5}},         {{7, 1}, {1, 9}},       {{1}, {1}},             {{6, 5, 4}, {6, 1, 4}},
    {{2, 1, 3, 1}, {1, 4, 1, 5}}, {{513}, {513}},        {{301, 257}, {257}},    {{301, 257}, {301, 1}},
    {{3, 1}, {3, 40000}},        {{2, 3, 1, 7}, {3, 11, 1}}, {{1, 1, 1}, {17}},   {{9000}, {}},
};

class ThreadCount {
 public:
  explicit ThreadCount(int threads) : saved_(max_threads()) { set_max_threads(threads); }
  ~ThreadCount() { set_max_threads(saved_); }

 private:
  int saved_;
};

template <class T>
void check_binary_forward(double tolerance) {
  std::mt19937 rng(11);
  for (const auto& c : kBroadcastCases) {
    const BroadcastShape s = broadcast(c.a, c.b);
    const auto a = random_values<T>(element_count(c.a), rng);
    const auto b = random_divisors<T>(element_count(c.b), rng);
    for (Binary op : kAllOps) {
      std::vector<T> output(static_cast<size_t>(s.count()), std::numeric_limits<T>::quiet_NaN());
      cpu::binary_forward<T>(op, s, a.data(), b.data(), output.data());
      std::vector<double> want(output.size());
      for (int64_t i = 0; i < s.count(); ++i) {
        int64_t ia, ib;
        operand_offsets(s, i, &ia, &ib);
        want[i] = apply(op, a[ia], b[ib]);
      }
      expect_close(output, want, tolerance, tolerance,
                   std::string(op_name(op)) + " " + shape_text(c.a) + " with " + shape_text(c.b));
    }
  }
}

TEST(ElementwiseKernels, BinaryForwardMatchesNaiveFloat) { check_binary_forward<float>(1e-6); }
TEST(ElementwiseKernels, BinaryForwardMatchesNaiveDouble) { check_binary_forward<double>(1e-15); }

TEST(ElementwiseKernels, BinaryForwardInPlaceIntoFirstOperand) {
  std::mt19937 rng(3);
  const BroadcastShape s = broadcast({4, 33}, {33});
  auto a = random_values<float>(4 * 33, rng);
  const auto b = random_values<float>(33, rng);
  const auto original = a;
  cpu::binary_forward<float>(Binary::add, s, a.data(), b.data(), a.data());
  for (int i = 0; i < 4 * 33; ++i) EXPECT_EQ(a[i], original[i] + b[i % 33]);
}

// Reference gradient: for each output element, add partial · grad_output into the operand element it read.
template <class T>
void check_binary_backward(double tolerance) {
  std::mt19937 rng(12);
  for (const auto& c : kBroadcastCases) {
    const BroadcastShape s = broadcast(c.a, c.b);
    const auto a = random_values<T>(element_count(c.a), rng);
    const auto b = random_divisors<T>(element_count(c.b), rng);
    const auto grad_output = random_values<T>(s.count(), rng);
    for (Binary op : kAllOps) {
      for (int which = 0; which < 2; ++which) {
        const int64_t operand_count = element_count(which == 0 ? c.a : c.b);
        std::vector<double> want(static_cast<size_t>(operand_count), 0.0);
        for (int64_t i = 0; i < s.count(); ++i) {
          int64_t ia, ib;
          operand_offsets(s, i, &ia, &ib);
          want[which == 0 ? ia : ib] += partial(op, which, a[ia], b[ib]) * grad_output[i];
        }
        std::vector<T> got(static_cast<size_t>(operand_count), std::numeric_limits<T>::quiet_NaN());
        cpu::binary_backward<T>(op, s, which, a.data(), b.data(), grad_output.data(), got.data());
        // Sums over up to 40000 terms: scale the tolerance with the number of summed terms.
        const double terms = static_cast<double>(s.count()) / static_cast<double>(operand_count);
        expect_close(got, want, tolerance * std::sqrt(terms) * 4, tolerance * 4,
                     std::string(op_name(op)) + " grad of operand " + std::to_string(which) + " " + shape_text(c.a) +
                         " with " + shape_text(c.b));
      }
    }
  }
}

TEST(ElementwiseKernels, BinaryBackwardMatchesNaiveFloat) { check_binary_backward<float>(1e-6); }
TEST(ElementwiseKernels, BinaryBackwardMatchesNaiveDouble) { check_binary_backward<double>(1e-14); }

// Loss = Σ c_i · out_i, so d(loss)/d(operand) is binary_backward with grad_output = c; checked by central
// differences on every operand element.
TEST(ElementwiseKernels, BinaryBackwardFiniteDifference) {
  std::mt19937 rng(13);
  const std::vector<BroadcastCase> cases = {
      {{3, 1, 5}, {4, 1}}, {{}, {2, 3}}, {{2, 3, 4, 5}, {5}}, {{2, 1, 3, 1}, {1, 4, 1, 5}}, {{6, 5}, {6, 5}}};
  for (const auto& c : cases) {
    const BroadcastShape s = broadcast(c.a, c.b);
    std::vector<double> operands[2] = {random_values<double>(element_count(c.a), rng),
                                       random_divisors<double>(element_count(c.b), rng)};
    const auto weights = random_values<double>(s.count(), rng);
    for (Binary op : kAllOps) {
      auto loss = [&]() {
        std::vector<double> output(static_cast<size_t>(s.count()));
        cpu::binary_forward<double>(op, s, operands[0].data(), operands[1].data(), output.data());
        double total = 0;
        for (size_t i = 0; i < output.size(); ++i) total += weights[i] * output[i];
        return total;
      };
      for (int which = 0; which < 2; ++which) {
        std::vector<double> analytic(operands[which].size());
        cpu::binary_backward<double>(op, s, which, operands[0].data(), operands[1].data(), weights.data(),
                                     analytic.data());
        for (size_t j = 0; j < operands[which].size(); ++j) {
          const double saved = operands[which][j], h = 1e-6;
          operands[which][j] = saved + h;
          const double up = loss();
          operands[which][j] = saved - h;
          const double down = loss();
          operands[which][j] = saved;
          const double numeric = (up - down) / (2 * h);
          EXPECT_NEAR(analytic[j], numeric, 1e-7 + 1e-6 * std::fabs(numeric))
              << op_name(op) << " operand " << which << " element " << j << " " << shape_text(c.a) << " with "
              << shape_text(c.b);
        }
      }
    }
  }
}

TEST(ElementwiseKernels, BinaryBackwardBitIdenticalForAnyThreadCount) {
  std::mt19937 rng(14);
  // Shapes that exercise the chunked reductions: scalar, tiny and wide bias-style, and row sums.
  const std::vector<BroadcastCase> cases = {
      {{200000}, {}}, {{70000, 3}, {3}}, {{900, 300}, {300}}, {{5000, 40}, {5000, 1}}, {{3, 20000, 7}, {3, 1, 7}}};
  for (const auto& c : cases) {
    const BroadcastShape s = broadcast(c.a, c.b);
    const auto a = random_values<float>(element_count(c.a), rng);
    const auto b = random_divisors<float>(element_count(c.b), rng);
    const auto grad_output = random_values<float>(s.count(), rng);
    for (Binary op : {Binary::add, Binary::multiply}) {
      std::vector<float> results[2];
      for (int threads = 1; threads <= 2; ++threads) {
        ThreadCount scoped(threads);
        results[threads - 1].assign(static_cast<size_t>(element_count(c.b)), 0.0f);
        cpu::binary_backward<float>(op, s, 1, a.data(), b.data(), grad_output.data(), results[threads - 1].data());
      }
      for (size_t i = 0; i < results[0].size(); ++i)
        ASSERT_EQ(results[0][i], results[1][i]) << op_name(op) << " " << shape_text(c.a) << " element " << i;
    }
  }
}

TEST(ElementwiseKernels, BinaryBackwardEmptyOutputGivesZeroGradient) {
  const BroadcastShape s = broadcast({0, 3}, {3});
  const float b[3] = {1, 2, 3};
  float grad_b[3] = {7, 7, 7};
  cpu::binary_backward<float>(Binary::multiply, s, 1, nullptr, b, nullptr, grad_b);
  for (float g : grad_b) EXPECT_EQ(g, 0.0f);
}

TEST(ElementwiseKernels, BinaryBackwardRejectsBadOperandIndex) {
  const BroadcastShape s = broadcast({2}, {2});
  const float a[2] = {1, 2}, b[2] = {3, 4}, g[2] = {1, 1};
  float out[2];
  EXPECT_THROW(cpu::binary_backward<float>(Binary::add, s, 2, a, b, g, out), Error);
}

TEST(ElementwiseKernels, FillScaleAxpy) {
  std::mt19937 rng(15);
  for (int64_t count : {int64_t{0}, int64_t{1}, int64_t{17}, int64_t{100003}}) {
    std::vector<double> filled(static_cast<size_t>(count), 0.0);
    cpu::fill<double>(count, 2.5, filled.data());
    for (double v : filled) ASSERT_EQ(v, 2.5);

    const auto x = random_values<float>(count, rng);
    auto y = random_values<float>(count, rng);
    std::vector<float> scaled(static_cast<size_t>(count), std::numeric_limits<float>::quiet_NaN());
    cpu::scale<float>(count, -1.75f, x.data(), scaled.data());
    for (int64_t i = 0; i < count; ++i) ASSERT_EQ(scaled[i], -1.75f * x[i]);

    auto in_place = x;
    cpu::scale<float>(count, 0.5f, in_place.data(), in_place.data());
    for (int64_t i = 0; i < count; ++i) ASSERT_EQ(in_place[i], 0.5f * x[i]);

    const auto y_before = y;
    cpu::axpy<float>(count, 3.0f, x.data(), y.data());
    for (int64_t i = 0; i < count; ++i) ASSERT_NEAR(y[i], y_before[i] + 3.0 * x[i], 1e-6);
  }
}

TEST(ElementwiseKernels, SumAndSumOfSquaresMatchNaive) {
  std::mt19937 rng(16);
  for (int64_t count : {int64_t{0}, int64_t{1}, int64_t{15}, int64_t{16385}, int64_t{1000003}}) {
    const auto x = random_values<float>(count, rng);
    long double sum = 0, squares = 0;
    for (float v : x) sum += v, squares += static_cast<long double>(v) * v;
    EXPECT_NEAR(cpu::sum<float>(count, x.data()), static_cast<double>(sum), 1e-12 * (1 + count));
    EXPECT_NEAR(cpu::sum_of_squares<float>(count, x.data()), static_cast<double>(squares), 1e-12 * (1 + count));
    const auto xd = random_values<double>(count, rng);
    long double sum_double = 0;
    for (double v : xd) sum_double += v;
    EXPECT_NEAR(cpu::sum<double>(count, xd.data()), static_cast<double>(sum_double), 1e-12 * (1 + count));
  }
}

TEST(ElementwiseKernels, SumBitIdenticalWithOneAndTwoThreads) {
  std::mt19937 rng(17);
  const int64_t count = 3 * (1 << 20) + 12345;
  const auto x = random_values<float>(count, rng, -1e3, 1e3);
  const auto xd = random_values<double>(count, rng, -1e3, 1e3);
  double sums[2], squares[2], sums_double[2];
  for (int threads = 1; threads <= 2; ++threads) {
    ThreadCount scoped(threads);
    sums[threads - 1] = cpu::sum<float>(count, x.data());
    squares[threads - 1] = cpu::sum_of_squares<float>(count, x.data());
    sums_double[threads - 1] = cpu::sum<double>(count, xd.data());
  }
  EXPECT_EQ(sums[0], sums[1]);
  EXPECT_EQ(squares[0], squares[1]);
  EXPECT_EQ(sums_double[0], sums_double[1]);
}

TEST(ElementwiseKernels, CopyStridedGathersPermutedAndBroadcastViews) {
  std::mt19937 rng(18);
  // Source [3,4,5] contiguous; view it permuted to [5,3,4] (strides {1,20,5}).
  const auto source = random_values<float>(60, rng);
  {
    const int64_t shape[] = {5, 3, 4}, strides[] = {1, 20, 5};
    std::vector<float> out(60, std::numeric_limits<float>::quiet_NaN());
    cpu::copy_strided<float>(3, shape, strides, source.data(), out.data());
    for (int i = 0; i < 5; ++i)
      for (int j = 0; j < 3; ++j)
        for (int k = 0; k < 4; ++k) ASSERT_EQ(out[(i * 3 + j) * 4 + k], source[j * 20 + k * 5 + i]);
  }
  {  // broadcast view: row of 7 repeated 6 times (stride 0), then a column slice with stride 2
    const int64_t shape[] = {6, 7}, strides[] = {0, 1};
    std::vector<float> out(42, std::numeric_limits<float>::quiet_NaN());
    cpu::copy_strided<float>(2, shape, strides, source.data(), out.data());
    for (int i = 0; i < 6; ++i)
      for (int k = 0; k < 7; ++k) ASSERT_EQ(out[i * 7 + k], source[k]);
    const int64_t column_shape[] = {30}, column_strides[] = {2};
    std::vector<float> column(30);
    cpu::copy_strided<float>(1, column_shape, column_strides, source.data(), column.data());
    for (int i = 0; i < 30; ++i) ASSERT_EQ(column[i], source[2 * i]);
  }
  {  // large transposed matrix to exercise threading: [700, 300] from [300, 700]
    const auto big = random_values<double>(700 * 300, rng);
    const int64_t shape[] = {700, 300}, strides[] = {1, 700};
    std::vector<double> out(700 * 300);
    cpu::copy_strided<double>(2, shape, strides, big.data(), out.data());
    for (int i = 0; i < 700; ++i)
      for (int j = 0; j < 300; ++j) ASSERT_EQ(out[i * 300 + j], big[j * 700 + i]);
  }
  {  // rank 0: one element
    double scalar = 4.25, out = 0;
    cpu::copy_strided<double>(0, nullptr, nullptr, &scalar, &out);
    EXPECT_EQ(out, 4.25);
  }
}

TEST(ElementwiseKernels, CopyRowsWithDifferentStrides) {
  std::mt19937 rng(19);
  const int64_t rows = 37, width = 5, source_stride = 9, destination_stride = 12;
  const auto source = random_values<float>(rows * source_stride, rng);
  std::vector<float> destination(rows * destination_stride, -99.0f);
  cpu::copy_rows<float>(rows, width, source.data() + 2, source_stride, destination.data() + 4, destination_stride);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < destination_stride; ++c) {
      const bool inside = c >= 4 && c < 4 + width;
      ASSERT_EQ(destination[r * destination_stride + c], inside ? source[r * source_stride + 2 + c - 4] : -99.0f);
    }
}

TEST(ElementwiseKernels, AllFiniteFindsNanAndInfAnywhere) {
  const int64_t count = 100003;
  std::vector<float> x(count, 1.0f);
  std::vector<double> xd(count, 1.0);
  EXPECT_TRUE(cpu::all_finite(count, x.data()));
  EXPECT_TRUE(cpu::all_finite(count, xd.data()));
  EXPECT_TRUE(cpu::all_finite(0, x.data()));
  x[0] = std::numeric_limits<float>::max();
  xd[0] = std::numeric_limits<double>::denorm_min();
  EXPECT_TRUE(cpu::all_finite(count, x.data()));
  EXPECT_TRUE(cpu::all_finite(count, xd.data()));
  for (int64_t position : {int64_t{0}, int64_t{16384}, count - 1}) {
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                      -std::numeric_limits<float>::infinity()}) {
      auto y = x;
      y[position] = bad;
      EXPECT_FALSE(cpu::all_finite(count, y.data())) << "position " << position << " value " << bad;
      auto yd = xd;
      yd[position] = bad;
      EXPECT_FALSE(cpu::all_finite(count, yd.data())) << "position " << position << " value " << bad;
    }
  }
}

}  // namespace
}  // namespace pneuma::kernels
