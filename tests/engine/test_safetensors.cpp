// The safetensors reader and writer: round trips, a file written by Python, and hostile input (truncation, random
// corruption, hand-made bad headers) that must throw pneuma::Error and never crash or over-read.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "engine/rng.h"
#include "engine/safetensors.h"

namespace pneuma {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed with everything in it.
class ScratchDirectory {
 public:
  ScratchDirectory() {
    std::string pattern = (fs::temp_directory_path() / "pneuma-safetensors-XXXXXX").string();
    PNEUMA_CHECK(::mkdtemp(pattern.data()) != nullptr, "mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDirectory() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(path_)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  fs::path path_;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Replaces rather than truncates: ext4 flushes a file truncated and rewritten (auto_da_alloc), which made the
// corruption loops slow.
void write_bytes(const std::string& path, const std::string& bytes) {
  fs::remove(path);
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A tensor of `dtype` whose bytes are a deterministic pattern (every bit pattern is fine for a byte round trip).
Tensor patterned(const Shape& shape, DType dtype, uint8_t seed) {
  Tensor t = Tensor::empty(shape, dtype);
  auto* bytes = static_cast<uint8_t*>(t.raw_data());
  for (size_t i = 0; i < t.nbytes(); ++i) bytes[i] = static_cast<uint8_t>(seed + 37 * i + (i >> 3));
  return t;
}

void expect_same_bytes(const Tensor& got, const Tensor& expected, const std::string& name) {
  ASSERT_EQ(got.dtype(), expected.dtype()) << name;
  ASSERT_EQ(got.shape(), expected.shape()) << name;
  Tensor packed = expected.contiguous();
  ASSERT_EQ(got.nbytes(), packed.nbytes()) << name;
  if (got.nbytes() > 0) {
    EXPECT_EQ(std::memcmp(got.raw_data(), packed.raw_data(), got.nbytes()), 0) << name;
  }
}

// A file assembled by hand: header text and data bytes.
std::string assemble(const std::string& header, const std::string& data) {
  const uint64_t length = header.size();
  std::string bytes(reinterpret_cast<const char*>(&length), 8);
  return bytes + header + data;
}

// The message of the pneuma::Error that reading `bytes` throws ("" and a test failure when it does not).
std::string read_error(const ScratchDirectory& dir, const std::string& bytes) {
  const std::string path = dir.file("bad.safetensors");
  write_bytes(path, bytes);
  try {
    read_safetensors(path);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for " << bytes.substr(8);
  return "";
}

std::vector<NamedTensor> sample_tensors() {
  Generator generator(7);
  return {{"conv.weight", Tensor::normal({4, 3, 3, 2}, 0, 1, generator)},
          {"bn.running_mean", Tensor::normal({4}, 0, 1, generator, DType::f64)},
          {"labels", Tensor::from_vector<int32_t>({3, 1, 4, 1, 5}, {5})},
          {"step", Tensor::from_vector<int64_t>({12345}, {})}};
}

TEST(Safetensors, RoundTripsEverySupportedDtype) {
  ScratchDirectory dir;
  std::vector<NamedTensor> tensors;
  uint8_t seed = 1;
  for (DType dtype : {DType::f32, DType::f64, DType::bf16, DType::f16, DType::i32, DType::i64, DType::u8}) {
    tensors.push_back({std::string("matrix.") + dtype_name(dtype), patterned({3, 5}, dtype, seed++)});
    tensors.push_back({std::string("scalar.") + dtype_name(dtype), patterned({}, dtype, seed++)});
    tensors.push_back({std::string("empty.") + dtype_name(dtype), patterned({2, 0, 3}, dtype, seed++)});
  }
  tensors.push_back({"odd.u8", patterned({7}, DType::u8, 99)});  // leaves later tensors unaligned in the file
  tensors.push_back({"after_odd.f64", patterned({2, 3}, DType::f64, 98)});
  const std::string path = dir.file("all.safetensors");
  write_safetensors(path, tensors);

  const SafetensorsFile file = read_safetensors(path);
  ASSERT_EQ(file.tensors.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(file.tensors[i].name, tensors[i].name) << "header order must be kept";
    expect_same_bytes(file.tensors[i].tensor, tensors[i].tensor, tensors[i].name);
    EXPECT_EQ(file.tensors[i].tensor.name(), tensors[i].name);
  }
  EXPECT_TRUE(file.metadata.empty());
  EXPECT_EQ(file.at("scalar.f32").rank(), 0);
  EXPECT_EQ(file.at("empty.i64").numel(), 0);
  EXPECT_THROW(file.at("missing"), Error);
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, read_bytes(path).data(), 8);
  EXPECT_EQ(header_bytes % 8, 0u);  // the header is padded so the data section starts 8-byte aligned
}

TEST(Safetensors, WritesNonContiguousTensorsPacked) {
  ScratchDirectory dir;
  Tensor base = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor transposed = base.permute({1, 0});  // [[0, 3], [1, 4], [2, 5]]
  Tensor column = base.narrow(1, 1, 1);      // [[1], [4]]
  write_safetensors(dir.file("views.safetensors"), {{"transposed", transposed}, {"column", column}});
  const SafetensorsFile file = read_safetensors(dir.file("views.safetensors"));
  EXPECT_EQ(file.at("transposed").shape(), (Shape{3, 2}));
  EXPECT_EQ(file.at("transposed").to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(file.at("column").to_vector<float>(), (std::vector<float>{1, 4}));
}

TEST(Safetensors, RoundTripsMetadata) {
  ScratchDirectory dir;
  const std::map<std::string, std::string> metadata = {
      {"architecture", "efficientnet_v2_s"},
      {"config", R"({"num_classes": 10, "dropout": 0.2, "padding": "same"})"},
      {"class_names", "[\"cat\", \"dög\", \"line\\nbreak\"]"},
      {"empty", ""},
      {"unicode", "π ≈ 3.14159 — ✓"}};
  write_safetensors(dir.file("meta.safetensors"), sample_tensors(), metadata);
  const SafetensorsFile file = read_safetensors(dir.file("meta.safetensors"));
  EXPECT_EQ(file.metadata, metadata);
  EXPECT_EQ(file.tensors.size(), 4u);

  write_safetensors(dir.file("only_meta.safetensors"), {}, metadata);
  const SafetensorsFile only = read_safetensors(dir.file("only_meta.safetensors"));
  EXPECT_TRUE(only.tensors.empty());
  EXPECT_EQ(only.metadata, metadata);
}

// Written by tools/make_torch_reference.py with its own few-line safetensors writer (no HF package involved).
TEST(Safetensors, ReadsFileWrittenByPython) {
  const std::string directory = std::string(PNEUMA_SOURCE_DIR) + "/tests/fixtures/torch_reference/";
  const SafetensorsFile relu = read_safetensors(directory + "activation_relu.safetensors");
  EXPECT_EQ(relu.metadata.at("op"), "activation");
  EXPECT_NE(relu.metadata.at("params").find("\"relu\""), std::string::npos);
  const Tensor& x = relu.at("input.x");
  ASSERT_EQ(x.dtype(), DType::f32);
  ASSERT_EQ(relu.at("output").shape(), x.shape());
  const std::vector<float> input = x.to_vector<float>(), output = relu.at("output").to_vector<float>();
  const std::vector<float> grad_output = relu.at("grad_output").to_vector<float>();
  const std::vector<float> grad_input = relu.at("grad.x").to_vector<float>();
  ASSERT_GT(input.size(), 10u);
  for (size_t i = 0; i < input.size(); ++i) {  // bit-exact: relu only selects values
    EXPECT_EQ(output[i], std::max(input[i], 0.0f)) << i;
    EXPECT_EQ(grad_input[i], input[i] > 0 ? grad_output[i] : 0.0f) << i;
  }
  // Integer targets: PyTorch's native int64.
  const SafetensorsFile cross_entropy = read_safetensors(directory + "cross_entropy_plain.safetensors");
  const Tensor& targets = cross_entropy.at("input.targets");
  ASSERT_EQ(targets.dtype(), DType::i64);
  const int64_t classes = cross_entropy.at("input.logits").dim(1);
  for (int64_t t : targets.to_vector<int64_t>()) EXPECT_TRUE(t >= 0 && t < classes) << t;
}

TEST(Safetensors, TruncatedFilesThrowAtEveryLength) {
  ScratchDirectory dir;
  const std::string good = dir.file("good.safetensors");
  write_safetensors(good, sample_tensors(), {{"architecture", "test"}});
  const std::string bytes = read_bytes(good);
  const std::string cut = dir.file("cut.safetensors");
  for (size_t length = 0; length < bytes.size(); ++length) {
    write_bytes(cut, bytes.substr(0, length));
    EXPECT_THROW(read_safetensors(cut), Error) << "truncated to " << length << " of " << bytes.size() << " bytes";
  }
  // And one byte too many: the data section must be covered exactly.
  write_bytes(cut, bytes + '\0');
  EXPECT_THROW(read_safetensors(cut), Error);
}

TEST(Safetensors, RandomCorruptionThrowsOrReadsConsistently) {
  ScratchDirectory dir;
  const std::string good = dir.file("good.safetensors");
  write_safetensors(good, sample_tensors(), {{"architecture", "test"}});
  const std::string bytes = read_bytes(good);
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, bytes.data(), 8);

  std::mt19937_64 random(20240611);
  const std::string mutated_path = dir.file("mutated.safetensors");
  int errors = 0;
  constexpr int kMutations = 400;
  for (int trial = 0; trial < kMutations; ++trial) {
    std::string mutated = bytes;
    const int edits = 1 + static_cast<int>(random() % 3);
    for (int e = 0; e < edits; ++e) {
      // Mostly hit the length and JSON header, where the parsing is; sometimes the data.
      const size_t limit = random() % 5 == 0 ? mutated.size() : 8 + header_bytes;
      const size_t at = random() % std::min(limit, mutated.size());
      switch (random() % 5) {
        case 0: mutated[at] = static_cast<char>(random()); break;
        case 1: mutated[at] = static_cast<char>(mutated[at] ^ (1 << (random() % 8))); break;
        case 2: mutated[at] = "0123456789[]{}\",:-e "[random() % 20]; break;
        case 3: mutated.erase(at, 1 + random() % 4); break;
        case 4: mutated.insert(at, 1 + random() % 4, "9 ,]"[random() % 4]); break;
      }
      if (mutated.empty()) mutated.push_back(0x7b);  // "{"
    }
    write_bytes(mutated_path, mutated);
    try {
      const SafetensorsFile file = read_safetensors(mutated_path);
      // Accepted: it must then describe a file of exactly this size.
      size_t total = 0;
      for (const NamedTensor& t : file.tensors) total += t.tensor.nbytes();
      uint64_t length = 0;
      std::memcpy(&length, mutated.data(), 8);
      EXPECT_EQ(8 + length + total, mutated.size()) << "trial " << trial;
    } catch (const Error& e) {
      ++errors;
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "multi-line error: " << e.what();
      EXPECT_NE(std::string(e.what()).find(mutated_path), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "trial " << trial << ": not a pneuma::Error: " << e.what();
    }
  }
  EXPECT_GT(errors, kMutations / 2) << "the mutations should mostly break the header";
}

TEST(Safetensors, RejectsBadHeadersWithOneClearLine) {
  ScratchDirectory dir;
  const std::string f32x2 = R"("dtype":"F32","shape":[2],"data_offsets":[0,8])";
  const std::string eight(8, '\1');
  auto expect_message = [&](const std::string& bytes, std::vector<std::string> parts) {
    const std::string message = read_error(dir, bytes);
    parts.push_back(dir.file("bad.safetensors"));
    for (const std::string& part : parts) EXPECT_NE(message.find(part), std::string::npos) << message;
  };
  expect_message("\x10\0\0", {"too short"});
  expect_message(std::string("\xff\xff\xff\xff\0\0\0\0{}", 10), {"header length 4294967295", "byte 0"});
  expect_message(assemble(R"({"a":{)" + f32x2 + "}", eight), {"not valid JSON", "file byte"});
  expect_message(assemble(R"([1,2])", ""), {"JSON object"});
  expect_message(assemble(R"({"a":{"dtype":"BOOL","shape":[8],"data_offsets":[0,8]}})", eight), {"'a'", "BOOL"});
  expect_message(assemble(R"({"a":{"dtype":"Q7","shape":[8],"data_offsets":[0,8]}})", eight), {"unknown", "Q7"});
  expect_message(assemble(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight), {"'a'", "-2"});
  expect_message(assemble(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", eight), {"'a'", "2.5"});
  expect_message(assemble(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", eight),
                 {"'a'", "overflows"});
  expect_message(assemble(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight),
                 {"'a'", "[0, 8]", "needs 12"});
  expect_message(assemble(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", eight), {"'a'", "[8, 0]"});
  expect_message(assemble(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", eight), {"'a'", "data_offsets"});
  expect_message(assemble(R"({"a":{"dtype":"F32","shape":[2]}})", eight), {"'a'", "missing"});
  expect_message(assemble(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", eight),
                 {"'a'", "[8, 16]", "gap"});
  expect_message(assemble(R"({"a":{)" + f32x2 + R"(},"b":{)" + f32x2 + "}}", eight), {"overlap"});
  expect_message(assemble(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", eight),
                 {"'a'", "past the end", "truncated"});
  expect_message(assemble(R"({"a":{)" + f32x2 + "}}", eight + "xx"), {"belong to no tensor"});
  expect_message(assemble(R"({"a":{)" + f32x2 + R"(},"a":{)" + f32x2 + "}}", eight), {"'a' twice"});
  expect_message(assemble(R"({"__metadata__":{"k":3}})", ""), {"__metadata__", "'k'"});
  expect_message(assemble("{\"a\\nb\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", eight),
                 {"a\\x0ab"});  // control characters in names are escaped: one line per error
  expect_message(assemble(R"({"a":{"dtype":"F32","shape":[1e999],"data_offsets":[0,8]}})", eight), {"JSON"});
  std::string ones = "1";  // a rank-33 shape of ones
  for (int i = 1; i < 33; ++i) ones += ",1";
  expect_message(assemble(R"({"a":{"dtype":"F32","shape":[)" + ones + R"(],"data_offsets":[0,4]}})", "1234"),
                 {"'a'", "rank 33"});
  // Arrays nested 200000 deep: rejected without recursing through them (a recursive dump overflows the stack).
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  expect_message(assemble(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":)" + deep + "}}", eight),
                 {"'a'", "data_offsets", "a JSON array"});
}

TEST(Safetensors, AcceptsMinimalAndPaddedHeaders) {
  ScratchDirectory dir;
  const std::string path = dir.file("minimal.safetensors");
  write_bytes(path, assemble("{}", ""));
  EXPECT_TRUE(read_safetensors(path).tensors.empty());
  const float values[2] = {1.5f, -2.0f};
  write_bytes(path, assemble(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}   )",
                             std::string(reinterpret_cast<const char*>(values), 8)));
  EXPECT_EQ(read_safetensors(path).at("a").to_vector<float>(), (std::vector<float>{1.5f, -2.0f}));
}

TEST(Safetensors, MissingFileThrowsNamingIt) {
  try {
    read_safetensors("/nonexistent/weights.safetensors");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/weights.safetensors"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, WriterRejectsBadNamesBeforeTouchingTheDisk) {
  ScratchDirectory dir;
  const Tensor t = Tensor::zeros({2});
  EXPECT_THROW(write_safetensors(dir.file("x.safetensors"), {{"a", t}, {"a", t}}), Error);
  EXPECT_THROW(write_safetensors(dir.file("x.safetensors"), {{"", t}}), Error);
  EXPECT_THROW(write_safetensors(dir.file("x.safetensors"), {{"__metadata__", t}}), Error);
  EXPECT_THROW(write_safetensors(dir.file("x.safetensors"), {{"undefined", Tensor()}}), Error);
  EXPECT_THROW(write_safetensors(dir.file("x.safetensors"), {{"a", t}}, {{"bad utf-8", "\xff\xfe"}}), Error);
  EXPECT_TRUE(dir.entries().empty());
}

TEST(Safetensors, WritingIntoMissingDirectoryThrowsAndLeavesNothing) {
  ScratchDirectory dir;
  const std::string path = dir.file("no/such/dir/model.safetensors");
  try {
    write_safetensors(path, sample_tensors());
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(std::strerror(ENOENT)), std::string::npos) << message;
  }
  EXPECT_TRUE(dir.entries().empty());
}

TEST(Safetensors, FailedWriteLeavesExistingFileUntouched) {
  ScratchDirectory dir;
  const std::string path = dir.file("model.safetensors");
  write_safetensors(path, sample_tensors(), {{"version", "1"}});
  const std::string before = read_bytes(path);
  // Occupy the temporary's name with a directory: creating the temporary fails.
  const std::string temporary = path + ".tmp-" + std::to_string(::getpid());
  fs::create_directory(temporary);
  EXPECT_THROW(write_safetensors(path, {{"other", Tensor::ones({3})}}, {{"version", "2"}}), Error);
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_TRUE(fs::is_directory(temporary)) << "the writer must not remove what it did not create";
  fs::remove(temporary);
  EXPECT_EQ(read_safetensors(path).metadata.at("version"), "1");
}

// A full disk, simulated with a file-size limit: write() fails with EFBIG mid-file.
TEST(Safetensors, FullDiskLeavesExistingFileUntouchedAndNoTemporary) {
  ScratchDirectory dir;
  const std::string path = dir.file("model.safetensors");
  write_safetensors(path, sample_tensors());
  const std::string before = read_bytes(path);

  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  const auto saved_handler = ::signal(SIGXFSZ, SIG_IGN);  // else exceeding the limit kills the process
  rlimit limited = saved;
  limited.rlim_cur = 64 * 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  std::string message;
  try {
    write_safetensors(path, {{"big", Tensor::zeros({1 << 18})}});  // 1 MiB
  } catch (const Error& e) {
    message = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::signal(SIGXFSZ, saved_handler);

  EXPECT_NE(message.find("write failed"), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.safetensors"});
}

TEST(Safetensors, OverwritesAtomically) {
  ScratchDirectory dir;
  const std::string path = dir.file("model.safetensors");
  write_safetensors(path, sample_tensors(), {{"version", "1"}});
  write_safetensors(path, {{"x", Tensor::ones({2, 2})}}, {{"version", "2"}});
  const SafetensorsFile file = read_safetensors(path);
  EXPECT_EQ(file.metadata.at("version"), "2");
  ASSERT_EQ(file.tensors.size(), 1u);
  EXPECT_EQ(file.at("x").to_vector<float>(), (std::vector<float>(4, 1.0f)));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.safetensors"});
}

}  // namespace
}  // namespace pneuma
