// The checkpoint readers on files written by the frameworks themselves (tests/fixtures/import/, made by
// tools/make_import_fixtures.py): every dtype, strided and offset views, wrappers, Fortran order, Keras layouts —
// and the files that must be rejected with a message saying why.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/weights_import/import_test_support.h"
#include "weights_import/keras_h5.h"
#include "weights_import/npz.h"
#include "weights_import/tensor_archive.h"
#include "weights_import/torch_checkpoint.h"

namespace pneuma::weights_import {
namespace {

using test::import_fixture;

std::vector<double> values_of(const Tensor& tensor) { return tensor.to(DType::f64).to_vector<double>(); }

std::vector<double> arange(int64_t count, double scale = 1, double offset = 0) {
  std::vector<double> out;
  for (int64_t i = 0; i < count; ++i) out.push_back(static_cast<double>(i) * scale + offset);
  return out;
}

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

void expect_tensor(const TensorArchive& archive, const std::string& name, DType dtype, const Shape& shape,
                   const std::vector<double>& values) {
  SCOPED_TRACE(name);
  ASSERT_TRUE(archive.contains(name));
  const Tensor& t = archive.at(name);
  EXPECT_EQ(t.dtype(), dtype);
  EXPECT_EQ(t.shape(), shape);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(values_of(t), values);
}

TEST(ImportTorchReader, ReadsEveryDtypeViewAndStride) {
  const TensorArchive archive = read_tensor_archive(import_fixture("tensors.pth"));
  EXPECT_EQ(archive.metadata.at("format"), "torch");
  ASSERT_EQ(archive.tensors.size(), 16u);
  EXPECT_EQ(archive.tensors.front().name, "f32");  // file order
  expect_tensor(archive, "f32", DType::f32, {2, 3, 4}, arange(24, 0.5));
  std::vector<double> transposed;  // (arange(12).reshape(3, 4) + 100).t()
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) transposed.push_back(100 + j * 4 + i);
  expect_tensor(archive, "f32_transposed", DType::f32, {4, 3}, transposed);
  expect_tensor(archive, "f32_offset", DType::f32, {2, 3}, arange(6, 0.25, 1.25));
  expect_tensor(archive, "f32_expanded", DType::f32, {2, 3}, {1, 2, 3, 1, 2, 3});
  expect_tensor(archive, "shared_a", DType::f32, {6}, arange(6, 1, -6));
  expect_tensor(archive, "shared_b", DType::f32, {2, 3}, {0, 2, 4, 1, 3, 5});
  std::vector<double> thirds;
  for (int i = 0; i < 6; ++i) thirds.push_back(i / 3.0);
  expect_tensor(archive, "f64", DType::f64, {2, 3}, thirds);
  expect_tensor(archive, "f16", DType::f16, {8}, arange(8, 0.25));
  expect_tensor(archive, "bf16", DType::bf16, {8}, arange(8, 2));
  expect_tensor(archive, "i64", DType::i64, {5}, arange(5, 1, -2));
  expect_tensor(archive, "i32", DType::i32, {5}, arange(5, 3));
  expect_tensor(archive, "u8", DType::u8, {6}, arange(6, 1, 250));
  expect_tensor(archive, "bool", DType::u8, {3}, {1, 0, 1});
  expect_tensor(archive, "scalar", DType::f32, {}, {3.5});
  expect_tensor(archive, "empty", DType::f32, {0, 3}, {});
  expect_tensor(archive, "param", DType::f32, {4}, arange(4, -1));
}

TEST(ImportTorchReader, UnwrapsTrainingCheckpointsAndReadsProtocol4) {
  for (const char* name : {"wrapped.pth", "protocol4.pth"}) {
    SCOPED_TRACE(name);
    const TensorArchive archive = read_torch_checkpoint(import_fixture(name));
    ASSERT_EQ(archive.tensors.size(), 2u);  // epoch and optimizer settings are not tensors
    expect_tensor(archive, "f32", DType::f32, {2, 3, 4}, arange(24, 0.5));
    expect_tensor(archive, "i64", DType::i64, {5}, arange(5, 1, -2));
  }
  EXPECT_EQ(read_torch_checkpoint(import_fixture("wrapped.pth")).metadata.at("torch.state_dict_key"), "model");
}

TEST(ImportTorchReader, ReadsRebuildTensorV3OverUntypedStorage) {
  const TensorArchive archive = read_tensor_archive(import_fixture("rebuild_v3.pth"));
  expect_tensor(archive, "v3", DType::f32, {2, 3}, arange(6, 0.5));
  EXPECT_EQ(archive.metadata.at("torch.byteorder"), "little");
}

TEST(ImportTorchReader, RejectsWithMessagesNamingTheProblem) {
  EXPECT_NE(error_of([] {
              read_tensor_archive(import_fixture("unsupported_dtype.pth"));
            }).find("tensor 'bad' (data.pkl byte"),
            std::string::npos);
  EXPECT_NE(error_of([] { read_tensor_archive(import_fixture("unsupported_dtype.pth")); }).find("dtype int16"),
            std::string::npos);
  const std::string legacy = error_of([] { read_tensor_archive(import_fixture("legacy.pth")); });
  EXPECT_NE(legacy.find("legacy torch.save format"), std::string::npos) << legacy;
  EXPECT_NE(legacy.find("legacy.pth"), std::string::npos) << legacy;
}

TEST(ImportTorchReader, RejectsUnknownGlobalsAndOpcodesWithTheirOffset) {
  test::ScratchDirectory scratch;
  auto run = [&](const std::string& program) {
    const std::string path = scratch.file("crafted.pth");
    test::write_bytes(path, test::make_stored_zip({{"crafted/data.pkl", program}}));
    return error_of([&] { read_tensor_archive(path); });
  };
  const std::string global =
      run(std::string("\x80\x02"
                      "cos\nsystem\n"
                      "X\x02\x00\x00\x00"
                      "ls"
                      "\x85R.",
                      23));
  EXPECT_NE(global.find("byte 2: global 'os.system'"), std::string::npos) << global;
  const std::string opcode = run("\x80\x02}I42\n.");  // INT (protocol 0) is not in the subset
  EXPECT_NE(opcode.find("byte 3: unsupported pickle opcode 0x49 ('I')"), std::string::npos) << opcode;
  const std::string truncated =
      run(std::string("\x80\x02}X\xff\x00\x00\x00"
                      "ab",
                      10));
  EXPECT_NE(truncated.find("byte 3: BINUNICODE needs 255 bytes but only 2 remain"), std::string::npos) << truncated;
  const std::string no_tensors = run("\x80\x02}.");
  EXPECT_NE(no_tensors.find("holds no tensors"), std::string::npos) << no_tensors;
}

TEST(ImportNpzReader, ReadsCAndFortranOrderAndEveryDtype) {
  for (const char* name : {"tensors.npz", "compressed.npz"}) {
    SCOPED_TRACE(name);
    const TensorArchive archive = read_tensor_archive(import_fixture(name));
    EXPECT_EQ(archive.metadata.at("format"), "npz");
    ASSERT_EQ(archive.tensors.size(), 10u);
    expect_tensor(archive, "c_f4", DType::f32, {2, 3, 4}, arange(24, 0.5));
    expect_tensor(archive, "fortran_f4", DType::f32, {3, 4}, arange(12, 1, 100));
    expect_tensor(archive, "fortran_3d", DType::f64, {2, 3, 4}, arange(24));
    std::vector<double> thirds;
    for (int i = 0; i < 6; ++i) thirds.push_back(i / 3.0);
    expect_tensor(archive, "f8", DType::f64, {2, 3}, thirds);
    expect_tensor(archive, "i8", DType::i64, {5}, arange(5, 1, -2));
    expect_tensor(archive, "i4", DType::i32, {5}, arange(5, 3));
    expect_tensor(archive, "u1", DType::u8, {6}, arange(6, 1, 250));
    expect_tensor(archive, "b1", DType::u8, {3}, {1, 0, 1});
    expect_tensor(archive, "scalar", DType::f32, {}, {3.5});
    expect_tensor(archive, "empty", DType::f32, {0, 3}, {});
  }
}

TEST(ImportNpzReader, ParsesHeaderVersionsAndRejectsBadHeaders) {
  auto npy = [](int major, const std::string& header, const std::string& data) {
    std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
    const size_t length = header.size();
    out += static_cast<char>(length & 0xFF);
    out += static_cast<char>(length >> 8 & 0xFF);
    if (major > 1) out += std::string(2, '\0');
    return out + header + data;
  };
  const std::string two_floats("\x00\x00\x80\x3f\x00\x00\x00\x40", 8);  // 1.0f, 2.0f
  for (int major : {1, 2, 3}) {
    const Tensor t = parse_npy(npy(major, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", two_floats),
                               std::to_string(major));
    EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2}));
  }
  const Tensor big = parse_npy(
      npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,)}", std::string("\x3f\x80\x00\x00", 4)), "be");
  EXPECT_EQ(big.to_vector<float>(), std::vector<float>{1.0f});
  const std::string structured = error_of(
      [&] { parse_npy(npy(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", "abcd"), "rec"); });
  EXPECT_NE(structured.find("structured arrays are not supported"), std::string::npos) << structured;
  const std::string short_data = error_of(
      [&] { parse_npy(npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}", two_floats), "short"); });
  EXPECT_NE(short_data.find("short: holds 8 data bytes after its header"), std::string::npos) << short_data;
  EXPECT_NE(short_data.find("but <f8 [3] needs 24"), std::string::npos) << short_data;
  EXPECT_NE(error_of([&] {
              parse_npy(npy(1, "{'descr': '<c8', 'fortran_order': False, 'shape': ()}", two_floats), "c");
            }).find("dtype '<c8' is not supported"),
            std::string::npos);
}

TEST(ImportKerasReader, ReadsSaveWeightsLayout) {
  const TensorArchive archive = read_tensor_archive(import_fixture("keras_weights.h5"));
  EXPECT_EQ(archive.metadata.at("format"), "keras_h5");
  EXPECT_EQ(archive.metadata.at("keras.layout"), "save_weights");
  EXPECT_EQ(archive.metadata.at("keras.keras_version"), "2.11.0");
  ASSERT_EQ(archive.tensors.size(), 7u);  // Conv1_relu has no weights
  const std::vector<std::string> names = {"Conv1/kernel",         "bn_Conv1/gamma",           "bn_Conv1/beta",
                                          "bn_Conv1/moving_mean", "bn_Conv1/moving_variance", "predictions/kernel",
                                          "predictions/bias"};
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(archive.tensors[i].name, names[i]);
  expect_tensor(archive, "Conv1/kernel", DType::f32, {3, 3, 2, 4}, arange(72, 0.125));
  expect_tensor(archive, "bn_Conv1/moving_variance", DType::f32, {4}, arange(4, 0.125, 4));
  expect_tensor(archive, "predictions/kernel", DType::f32, {4, 5}, arange(20, 0.125, 5));
}

TEST(ImportKerasReader, ReadsModelSaveLayoutWithSplitAttributesAndOtherFloatWidths) {
  const TensorArchive archive = read_keras_h5(import_fixture("keras_model.h5"));
  EXPECT_EQ(archive.metadata.at("keras.layout"), "model.save");
  ASSERT_EQ(archive.tensors.size(), 3u);
  expect_tensor(archive, "stem_conv/kernel", DType::f32, {3, 3, 3, 2}, arange(54, 0.125));  // float16 on disk
  expect_tensor(archive, "block1a_dwconv/depthwise_kernel", DType::f64, {3, 3, 2, 1}, arange(18, 0.125, 1));
  expect_tensor(archive, "top_bn/gamma", DType::f32, {2}, arange(2, 0.125, 2));
}

TEST(ImportKerasReader, RejectsKeras3AndNonHdf5) {
  const std::string keras3 = error_of([] { read_tensor_archive(import_fixture("keras3.weights.h5")); });
  EXPECT_NE(keras3.find("Keras 3 .weights.h5 file, which is not supported"), std::string::npos) << keras3;
  const std::string not_hdf5 = error_of([] { read_keras_h5(import_fixture("tensors.npz")); });
  EXPECT_NE(not_hdf5.find("cannot open as HDF5"), std::string::npos) << not_hdf5;
  EXPECT_EQ(not_hdf5.find('\n'), std::string::npos);
}

TEST(ImportSafetensorsReader, ReadsThroughTheEngineReader) {
  const TensorArchive archive = read_tensor_archive(import_fixture("tensors.safetensors"));
  EXPECT_EQ(archive.metadata.at("format"), "safetensors");
  EXPECT_EQ(archive.metadata.at("writer"), "make_import_fixtures.py");
  expect_tensor(archive, "a", DType::f32, {2, 3}, arange(6));
  expect_tensor(archive, "b", DType::i64, {4}, arange(4));
  expect_tensor(archive, "c", DType::f64, {3}, arange(3, 0.25));
}

TEST(ImportFormatDetection, NamesWhatItCannotRead) {
  test::ScratchDirectory scratch;
  const std::string text = scratch.file("notes.txt");
  test::write_bytes(text, "hello, these are not weights");
  EXPECT_NE(error_of([&] { read_tensor_archive(text); }).find("unrecognised weights format"), std::string::npos);
  const std::string zip = scratch.file("other.zip");
  test::write_bytes(zip, test::make_stored_zip({{"readme.txt", "hi"}}));
  EXPECT_NE(error_of([&] { read_tensor_archive(zip); }).find("neither a PyTorch checkpoint"), std::string::npos);
  EXPECT_NE(error_of([&] { read_tensor_archive(scratch.file("missing.pth")); }).find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace pneuma::weights_import
