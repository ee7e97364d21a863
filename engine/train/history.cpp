// Serialising the training history (see history.h).
#include "engine/train/history.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "engine/report/atomic_file.h"
#include "kernels/error.h"

namespace pneuma::train {
namespace {

nlohmann::json number(double value) { return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(); }

double read_number(const nlohmann::json& json, const char* key) {
  PNEUMA_CHECK(json.contains(key), "training history: an epoch lacks '%s'", key);
  const nlohmann::json& value = json.at(key);
  if (value.is_null()) return std::numeric_limits<double>::quiet_NaN();
  PNEUMA_CHECK(value.is_number(), "training history: '%s' is not a number", key);
  return value.get<double>();
}

std::string csv_number(double value) {
  if (!std::isfinite(value)) return "";
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

}  // namespace

nlohmann::json History::to_json() const {
  nlohmann::json epochs_json = nlohmann::json::array();
  for (const EpochRecord& r : epochs)
    epochs_json.push_back({{"epoch", r.epoch},
                           {"phase", r.phase},
                           {"learning_rate", number(r.learning_rate)},
                           {"train_loss", number(r.train_loss)},
                           {"train_accuracy", number(r.train_accuracy)},
                           {"val_loss", number(r.val_loss)},
                           {"val_accuracy", number(r.val_accuracy)},
                           {"val_auc", number(r.val_auc)},
                           {"val_f1", number(r.val_f1)},
                           {"seconds", number(r.seconds)},
                           {"images_per_second", number(r.images_per_second)},
                           {"best", r.best}});
  return {{"schema", "pneuma.history/1"}, {"epochs", epochs_json}};
}

History History::from_json(const nlohmann::json& json) {
  PNEUMA_CHECK(json.is_object() && json.value("schema", "") == "pneuma.history/1" && json.contains("epochs") &&
                   json.at("epochs").is_array(),
               "training history: not a pneuma.history/1 object");
  History history;
  for (const nlohmann::json& e : json.at("epochs")) {
    EpochRecord r;
    r.epoch = e.at("epoch").get<int64_t>();
    r.phase = e.at("phase").get<std::string>();
    r.learning_rate = read_number(e, "learning_rate");
    r.train_loss = read_number(e, "train_loss");
    r.train_accuracy = read_number(e, "train_accuracy");
    r.val_loss = read_number(e, "val_loss");
    r.val_accuracy = read_number(e, "val_accuracy");
    r.val_auc = read_number(e, "val_auc");
    r.val_f1 = read_number(e, "val_f1");
    r.seconds = read_number(e, "seconds");
    r.images_per_second = read_number(e, "images_per_second");
    r.best = e.at("best").get<bool>();
    history.epochs.push_back(r);
  }
  return history;
}

std::string History::to_csv() const {
  std::string csv =
      "epoch,phase,learning_rate,train_loss,train_accuracy,val_loss,val_accuracy,val_auc,val_f1,seconds,"
      "images_per_second,best\n";
  for (const EpochRecord& r : epochs) {
    csv += std::to_string(r.epoch) + "," + r.phase + "," + csv_number(r.learning_rate) + "," +
           csv_number(r.train_loss) + "," + csv_number(r.train_accuracy) + "," + csv_number(r.val_loss) + "," +
           csv_number(r.val_accuracy) + "," + csv_number(r.val_auc) + "," + csv_number(r.val_f1) + "," +
           csv_number(r.seconds) + "," + csv_number(r.images_per_second) + "," + (r.best ? "1" : "0") + "\n";
  }
  return csv;
}

void History::write(const std::string& directory) const {
  const std::filesystem::path base(directory);
  write_file_atomically((base / "history.csv").string(), to_csv(), "history");
  write_file_atomically((base / "history.json").string(), to_json().dump(2) + "\n", "history");
}

}  // namespace pneuma::train
