// Reading datasets from class folders and from labels CSVs (see dataset.h).
#include "engine/data/dataset.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "engine/data/csv.h"
#include "kernels/error.h"

namespace pneuma::data {
namespace fs = std::filesystem;

namespace {

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool is_hidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

// Images below `folder` (recursively), sorted, hidden entries skipped.
std::vector<std::string> list_images(const fs::path& folder) {
  std::vector<std::string> files;
  for (auto it = fs::recursive_directory_iterator(folder, fs::directory_options::follow_directory_symlink);
       it != fs::recursive_directory_iterator(); ++it) {
    if (is_hidden(it->path())) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && is_image_file_name(it->path().string())) files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> subfolders(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder))
    if (entry.is_directory() && !is_hidden(entry.path())) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

bool is_split_name(const std::string& name) { return name == "train" || name == "val" || name == "test"; }

// Normalises a split value from a CSV ("" stays ""); anything else is an error naming the line.
std::string split_value(const std::string& value, const std::string& where) {
  const std::string v = lower(value);
  if (v.empty() || v == "train" || v == "val" || v == "test") return v;
  if (v == "valid" || v == "validation") return "val";
  PNEUMA_FAIL("%s: split '%s' is not one of train, val, test", where.c_str(), value.c_str());
}

std::map<std::string, int32_t> class_index(const std::vector<std::string>& classes) {
  std::map<std::string, int32_t> index;
  for (size_t i = 0; i < classes.size(); ++i) {
    PNEUMA_CHECK(!classes[i].empty(), "class list: class %zu has an empty name", i);
    PNEUMA_CHECK(index.emplace(classes[i], static_cast<int32_t>(i)).second, "class list: '%s' appears twice",
                 classes[i].c_str());
  }
  return index;
}

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

}  // namespace

bool is_image_file_name(const std::string& path) {
  static const std::set<std::string> extensions = {".png", ".jpg", ".jpeg", ".bmp", ".gif",
                                                   ".tga", ".pgm", ".ppm", ".pnm"};
  return extensions.count(lower(fs::path(path).extension().string())) > 0;
}

Dataset load_image_folder(const std::string& root, const ImageFolderOptions& options) {
  PNEUMA_CHECK(!root.empty(), "image folder: no path given");
  PNEUMA_CHECK(fs::exists(root), "image folder %s does not exist", root.c_str());
  PNEUMA_CHECK(fs::is_directory(root), "image folder %s is not a directory", root.c_str());
  const std::vector<std::string> top = subfolders(root);
  PNEUMA_CHECK(!top.empty(), "image folder %s has no class sub-folders (expected root/<class>/<image>)", root.c_str());
  const bool split_layout = std::any_of(top.begin(), top.end(), is_split_name);
  if (split_layout) {
    for (const auto& name : top)
      PNEUMA_CHECK(is_split_name(name),
                   "image folder %s mixes split folders (train/val/test) with '%s'; use one layout",
                   root.c_str(), name.c_str());
  }
  // (split, folder) pairs that hold the classes.
  std::vector<std::pair<std::string, fs::path>> parts;
  if (split_layout)
    for (const auto& split : top) parts.emplace_back(split, fs::path(root) / split);
  else
    parts.emplace_back("", fs::path(root));

  Dataset dataset;
  dataset.root = root;
  std::set<std::string> found;
  for (const auto& [split, folder] : parts)
    for (const auto& name : subfolders(folder)) found.insert(name);
  if (options.classes.empty()) {
    dataset.class_names.assign(found.begin(), found.end());
  } else {
    dataset.class_names = options.classes;
    for (const auto& name : options.classes)
      PNEUMA_CHECK(found.count(name), "image folder %s: class '%s' has no folder (found: %s)", root.c_str(),
                   name.c_str(), join({found.begin(), found.end()}).c_str());
  }
  PNEUMA_CHECK(!dataset.class_names.empty(), "image folder %s has no class folders", root.c_str());
  const auto index = class_index(dataset.class_names);
  std::vector<int64_t> per_class(dataset.class_names.size(), 0);
  for (const auto& [split, folder] : parts) {
    for (const auto& name : subfolders(folder)) {
      const auto it = index.find(name);
      if (it == index.end()) continue;  // a folder outside the requested classes
      const fs::path class_folder = folder / name;
      const std::vector<std::string> files = list_images(class_folder);
      PNEUMA_CHECK(!files.empty(), "image folder %s: class folder %s holds no image (png, jpg, bmp, ...)",
                   root.c_str(), class_folder.string().c_str());
      for (const auto& file : files) dataset.samples.push_back(Sample{file, it->second, "", "", split});
      per_class[it->second] += static_cast<int64_t>(files.size());
    }
  }
  for (size_t c = 0; c < per_class.size(); ++c)
    PNEUMA_CHECK(per_class[c] > 0, "image folder %s: class '%s' holds no image", root.c_str(),
                 dataset.class_names[c].c_str());
  return dataset;
}

Dataset load_csv_dataset(const std::string& csv_path, const CsvDatasetOptions& options) {
  PNEUMA_CHECK(fs::is_regular_file(csv_path), "labels CSV %s does not exist", csv_path.c_str());
  const CsvTable table = read_csv_file(csv_path);
  PNEUMA_CHECK(!table.header.empty(), "labels CSV %s is empty (expected a header row)", csv_path.c_str());
  const auto column = [&](const std::string& name) -> int {
    const auto it = std::find(table.header.begin(), table.header.end(), name);
    return it == table.header.end() ? -1 : static_cast<int>(it - table.header.begin());
  };
  const auto required = [&](const std::string& name, const char* what) {
    const int c = column(name);
    PNEUMA_CHECK(c >= 0, "labels CSV %s has no %s column '%s' (columns: %s)", csv_path.c_str(), what, name.c_str(),
                 join(table.header).c_str());
    return c;
  };
  const int file_column = required(options.file_column, "file");
  const int label_column = required(options.label_column, "label");
  const int split_column = options.split_column.empty() ? -1 : column(options.split_column);
  const int patient_column = options.patient_column.empty() ? -1 : column(options.patient_column);
  int group_column = -1;
  if (options.group_column == "auto") {
    group_column = column("group") >= 0 ? column("group") : column("near_dup_group");
  } else if (!options.group_column.empty()) {
    group_column = required(options.group_column, "group");
  }
  const int filter_column = options.filter_column.empty() ? -1 : required(options.filter_column, "filter");

  const fs::path image_root =
      options.image_root.empty() ? fs::absolute(csv_path).parent_path() : fs::path(options.image_root);
  Dataset dataset;
  dataset.root = csv_path;
  struct Row {
    const CsvRow* row;
    std::string where;
  };
  std::vector<Row> kept;
  for (const CsvRow& row : table.rows) {
    const std::string where = csv_path + " line " + std::to_string(row.line);
    PNEUMA_CHECK(row.fields.size() == table.header.size(), "%s: %zu fields, the header has %zu", where.c_str(),
                 row.fields.size(), table.header.size());
    if (filter_column >= 0 && row.fields[filter_column] != options.filter_value) continue;
    kept.push_back({&row, where});
  }
  PNEUMA_CHECK(!kept.empty(), "labels CSV %s has no rows%s", csv_path.c_str(),
               filter_column >= 0 ? (" with " + options.filter_column + " = " + options.filter_value).c_str() : "");

  if (options.classes.empty()) {
    std::set<std::string> labels;
    for (const Row& r : kept) labels.insert(r.row->fields[label_column]);
    dataset.class_names.assign(labels.begin(), labels.end());
  } else {
    dataset.class_names = options.classes;
  }
  const auto index = class_index(dataset.class_names);
  for (const Row& r : kept) {
    const auto& fields = r.row->fields;
    const std::string& label = fields[label_column];
    PNEUMA_CHECK(!label.empty(), "%s: empty %s", r.where.c_str(), options.label_column.c_str());
    const auto it = index.find(label);
    PNEUMA_CHECK(it != index.end(), "%s: label '%s' is not one of the classes (%s)", r.where.c_str(), label.c_str(),
                 join(dataset.class_names).c_str());
    const std::string& file = fields[file_column];
    PNEUMA_CHECK(!file.empty(), "%s: empty %s", r.where.c_str(), options.file_column.c_str());
    const fs::path path = fs::path(file).is_absolute() ? fs::path(file) : image_root / file;
    if (options.check_files_exist)
      PNEUMA_CHECK(fs::is_regular_file(path), "%s: image %s not found", r.where.c_str(), path.string().c_str());
    Sample sample;
    sample.path = path.lexically_normal().string();
    sample.label = it->second;
    if (split_column >= 0) sample.split = split_value(fields[split_column], r.where);
    if (patient_column >= 0) sample.patient_id = fields[patient_column];
    if (group_column >= 0) sample.group = fields[group_column];
    dataset.samples.push_back(std::move(sample));
  }
  return dataset;
}

std::vector<int64_t> class_counts(const Dataset& dataset, const std::vector<size_t>& indices) {
  std::vector<int64_t> counts(dataset.class_names.size(), 0);
  for (size_t i : indices) {
    PNEUMA_CHECK(i < dataset.samples.size(), "class_counts: index %zu outside the dataset (%zu samples)", i,
                 dataset.samples.size());
    const int32_t label = dataset.samples[i].label;
    PNEUMA_CHECK(label >= 0 && label < dataset.num_classes(), "sample %zu has label %d outside [0, %d)", i, label,
                 dataset.num_classes());
    ++counts[label];
  }
  return counts;
}

}  // namespace pneuma::data
