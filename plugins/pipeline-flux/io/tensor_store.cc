#include "io/tensor_store.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <set>

#include "io/file_mapping.h"
#include "io/files.h"
#include "io/fp8_scales.h"
#include "io/gguf.h"
#include "io/name_affixes.h"
#include "io/safetensors.h"

namespace flx::flux {
namespace {

// Reads the "weight_map" of a sharded checkpoint index: tensor name -> shard file name.
std::map<std::string, std::string> read_weight_map(const std::string& index_path) {
  Poco::JSON::Object::Ptr root;
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var parsed = parser.parse(read_text_file(index_path));
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) {
      throw LoadError(index_path + ": not a JSON object");
    }
    root = parsed.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& error) {
    throw LoadError(index_path + ": not valid JSON: " + error.displayText());
  }
  Poco::JSON::Object::Ptr weight_map = root->getObject("weight_map");
  if (weight_map.isNull()) throw LoadError(index_path + ": no \"weight_map\" object");
  std::map<std::string, std::string> shards;
  for (const auto& [name, shard] : *weight_map) {
    if (!shard.isString()) {
      throw LoadError(index_path + ": weight_map entry of tensor " + name + " is not a string");
    }
    const std::string file = shard.toString();
    if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..") {
      throw LoadError(index_path + ": tensor " + name + ": shard \"" + file +
                      "\" is not a plain file name");
    }
    shards[name] = file;
  }
  return shards;
}

}  // namespace

TensorStore::TensorStore(std::string description) : description_(std::move(description)) {}

TensorStore TensorStore::from_file(const std::string& path) {
  TensorStore store(path);
  if (is_gguf_path(path)) {
    std::shared_ptr<GgufFile> file = GgufFile::open(path);
    for (const std::string& name : file->tensor_names()) store.add(*file->find(name), path);
    return store;
  }
  std::shared_ptr<SafetensorsFile> file = SafetensorsFile::open(path);
  for (const std::string& name : file->names()) store.add(file->get(name), path);
  return fold_fp8_scales(store);
}

bool is_gguf_path(const std::string& path) { return ends_with(path, ".gguf"); }

TensorStore TensorStore::open_component(const std::string& dir, const std::string& base) {
  const std::string single = dir + "/" + base + ".safetensors";
  if (is_regular_file(single)) return from_file(single);
  const std::string index = single + ".index.json";
  if (!is_regular_file(index)) {
    throw LoadError(dir + ": neither " + base + ".safetensors nor " + base +
                    ".safetensors.index.json found");
  }
  std::map<std::string, std::shared_ptr<SafetensorsFile>> opened;
  TensorStore store(index);
  for (const auto& [name, shard] : read_weight_map(index)) {
    std::shared_ptr<SafetensorsFile>& file = opened[shard];
    if (!file) file = SafetensorsFile::open(dir + "/" + shard);
    const TensorView* view = file->find(name);
    if (view == nullptr) {
      throw LoadError(index + ": tensor " + name + " is mapped to " + file->path() +
                      ", which does not contain it");
    }
    store.add(*view, file->path());
  }
  return fold_fp8_scales(store);
}

void TensorStore::add(TensorView view) { add(std::move(view), description_); }

void TensorStore::add(TensorView view, std::string source) {
  std::string name = view.name;
  entries_[std::move(name)] = Entry{std::move(view), std::move(source)};
}

bool TensorStore::contains(const std::string& name) const { return entries_.count(name) > 0; }

const std::string& TensorStore::source_of(const std::string& name) const {
  get(name);  // the not-found error
  return entries_.at(name).source;
}

const TensorView& TensorStore::get(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) throw LoadError(description_ + ": tensor " + name + " not found");
  return it->second.view;
}

const TensorView& TensorStore::get(const std::string& name,
                                   const std::vector<int64_t>& expected_shape) const {
  const TensorView& view = get(name);
  if (view.shape != expected_shape) {
    throw LoadError(entries_.at(name).source + ": tensor " + name + " has shape " +
                    shape_string(view.shape) + ", expected " + shape_string(expected_shape));
  }
  return view;
}

std::vector<std::string> TensorStore::names() const {
  std::vector<std::string> names;
  names.reserve(entries_.size());
  for (const auto& entry : entries_) names.push_back(entry.first);
  return names;
}

uint64_t TensorStore::total_bytes() const {
  uint64_t total = 0;
  for (const auto& entry : entries_) total += entry.second.view.nbytes;
  return total;
}

size_t TensorStore::release_file_pages() const {
  std::set<const FileMapping*> mappings;
  for (const auto& entry : entries_) {
    if (entry.second.view.file != nullptr) mappings.insert(entry.second.view.file);
  }
  size_t released = 0;
  for (const FileMapping* mapping : mappings) released += mapping->release_pages();
  return released;
}

}  // namespace flx::flux
