// `pneuma train` / `eval` / `predict` end to end on the tiny fixture X-rays (../shared/data/fixtures): a run
// writes its checkpoints, history, metrics and report; eval and predict use its checkpoint; a run killed with
// SIGKILL and resumed ends bit-identical to one never killed; and each kind of bad input gives one error line, a
// non-zero exit and leaves an existing checkpoint as it was.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli_test_support.h"
#include "engine/device.h"
#include "engine/safetensors.h"
#include "tests/cuda/cuda_test_support.h"

namespace pneuma {
namespace {

namespace fs = std::filesystem;
using cli_testing::CliResult;
using cli_testing::fixtures_dir;
using cli_testing::read_file;
using cli_testing::run_cli;
using cli_testing::TestFolder;

const std::string kImage = "normal/IM-0010-0001.png";  // one of the fixture X-rays

// A small MobileNetV2 at 32×32 on the 16 fixture X-rays (4 classes): train 8, val 4, test 4.
std::vector<std::string> tiny_run(const std::string& out, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"train", "--data", fixtures_dir() + "/cxr_tiny", "--arch", "mobilenet_v2",
                                   "--width", "0.35", "--resolution", "32", "--epochs", "2", "--batch-size", "4",
                                   "--val-fraction", "0.25", "--test-fraction", "0.25", "--group-by", "none",
                                   "--seed", "3", "--bootstrap", "50", "--gradcam", "2", "--threads", "2",
                                   "--out", out};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

void expect_same_tensors(const std::string& a_path, const std::string& b_path) {
  const SafetensorsFile a = read_safetensors(a_path), b = read_safetensors(b_path);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const NamedTensor& entry : a.tensors) {
    ASSERT_TRUE(b.contains(entry.name)) << entry.name;
    const Tensor& other = b.at(entry.name);
    ASSERT_EQ(entry.tensor.shape(), other.shape()) << entry.name;
    EXPECT_EQ(0, std::memcmp(entry.tensor.raw_data(), other.raw_data(), entry.tensor.nbytes()))
        << "tensor " << entry.name << " differs between " << a_path << " and " << b_path;
  }
}

nlohmann::json train_state(const std::string& checkpoint) {
  return nlohmann::json::parse(read_safetensors(checkpoint).metadata.at("pneuma.train_state"));
}

TEST(TrainCli, TrainThenEvalThenPredictWithGradCam) {
  TestFolder folder("train_eval_predict");
  const std::string run = folder / "run";
  const CliResult trained = run_cli(tiny_run(run), folder / "train.log");
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  for (const char* name : {"options.json", "best.safetensors", "last.safetensors", "history.csv", "history.json",
                           "metrics.json", "report.html"})
    EXPECT_TRUE(fs::exists(run + "/" + name)) << name;
  EXPECT_NE(trained.output.find("recall covid"), std::string::npos) << trained.output;
  const nlohmann::json metrics = nlohmann::json::parse(read_file(run + "/metrics.json"));
  EXPECT_EQ(metrics.at("num_samples").get<int>(), 4);
  EXPECT_EQ(metrics.at("class_names").size(), 4u);
  EXPECT_FALSE(metrics.at("bootstrap").is_null());
  const std::string report = read_file(run + "/report.html");
  EXPECT_NE(report.find("<svg"), std::string::npos);
  EXPECT_NE(report.find("data:image/png;base64,"), std::string::npos) << "no Grad-CAM overlay in the report";
  const nlohmann::json history = nlohmann::json::parse(read_file(run + "/history.json"));
  EXPECT_EQ(history.at("epochs").size(), 2u);
  EXPECT_TRUE(train_state(run + "/last.safetensors").at("finished").get<bool>());

  const CliResult evaluated = run_cli({"eval", run + "/best.safetensors", "--split", "test", "--tta", "flip",
                                       "--bootstrap", "20", "--out", folder / "eval"},
                                      folder / "eval.log");
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
  const nlohmann::json eval_metrics = nlohmann::json::parse(read_file(folder / "eval/metrics.json"));
  EXPECT_EQ(eval_metrics.at("num_samples").get<int>(), 4);
  EXPECT_TRUE(fs::exists(folder / "eval/report.html"));
  // Without TTA, eval reproduces the run's own test metrics.
  const CliResult plain = run_cli({"eval", run + "/best.safetensors", "--bootstrap", "50", "--out", folder / "plain"},
                                  folder / "plain.log");
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  const nlohmann::json plain_metrics = nlohmann::json::parse(read_file(folder / "plain/metrics.json"));
  EXPECT_EQ(plain_metrics.at("confusion_matrix"), metrics.at("confusion_matrix"));
  EXPECT_EQ(plain_metrics.at("accuracy"), metrics.at("accuracy"));

  const std::string image = fixtures_dir() + "/cxr_tiny/" + kImage;
  const CliResult predicted = run_cli({"predict", run + "/best.safetensors", image, "--gradcam", folder / "cam.png"},
                                      folder / "predict.log");
  ASSERT_EQ(predicted.exit_code, 0) << predicted.output;
  EXPECT_NE(predicted.output.find("normal"), std::string::npos) << predicted.output;
  ASSERT_TRUE(fs::exists(folder / "cam.png"));
  EXPECT_EQ(read_file(folder / "cam.png").substr(1, 3), "PNG");
}

// --frozen-batch-norm keeps every BatchNorm on its running statistics while the whole model trains: the running
// buffers of a fresh model (mean 0, variance 1) come out of training untouched, and without the flag they move.
TEST(TrainCli, FrozenBatchNormKeepsTheRunningStatistics) {
  TestFolder folder("frozen_batch_norm");
  for (const bool frozen : {true, false}) {
    const std::string run = folder / (frozen ? "frozen" : "batch");
    std::vector<std::string> extra = {"--epochs", "1", "--gradcam", "0"};
    if (frozen) extra.push_back("--frozen-batch-norm");
    const CliResult trained = run_cli(tiny_run(run, extra), folder / (frozen ? "frozen.log" : "batch.log"));
    ASSERT_EQ(trained.exit_code, 0) << trained.output;
    const SafetensorsFile checkpoint = read_safetensors(run + "/last.safetensors");
    int buffers = 0;
    bool moved = false;
    for (const NamedTensor& entry : checkpoint.tensors) {
      const bool mean = entry.name.ends_with("running_mean"), var = entry.name.ends_with("running_var");
      if ((!mean && !var) || entry.name.starts_with("train_state.")) continue;
      ++buffers;
      for (float value : entry.tensor.to_vector<float>()) moved = moved || value != (mean ? 0.0f : 1.0f);
    }
    EXPECT_GT(buffers, 10);
    EXPECT_EQ(moved, !frozen) << (frozen ? "running statistics changed under --frozen-batch-norm"
                                         : "running statistics did not move in a normal run");
  }
}

// Run A goes through; run B is killed with SIGKILL right after its first mid-epoch checkpoint and resumed.
// Both must end with the same bytes in every tensor of last.safetensors and best.safetensors.
TEST(TrainCli, ResumeAfterSigkillGivesIdenticalWeights) {
  TestFolder folder("resume_sigkill");
  const std::vector<std::string> settings = {"--epochs", "3", "--batch-size", "2", "--checkpoint-every", "1",
                                             "--gradcam", "0", "--bootstrap", "0", "--hflip", "--rotation", "10",
                                             "--dropout", "0.3"};
  const CliResult uninterrupted = run_cli(tiny_run(folder / "a", settings), folder / "a.log");
  ASSERT_EQ(uninterrupted.exit_code, 0) << uninterrupted.output;

  const std::string b = folder / "b";
  const pid_t pid = cli_testing::start_cli(tiny_run(b, settings), folder / "b.log");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(b + "/last.safetensors") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  ::kill(pid, SIGKILL);
  const CliResult killed = cli_testing::wait_cli(pid, folder / "b.log");
  ASSERT_EQ(killed.signal, SIGKILL) << "the run ended before it could be killed: " << killed.output;
  const nlohmann::json state = train_state(b + "/last.safetensors");
  ASSERT_FALSE(state.at("finished").get<bool>());

  const CliResult resumed = run_cli({"train", "--out", b, "--resume"}, folder / "resume.log");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming"), std::string::npos) << resumed.output;
  expect_same_tensors(folder / "a/last.safetensors", b + "/last.safetensors");
  expect_same_tensors(folder / "a/best.safetensors", b + "/best.safetensors");
  EXPECT_EQ(nlohmann::json::parse(read_file(folder / "a/history.json")).at("epochs").size(),
            nlohmann::json::parse(read_file(b + "/history.json")).at("epochs").size());
}

// Without a usable GPU, --device cuda is one error line saying why (a build without the CUDA backend, or no GPU
// found) in train, eval and predict, before any work: no run folder is written.
TEST(TrainCli, CudaDeviceWithoutAGpuIsOneClearError) {
  if (cuda_built() && cuda_device_count() > 0) GTEST_SKIP() << "a GPU is present: TrainCli.TrainEvalPredictOnCuda runs";
  const std::string reason = cuda_built() ? "no CUDA device found" : "this build has no CUDA support";
  TestFolder folder("cuda_device");
  const std::string image = fixtures_dir() + "/cxr_tiny/" + kImage;
  const std::vector<std::pair<std::string, std::vector<std::string>>> commands = {
      {"train", tiny_run(folder / "run", {"--device", "cuda"})},
      {"eval", {"eval", folder / "missing.safetensors", "--device", "cuda"}},
      {"predict", {"predict", folder / "missing.safetensors", image, "--device", "cuda"}},
      {"train cuda:1", tiny_run(folder / "run", {"--device", "cuda:1"})}};
  for (const auto& [name, args] : commands) {
    const CliResult result = run_cli(args, folder / "cuda.log");
    EXPECT_EQ(result.exit_code, 1) << name << ": " << result.output;
    ASSERT_EQ(result.error_lines().size(), 1u) << name << ": " << result.output;
    const std::string device = name == "train cuda:1" ? "cuda:1" : "cuda";
    EXPECT_NE(result.error_lines()[0].find("--device " + device + ": " + reason), std::string::npos)
        << name << ": " << result.output;
  }
  EXPECT_FALSE(fs::exists(folder / "run/options.json"));
  const CliResult unknown = run_cli(tiny_run(folder / "run", {"--device", "tpu"}), folder / "tpu.log");
  EXPECT_EQ(unknown.exit_code, 1) << unknown.output;
  ASSERT_EQ(unknown.error_lines().size(), 1u) << unknown.output;
  EXPECT_NE(unknown.error_lines()[0].find("unknown device 'tpu'"), std::string::npos) << unknown.output;
}

// With a GPU: the tiny run trained (two phases, weight EMA, mid-epoch checkpoints), evaluated and explained on it
// end to end. Skipped without a GPU (tests/cuda/test_cuda_training.cpp compares it with the CPU).
TEST(TrainCli, TrainEvalPredictOnCuda) {
  PNEUMA_REQUIRE_GPU();
  TestFolder folder("cuda_pipeline");
  const std::string run = folder / "run";
  const CliResult trained = run_cli(tiny_run(run, {"--device", "cuda", "--epochs", "1", "--fine-tune-epochs", "1",
                                                   "--ema-decay", "0.9", "--checkpoint-every", "1"}),
                                    folder / "train.log");
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_NE(trained.output.find("on cuda:0"), std::string::npos) << trained.output;
  for (const char* name : {"best.safetensors", "last.safetensors", "metrics.json", "report.html"})
    EXPECT_TRUE(fs::exists(run + "/" + name)) << name;
  EXPECT_NE(read_file(run + "/report.html").find("data:image/png;base64,"), std::string::npos)
      << "no Grad-CAM overlay in the report";
  const nlohmann::json state = train_state(run + "/last.safetensors");
  EXPECT_TRUE(state.at("finished").get<bool>());
  for (const nlohmann::json& epoch : state.at("history").at("epochs"))
    EXPECT_TRUE(std::isfinite(epoch.at("train_loss").get<double>())) << epoch.dump();

  const CliResult evaluated = run_cli({"eval", run + "/best.safetensors", "--tta", "flip", "--bootstrap", "20",
                                       "--device", "cuda", "--out", folder / "eval"},
                                      folder / "eval.log");
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
  EXPECT_EQ(nlohmann::json::parse(read_file(folder / "eval/metrics.json")).at("num_samples").get<int>(), 4);

  const std::string image = fixtures_dir() + "/cxr_tiny/" + kImage;
  const CliResult predicted = run_cli({"predict", run + "/best.safetensors", image, "--device", "cuda", "--tta", "flip",
                                       "--gradcam", folder / "cam.png"},
                                      folder / "predict.log");
  ASSERT_EQ(predicted.exit_code, 0) << predicted.output;
  ASSERT_TRUE(fs::exists(folder / "cam.png"));
  EXPECT_EQ(read_file(folder / "cam.png").substr(1, 3), "PNG");

}

// ---- bad input ----------------------------------------------------------------------------------------------

// A finished reference run copied into the case's own folder, so each case can try to continue it.
class TrainCliBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    const CliResult reference = run_cli(tiny_run(folder_ / "reference", {"--epochs", "1", "--gradcam", "0",
                                                                         "--bootstrap", "0"}),
                                        folder_ / "reference.log");
    ASSERT_EQ(reference.exit_code, 0) << reference.output;
    fs::copy(folder_ / "reference", run_, fs::copy_options::recursive);
    checkpoint_bytes_ = read_file(run_ + "/last.safetensors");
  }

  // The command failed with exactly one error line containing `expected`, and the checkpoint is unchanged.
  void expect_one_error(const CliResult& result, const std::string& expected) {
    EXPECT_NE(result.exit_code, 0) << result.output;
    const std::vector<std::string> lines = result.error_lines();
    ASSERT_EQ(lines.size(), 1u) << result.output;
    EXPECT_NE(lines[0].find(expected), std::string::npos) << lines[0];
    EXPECT_EQ(read_file(run_ + "/last.safetensors"), checkpoint_bytes_) << "the checkpoint was changed";
    for (const auto& entry : fs::directory_iterator(run_))
      EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos)
          << "temporary file left: " << entry.path();
  }

  // A copy of the fixture X-rays to damage.
  std::string copy_fixtures(const std::string& name) {
    const std::string data = folder_ / name;
    fs::copy(fixtures_dir() + "/cxr_tiny", data, fs::copy_options::recursive);
    return data;
  }

  CliResult resume_with(std::vector<std::string> extra, const cli_testing::ChildOptions& options = {}) {
    std::vector<std::string> args = {"train", "--out", run_, "--resume"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args, folder_ / "case.log", options);
  }

  TestFolder folder_{"bad_input"};
  std::string run_ = folder_ / "run";
  std::string checkpoint_bytes_;
};

TEST_F(TrainCliBadInput, CorruptImageIsAnErrorWithStrictAndSkippedWithout) {
  const std::string data = copy_fixtures("corrupt");
  const std::string bytes = read_file(data + "/" + kImage);
  std::ofstream(data + "/" + kImage, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 3);
  expect_one_error(resume_with({"--data", data, "--strict"}), "IM-0010-0001.png");

  const CliResult lenient = run_cli(tiny_run(folder_ / "lenient", {"--data", data, "--epochs", "1"}),
                                    folder_ / "lenient.log");
  EXPECT_EQ(lenient.exit_code, 0) << lenient.output;
  EXPECT_NE(lenient.output.find("warning: 1 unreadable images (e.g. " + data + "/" + kImage), std::string::npos)
      << lenient.output;
}

TEST_F(TrainCliBadInput, EmptyClassFolder) {
  const std::string data = copy_fixtures("empty_class");
  for (const auto& entry : fs::directory_iterator(data + "/covid")) fs::remove(entry.path());
  expect_one_error(resume_with({"--data", data}), "covid");
}

TEST_F(TrainCliBadInput, UnknownLabelInCsv) {
  const std::string csv = folder_ / "labels.csv";
  std::ofstream(csv) << "file,label\nnormal/IM-0010-0001.png,normal\nviral/person1612_virus_2797.png,pneumonia\n";
  expect_one_error(resume_with({"--data", csv, "--image-root", fixtures_dir() + "/cxr_tiny", "--classes",
                                "bacterial,covid,normal,viral"}),
                   "pneumonia");
}

TEST_F(TrainCliBadInput, SplitWithNoImages) {
  // Every image belongs to one patient: no validation split can be carved without splitting the patient.
  const std::string csv = folder_ / "one_patient.csv";
  std::ofstream file(csv);
  file << "file,label,patient_id\n";
  for (const char* name : {"bacterial/person100_bacteria_482.png", "bacterial/person109_bacteria_527.png",
                           "covid/COVID-1090.png", "covid/COVID-1409.png", "normal/IM-0010-0001.png",
                           "normal/IM-0036-0001.png", "viral/person1612_virus_2797.png",
                           "viral/person1637_virus_2834.png"})
    file << name << "," << std::string(name).substr(0, std::string(name).find('/')) << ",P1\n";
  file.close();
  expect_one_error(resume_with({"--data", csv, "--image-root", fixtures_dir() + "/cxr_tiny", "--group-by",
                                "patient_id", "--test-fraction", "0"}),
                   "split");
}

TEST_F(TrainCliBadInput, CheckpointClassesDifferFromTheData) {
  const std::string ct = fixtures_dir() + "/ct_tiny";
  expect_one_error(resume_with({"--data", ct}), "was trained on the classes [bacterial, covid, normal, viral]");
  const CliResult evaluated =
      run_cli({"eval", run_ + "/best.safetensors", "--data", ct, "--out", folder_ / "eval"}, folder_ / "eval.log");
  expect_one_error(evaluated, "but the data");
}

TEST_F(TrainCliBadInput, UnwritableOutputFolder) {
  if (::geteuid() == 0) {
    // Permissions do not stop root; sysfs refuses new entries to everyone.
    const CliResult result = run_cli(tiny_run("/sys/pneuma-cli-test/run"), folder_ / "sys.log");
    expect_one_error(result, "output folder /sys/pneuma-cli-test/run");
  } else {
    fs::permissions(run_, fs::perms::owner_read | fs::perms::owner_exec);
    const CliResult result = resume_with({});
    fs::permissions(run_, fs::perms::owner_all);
    expect_one_error(result, "cannot write to output folder");
  }
  // A run folder that already holds a run is never trained into without --resume.
  expect_one_error(run_cli(tiny_run(run_), folder_ / "again.log"), "already holds a training run");
}

TEST_F(TrainCliBadInput, FullDiskLeavesTheCheckpointIntact) {
  // A 64 KiB file-size limit: the checkpoints (megabytes) cannot be written, as on a full disk.
  cli_testing::ChildOptions small_files;
  small_files.file_size_limit_bytes = 64 * 1024;
  expect_one_error(resume_with({"--fine-tune-epochs", "1"}, small_files), "File too large");
}

}  // namespace
}  // namespace pneuma
