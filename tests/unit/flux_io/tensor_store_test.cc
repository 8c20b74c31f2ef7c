#include "io/tensor_store.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "io/safetensors.h"
#include "support/temp_dir.h"

namespace flx::flux {
namespace {

using flx::test::TempDir;

TensorView floats(const std::string& name, std::vector<int64_t> shape, float first) {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  std::vector<float> values(static_cast<size_t>(count));
  for (size_t i = 0; i < values.size(); ++i) values[i] = first + static_cast<float>(i);
  return make_owned_tensor(name, DType::F32, std::move(shape), values.data(), values.size() * 4);
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const LoadError& error) {
    return error.what();
  }
  return "<no LoadError>";
}

float first_float(const TensorView& view) {
  float value;
  std::memcpy(&value, view.data, sizeof value);
  return value;
}

// Found by fuzz_gguf: a file may declare an empty tensor with huge other dimensions.
TEST(TensorView, NumelOfAZeroDimensionIsZeroWhateverTheOthers) {
  TensorView view;
  view.shape = {int64_t{1} << 40, 0, int64_t{1} << 40};
  EXPECT_EQ(view.numel(), 0);
  view.shape = {};
  EXPECT_EQ(view.numel(), 1);
  view.shape = {3, 5};
  EXPECT_EQ(view.numel(), 15);
}

TEST(TensorStore, AddGetContainsNamesTotalBytesAndLaterWins) {
  TensorStore store("unit store");
  store.add(floats("b", {2, 3}, 1));
  store.add(floats("a", {4}, 10));
  store.add(floats("b", {2, 3}, 100));
  EXPECT_EQ(store.description(), "unit store");
  EXPECT_TRUE(store.contains("a"));
  EXPECT_FALSE(store.contains("c"));
  EXPECT_EQ(store.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(store.total_bytes(), 24u + 16u);
  EXPECT_EQ(first_float(store.get("b")), 100.0f) << "the later add must win";
  EXPECT_EQ(store.get("a", {4}).numel(), 4);
}

TEST(TensorStore, ErrorsNameTheSourceAndTensor) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  write_safetensors(path, {floats("proj.weight", {2, 3}, 0)}, {});
  TensorStore store = TensorStore::from_file(path);
  EXPECT_EQ(store.description(), path);
  EXPECT_EQ(error_of([&] { store.get("proj.bias"); }), path + ": tensor proj.bias not found");
  EXPECT_EQ(error_of([&] {
              store.get("proj.weight", {3, 2});
            }),
            path + ": tensor proj.weight has shape [2,3], expected [3,2]");

  store.add(floats("synth", {1}, 0), "mapped from elsewhere");
  EXPECT_EQ(error_of([&] { store.get("synth", {2}); }),
            "mapped from elsewhere: tensor synth has shape [1], expected [2]");
}

TEST(TensorStore, ViewsOutliveTheStoreAndItsFiles) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  write_safetensors(path, {floats("w", {3}, 7)}, {});
  TensorView kept;
  {
    TensorStore store = TensorStore::from_file(path);
    kept = store.get("w");
  }
  EXPECT_EQ(first_float(kept), 7.0f);
}

TEST(TensorStore, OpenComponentPrefersTheSingleFile) {
  TempDir dir;
  write_safetensors(dir.file("model.safetensors"), {floats("w", {1}, 3)}, {});
  TensorStore store = TensorStore::open_component(dir.path(), "model");
  EXPECT_EQ(store.description(), dir.file("model.safetensors"));
  EXPECT_EQ(first_float(store.get("w")), 3.0f);
}

TEST(TensorStore, OpenComponentReadsShardedCheckpointsThroughTheIndex) {
  TempDir dir;
  write_safetensors(dir.file("model-00001-of-00002.safetensors"),
                    {floats("encoder.a", {2}, 1), floats("encoder.b", {1}, 5)}, {});
  write_safetensors(dir.file("model-00002-of-00002.safetensors"), {floats("decoder.c", {3}, 9)},
                    {});
  dir.write("model.safetensors.index.json", R"({
    "metadata": {"total_size": 24},
    "weight_map": {
      "encoder.a": "model-00001-of-00002.safetensors",
      "encoder.b": "model-00001-of-00002.safetensors",
      "decoder.c": "model-00002-of-00002.safetensors"
    }})");
  TensorStore store = TensorStore::open_component(dir.path(), "model");
  EXPECT_EQ(store.description(), dir.file("model.safetensors.index.json"));
  EXPECT_EQ(store.names(), (std::vector<std::string>{"decoder.c", "encoder.a", "encoder.b"}));
  EXPECT_EQ(store.total_bytes(), 24u);
  EXPECT_EQ(first_float(store.get("decoder.c")), 9.0f);
  EXPECT_EQ(error_of([&] { store.get("decoder.c", {4}); }),
            dir.file("model-00002-of-00002.safetensors") +
                ": tensor decoder.c has shape [3], expected [4]");
}

TEST(TensorStore, OpenComponentErrorsNameFolderIndexAndShard) {
  struct Case {
    const char* label;
    std::string index;  // empty: no index file at all
    std::string expected;
  };
  TempDir dir;
  write_safetensors(dir.file("shard.safetensors"), {floats("present", {1}, 0)}, {});
  const std::string index_path = dir.file("model.safetensors.index.json");
  const Case cases[] = {
      {"no weights at all", "",
       dir.path() + ": neither model.safetensors nor model.safetensors.index.json found"},
      {"index is not JSON", "{\"weight_map\": ", index_path + ": not valid JSON"},
      {"index without weight_map", "{}", index_path + ": no \"weight_map\" object"},
      {"tensor absent from its shard", R"({"weight_map": {"missing": "shard.safetensors"}})",
       index_path + ": tensor missing is mapped to " + dir.file("shard.safetensors") +
           ", which does not contain it"},
      {"shard outside the folder", R"({"weight_map": {"present": "../shard.safetensors"}})",
       index_path + ": tensor present: shard \"../shard.safetensors\" is not a plain file name"},
      {"shard file absent", R"({"weight_map": {"present": "other.safetensors"}})",
       dir.file("other.safetensors") + ": cannot open"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    std::remove(index_path.c_str());
    if (!c.index.empty()) dir.write("model.safetensors.index.json", c.index);
    const std::string message = error_of([&] { TensorStore::open_component(dir.path(), "model"); });
    EXPECT_EQ(message.rfind(c.expected, 0), 0u) << message;
  }
}

// Resident bytes of the mapping that starts at `address`, from /proc/self/smaps.
int64_t resident_bytes_of_mapping(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long start = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &start, &end) == 2) {  // a mapping's header line
      inside = reinterpret_cast<uintptr_t>(address) >= start &&
               reinterpret_cast<uintptr_t>(address) < end;
      continue;
    }
    if (inside && line.rfind("Rss:", 0) == 0) return std::stoll(line.substr(4)) * 1024;
  }
  return -1;
}

TEST(TensorStore, ReleasingFilePagesDropsThemFromResidentMemoryAndKeepsTheValues) {
  TempDir dir;
  const std::string path = dir.file("big.safetensors");
  constexpr int64_t kRows = 1024, kColumns = 1024;  // 4 MiB
  write_safetensors(path, {floats("w", {kRows, kColumns}, 0.5f)}, {});
  TensorStore store = TensorStore::from_file(path);
  store.add(floats("in_memory", {4}, 7.0f));
  const TensorView& view = store.get("w");
  ASSERT_NE(view.file, nullptr) << "views into a file know their mapping";
  EXPECT_EQ(store.get("in_memory").file, nullptr);
  const volatile float* values = static_cast<const float*>(view.data);
  double sum = 0;
  for (int64_t i = 0; i < kRows * kColumns; i += 1024) sum += values[i];  // touch every page
  EXPECT_GT(sum, 0);
  const int64_t before = resident_bytes_of_mapping(view.data);
  ASSERT_GT(before, 3 * 1024 * 1024) << "every page was read";

  EXPECT_GE(store.release_file_pages(), static_cast<size_t>(kRows * kColumns * 4));
  EXPECT_LT(resident_bytes_of_mapping(view.data), 64 * 1024);
  EXPECT_EQ(values[kRows * kColumns - 1], 0.5f + (kRows * kColumns - 1)) << "faulted back in";
  EXPECT_EQ(first_float(store.get("in_memory")), 7.0f) << "memory-held tensors are untouched";
}

}  // namespace
}  // namespace flx::flux
