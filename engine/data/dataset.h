// Labelled image datasets: a list of (file, class) samples with the optional patient / near-duplicate group and
// predefined split of each, read from a class-per-folder tree or from a labels CSV. Loading validates everything
// it can up front (missing root, empty class folder, unknown label, missing file) and names what is wrong.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pneuma::data {

struct Sample {
  std::string path;        // absolute or relative to the working directory; opened as is
  int32_t label = 0;       // index into Dataset::class_names
  std::string patient_id;  // "" when unknown
  std::string group;       // near-duplicate group ("" when unknown)
  std::string split;       // "train" / "val" / "test", or "" when the source defines no split
};

struct Dataset {
  std::string root;                      // the folder (or the CSV file) the dataset was read from
  std::vector<std::string> class_names;  // label i is class_names[i]
  std::vector<Sample> samples;

  size_t size() const { return samples.size(); }
  int num_classes() const { return static_cast<int>(class_names.size()); }
};

// Image file extensions both loaders accept (lower-case, with the dot); other files are ignored.
bool is_image_file_name(const std::string& path);

struct ImageFolderOptions {
  // The classes and their order (label i = classes[i]); empty = the sorted sub-folder names. A class folder
  // that is missing or holds no image is an error either way.
  std::vector<std::string> classes;
};

// root/<class>/<image> or root/{train,val,test}/<class>/<image> (then Sample::split is set). Sub-folders below
// a class folder are searched recursively; hidden files and non-image files are ignored. Samples are sorted by
// path, class names sorted (unless given), so the result does not depend on the file system's order.
Dataset load_image_folder(const std::string& root, const ImageFolderOptions& options = {});

struct CsvDatasetOptions {
  std::string file_column = "file";    // image path, relative to image_root
  std::string label_column = "label";  // e.g. "binary_label"
  std::string split_column = "split";  // used when present; values train / val / test (or empty)
  std::string patient_column = "patient_id";  // used when present
  // Near-duplicate group column. "auto" = "group" if present, else "near_dup_group" if present, else none;
  // "" = never read a group.
  std::string group_column = "auto";
  // Classes and their order; empty = the sorted distinct labels. With a list, a row whose label is not in it
  // is an error naming the line.
  std::vector<std::string> classes;
  // Keep only rows whose `filter_column` equals `filter_value` (e.g. task = cxr_tiny); empty = keep all.
  std::string filter_column, filter_value;
  std::string image_root;  // folder the file column is relative to; empty = the CSV's folder
  bool check_files_exist = true;  // stat every file at load time (an error names the first missing one)
};

// A CSV with a header row (RFC 4180 quoting; comma separated). Columns other than the configured ones are
// ignored; a configured file/label column that is missing is an error listing the columns found.
Dataset load_csv_dataset(const std::string& csv_path, const CsvDatasetOptions& options = {});

// Samples per class over `indices` (all samples when empty is not implied: pass the indices you mean).
std::vector<int64_t> class_counts(const Dataset& dataset, const std::vector<size_t>& indices);

}  // namespace pneuma::data
