#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <numeric>

#include "support/golden.h"
#include "support/temp_dir.h"

namespace flx::flux {
namespace {

using flx::test::TempDir;

// A safetensors file assembled by hand: 8-byte little-endian length, header, data.
std::string raw_file(const std::string& header, size_t data_bytes) {
  std::string bytes(8, '\0');
  uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(length >> (8 * i));
  bytes += header;
  bytes.append(data_bytes, '\x01');
  return bytes;
}

std::string raw_file_with_length(uint64_t declared_length, const std::string& rest) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(declared_length >> (8 * i));
  return bytes + rest;
}

std::vector<float> iota_floats(size_t count, float start) {
  std::vector<float> values(count);
  std::iota(values.begin(), values.end(), start);
  return values;
}

std::string load_error_message(const std::string& path) {
  try {
    SafetensorsFile::open(path);
  } catch (const LoadError& error) {
    return error.what();
  }
  return "<no LoadError>";
}

TEST(DType, NamesSizesAndParsingAgree) {
  struct Case {
    DType dtype;
    const char* name;
    size_t size;
  };
  const Case cases[] = {{DType::F32, "F32", 4},  {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2},
                        {DType::F64, "F64", 8},  {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
                        {DType::I16, "I16", 2},  {DType::I8, "I8", 1},   {DType::U8, "U8", 1},
                        {DType::BOOL, "BOOL", 1}};
  for (const Case& c : cases) {
    EXPECT_STREQ(dtype_name(c.dtype), c.name);
    EXPECT_EQ(dtype_size(c.dtype), c.size) << c.name;
    EXPECT_EQ(parse_dtype(c.name), c.dtype) << c.name;
  }
  EXPECT_EQ(parse_dtype("F8_E4M3"), DType::F8_E4M3);
  EXPECT_EQ(parse_dtype("F8_E5M2"), DType::F8_E5M2);
  EXPECT_FALSE(parse_dtype("Q8_0").has_value());  // ggml block types live in GGUF files only
  EXPECT_FALSE(parse_dtype("f32").has_value());
}

TEST(Safetensors, WriteThenOpenRoundTripsNamesShapesBytesAndMetadata) {
  TempDir dir;
  const std::vector<float> weights = iota_floats(6, 0.5f);
  const std::vector<uint16_t> halves = {0x3c00, 0xc000, 0x7bff};
  const int64_t scalar = -7;
  std::vector<TensorView> tensors = {
      make_owned_tensor("layer.weight", DType::F32, {2, 3}, weights.data(), 24),
      make_owned_tensor("half", DType::F16, {3}, halves.data(), 6),
      make_owned_tensor("empty", DType::BF16, {0, 4}, nullptr, 0),
      make_owned_tensor("step", DType::I64, {}, &scalar, 8),
      make_owned_tensor("odd \"name\"\n", DType::U8, {1}, "x", 1),
  };
  const std::string path = dir.file("model.safetensors");
  write_safetensors(path, tensors, {{"format", "pt"}, {"note", "a \"quoted\" value"}});

  std::shared_ptr<SafetensorsFile> file = SafetensorsFile::open(path);
  EXPECT_EQ(file->path(), path);
  EXPECT_EQ(file->metadata(),
            (std::map<std::string, std::string>{{"format", "pt"}, {"note", "a \"quoted\" value"}}));
  EXPECT_EQ(file->names(),
            (std::vector<std::string>{"empty", "half", "layer.weight", "odd \"name\"\n", "step"}));
  EXPECT_EQ(file->data_size(), 24u + 6u + 0u + 8u + 1u);
  for (const TensorView& expected : tensors) {
    SCOPED_TRACE(expected.name);
    const TensorView& actual = file->get(expected.name);
    EXPECT_EQ(actual.name, expected.name);
    EXPECT_EQ(actual.dtype, expected.dtype);
    EXPECT_EQ(actual.shape, expected.shape);
    EXPECT_EQ(actual.nbytes, expected.nbytes);
    EXPECT_EQ(actual.numel(), expected.numel());
    if (expected.nbytes > 0) {
      EXPECT_EQ(std::memcmp(actual.data, expected.data, expected.nbytes), 0);
    }
  }
  EXPECT_EQ(file->get("step").numel(), 1);
  EXPECT_EQ(file->get("empty").numel(), 0);
  EXPECT_EQ(file->find("absent"), nullptr);
}

TEST(Safetensors, ViewsAreZeroCopyAlignedAndOutliveTheFileObject) {
  TempDir dir;
  const std::vector<float> first = iota_floats(3, 1.0f);
  const std::vector<double> second = {2.5, -1.25};
  const std::string path = dir.file("aligned.safetensors");
  write_safetensors(path,
                    {make_owned_tensor("a", DType::F32, {3}, first.data(), 12),
                     make_owned_tensor("b", DType::F64, {2}, second.data(), 16)},
                    {});
  TensorView kept;
  {
    std::shared_ptr<SafetensorsFile> file = SafetensorsFile::open(path);
    const TensorView& a = file->get("a");
    const TensorView& b = file->get("b");
    EXPECT_EQ(static_cast<const char*>(b.data) - static_cast<const char*>(a.data), 12)
        << "views must point into one mapping, in file order";
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data) % 4, 0u);
    EXPECT_EQ(a.owner, b.owner) << "both views share the mapping";
    kept = b;
  }
  ASSERT_EQ(kept.nbytes, 16u);
  double values[2];
  std::memcpy(values, kept.data, sizeof values);
  EXPECT_EQ(values[0], 2.5);
  EXPECT_EQ(values[1], -1.25);
}

TEST(Safetensors, GetOfMissingTensorNamesFileAndTensor) {
  TempDir dir;
  const std::string path = dir.file("one.safetensors");
  const float value = 1.0f;
  write_safetensors(path, {make_owned_tensor("present", DType::F32, {1}, &value, 4)}, {});
  auto file = SafetensorsFile::open(path);
  try {
    file->get("transformer_blocks.0.attn.to_q.weight");
    FAIL() << "expected LoadError";
  } catch (const LoadError& error) {
    EXPECT_EQ(std::string(error.what()),
              path + ": tensor transformer_blocks.0.attn.to_q.weight not found");
  }
}

struct MalformedCase {
  const char* label;
  std::string bytes;
  std::vector<std::string> expected_fragments;  // besides the file path, always required
};

std::vector<MalformedCase> malformed_cases() {
  const std::string one_tensor_header =
      R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  return {
      {"empty file", "", {"truncated", "0 bytes"}},
      {"shorter than the length prefix", std::string(5, '\0'), {"truncated", "5 bytes"}},
      {"header length beyond the file",
       raw_file_with_length(4096, "{\"w\":{}}"),
       {"truncated", "header length 4096"}},
      {"absurd header length", raw_file_with_length(uint64_t{1} << 40, "{}"), {"exceeds"}},
      {"header not an object", raw_file("[1,2,3]", 0), {"does not start with '{'"}},
      {"bad JSON", raw_file(R"({"w":{"dtype":"F32","shape":[2,2],)", 16), {"not valid JSON"}},
      {"trailing garbage after JSON", raw_file(one_tensor_header + " x", 16), {"not valid JSON"}},
      {"header not UTF-8", raw_file("{\"w\xff\":{}}", 0), {"not valid UTF-8"}},
      {"data truncated",
       raw_file(one_tensor_header, 12),
       {"tensor w", "data_offsets [0,16] out of range", "12-byte"}},
      {"offsets reversed",
       raw_file(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", 8),
       {"tensor w", "out of range"}},
      {"overlapping offsets",
       raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                12),
       {"tensor b", "overlap tensor a"}},
      {"gap between tensors",
       raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
                20),
       {"tensor b", "bytes [8,12)", "belong to no tensor"}},
      {"unindexed bytes at the end",
       raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 12),
       {"bytes [8,12)", "belong to no tensor", "last tensor: a"}},
      {"unknown dtype",
       raw_file(R"({"w":{"dtype":"U16","shape":[4],"data_offsets":[0,8]}})", 8),
       {"tensor w", "unknown or unsupported dtype \"U16\""}},
      {"nbytes mismatch",
       raw_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
       {"tensor w", "span 8 bytes", "[3] of F32 needs 12"}},
      {"negative dimension",
       raw_file(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", 0),
       {"tensor w", "shape dimension 0"}},
      {"fractional dimension",
       raw_file(R"({"w":{"dtype":"F32","shape":[2,1.5],"data_offsets":[0,12]}})", 12),
       {"tensor w", "shape dimension 1"}},
      {"huge shape",
       raw_file(R"({"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8),
       {"tensor w", "too large"}},
      {"boolean dimension",
       raw_file(R"({"w":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}})", 4),
       {"tensor w", "shape dimension 0"}},
      {"tensor named twice",
       raw_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                8),
       {"not valid JSON", "repeated key \"w\""}},
      {"missing dtype",
       raw_file(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", 4),
       {"tensor w", "\"dtype\""}},
      {"offsets not a pair",
       raw_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4),
       {"tensor w", "\"data_offsets\""}},
      {"entry not an object", raw_file(R"({"w":[1,2]})", 0), {"tensor w", "not a JSON object"}},
      {"metadata value not a string",
       raw_file(R"({"__metadata__":{"format":1},)"
                R"("w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                4),
       {"__metadata__", "format"}},
  };
}

TEST(Safetensors, MalformedFilesFailAtOpenNamingFileAndTensor) {
  TempDir dir;
  int index = 0;
  for (const MalformedCase& c : malformed_cases()) {
    SCOPED_TRACE(c.label);
    const std::string path = dir.write("case" + std::to_string(index++) + ".safetensors", c.bytes);
    const std::string message = load_error_message(path);
    EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << "message must start with the file: " << message;
    for (const std::string& fragment : c.expected_fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "missing '" << fragment << "' in: " << message;
    }
  }
}

TEST(Safetensors, MissingFileNamesThePath) {
  TempDir dir;
  const std::string path = dir.file("nope.safetensors");
  EXPECT_EQ(load_error_message(path).rfind(path + ": cannot open", 0), 0u);
}

TEST(Safetensors, WriterRejectsRepeatedNamesAndInconsistentViews) {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  const float values[2] = {1, 2};
  TensorView a = make_owned_tensor("a", DType::F32, {2}, values, 8);
  TensorView lying = a;
  lying.name = "lying";
  lying.shape = {3};
  for (const auto& [label, tensors, fragment] :
       std::vector<std::tuple<std::string, std::vector<TensorView>, std::string>>{
           {"repeated name", {a, a}, "tensor a: name repeated"},
           {"nbytes mismatch", {a, lying}, "tensor lying: 8 bytes do not match shape [3]"}}) {
    SCOPED_TRACE(label);
    try {
      write_safetensors(path, tensors, {});
      ADD_FAILURE() << "expected LoadError";
    } catch (const LoadError& error) {
      EXPECT_NE(std::string(error.what()).find(path + ": " + fragment), std::string::npos)
          << error.what();
    }
  }
}

TEST(Safetensors, StreamingWriterMatchesTheInMemoryWriterAndLeavesNothingOnFailure) {
  TempDir dir;
  std::vector<TensorView> tensors;
  std::vector<TensorLayout> layouts;
  for (int i = 0; i < 3; ++i) {
    std::vector<float> values(static_cast<size_t>(5 + i), static_cast<float>(i));
    tensors.push_back(make_owned_tensor("t" + std::to_string(i), DType::F32, {5 + i},
                                        values.data(), values.size() * 4));
    layouts.push_back({tensors.back().name, DType::F32, tensors.back().shape});
  }
  const std::string whole = dir.file("whole.safetensors");
  const std::string streamed = dir.file("streamed.safetensors");
  write_safetensors(whole, tensors, {{"format", "pt"}});
  std::vector<size_t> produced;
  write_safetensors_streaming(
      streamed, layouts,
      [&](size_t i, unsigned char* out, size_t nbytes) {
        produced.push_back(i);
        ASSERT_EQ(nbytes, tensors[i].nbytes);
        std::memcpy(out, tensors[i].data, nbytes);
      },
      {{"format", "pt"}});
  EXPECT_EQ(produced, (std::vector<size_t>{0, 1, 2})) << "one tensor at a time, in order";
  auto bytes = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  EXPECT_EQ(bytes(whole), bytes(streamed));

  const std::string failed = dir.file("failed.safetensors");
  EXPECT_THROW(write_safetensors_streaming(
                   failed, layouts,
                   [](size_t i, unsigned char*, size_t) {
                     if (i == 1) throw std::runtime_error("producer failed");
                   },
                   {}),
               std::runtime_error);
  EXPECT_FALSE(std::ifstream(failed).good());
  EXPECT_FALSE(std::ifstream(failed + ".partial").good());
}

TEST(Safetensors, OpensTheGoldenTransformer) {
  FLX_GOLDEN_OR_SKIP(model_dir, "tiny-flux");
  auto file = SafetensorsFile::open(model_dir + "/transformer/diffusion_pytorch_model.safetensors");
  EXPECT_EQ(file->metadata().at("format"), "pt");
  const TensorView& x_embedder = file->get("x_embedder.weight");
  EXPECT_EQ(x_embedder.dtype, DType::F32);
  EXPECT_EQ(x_embedder.shape, (std::vector<int64_t>{128, 64}));
  uint64_t total = 0;
  for (const std::string& name : file->names()) total += file->get(name).nbytes;
  EXPECT_EQ(total, file->data_size());
}

}  // namespace
}  // namespace flx::flux
