#include "io/gguf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <vector>

#include "support/golden.h"
#include "support/temp_dir.h"

namespace flx::flux {
namespace {

using flx::test::TempDir;

// A GGUF file assembled by hand, field by field, independent of write_gguf().
class RawGguf {
 public:
  RawGguf& u16(uint16_t v) { return put(v, 2); }
  RawGguf& u32(uint32_t v) { return put(v, 4); }
  RawGguf& u64(uint64_t v) { return put(v, 8); }
  RawGguf& str(const std::string& s) {
    u64(s.size());
    bytes += s;
    return *this;
  }
  RawGguf& header(uint32_t version, uint64_t tensors, uint64_t kvs) {
    bytes += "GGUF";
    return u32(version).u64(tensors).u64(kvs);
  }
  RawGguf& kv_u32(const std::string& key, uint32_t v) { return str(key).u32(4).u32(v); }
  RawGguf& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) u64(d);
    return u32(type).u64(offset);
  }
  RawGguf& pad(size_t alignment) {
    bytes.append((alignment - bytes.size() % alignment) % alignment, '\0');
    return *this;
  }
  RawGguf& data(size_t count, char fill = '\x01') {
    bytes.append(count, fill);
    return *this;
  }
  std::string bytes;

 private:
  RawGguf& put(uint64_t v, int width) {
    for (int i = 0; i < width; ++i) bytes += static_cast<char>((v >> (8 * i)) & 0xFF);
    return *this;
  }
};

// One F32 [2,3] tensor (ne = [3, 2]) at offset 0, default alignment.
RawGguf small_file() {
  RawGguf raw;
  raw.header(3, 1, 1).kv_u32("general.quantization_version", 2);
  raw.tensor("w", {3, 2}, 0, 0).pad(32).data(24);
  return raw;
}

std::string error_of(const std::string& bytes) {
  try {
    GgufFile::from_bytes(nullptr, reinterpret_cast<const unsigned char*>(bytes.data()),
                         bytes.size(), "bad.gguf");
  } catch (const LoadError& error) {
    return error.what();
  }
  return "<no LoadError>";
}

TEST(Gguf, ReadsAHandWrittenFile) {
  const std::string bytes = small_file().bytes;
  auto file = GgufFile::from_bytes(nullptr, reinterpret_cast<const unsigned char*>(bytes.data()),
                                   bytes.size(), "small.gguf");
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->alignment(), 32u);
  ASSERT_NE(file->find_value("general.quantization_version"), nullptr);
  EXPECT_EQ(file->find_value("general.quantization_version")->as_unsigned(), 2u);
  const TensorView* w = file->find("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->shape, (std::vector<int64_t>{2, 3}));  // ne reversed
  EXPECT_EQ(w->dtype, DType::F32);
  EXPECT_EQ(w->nbytes, 24u);
  const ptrdiff_t data_start = static_cast<const char*>(w->data) - bytes.data();
  EXPECT_EQ(data_start % 32, 0);  // aligned data section
  EXPECT_EQ(static_cast<size_t>(data_start), bytes.size() - 24);
}

TEST(Gguf, Version2AndCustomAlignmentAreRead) {
  RawGguf raw;
  raw.header(2, 1, 1).kv_u32("general.alignment", 64).tensor("b", {4}, 0, 0).pad(64).data(16);
  auto file = GgufFile::from_bytes(nullptr, reinterpret_cast<const unsigned char*>(raw.bytes.data()),
                                   raw.bytes.size(), "v2.gguf");
  EXPECT_EQ(file->version(), 2u);
  EXPECT_EQ(file->alignment(), 64u);
  const ptrdiff_t data_start = static_cast<const char*>(file->find("b")->data) - raw.bytes.data();
  EXPECT_EQ(data_start % 64, 0);
  EXPECT_EQ(static_cast<size_t>(data_start), raw.bytes.size() - 16);
}

TEST(Gguf, EveryMetadataTypeIsDecoded) {
  RawGguf raw;
  raw.header(3, 0, 9);
  raw.str("u8").u32(0).data(1, '\xFF');
  raw.str("i8").u32(1).data(1, '\xFE');
  raw.str("i16").u32(3).u16(0xFFFD);
  raw.str("f32").u32(6).u32(0x3FC00000);                                  // 1.5
  raw.str("bool").u32(7).data(1, '\x01');
  raw.str("s").u32(8).str("flux");
  raw.str("arr").u32(9).u32(8).u64(2).str("a").str("bc");
  raw.str("i64").u32(11).u64(static_cast<uint64_t>(-5));
  raw.str("nested").u32(9).u32(9).u64(1).u32(5).u64(2).u32(7).u32(8);
  auto file = GgufFile::from_bytes(nullptr, reinterpret_cast<const unsigned char*>(raw.bytes.data()),
                                   raw.bytes.size(), "meta.gguf");
  EXPECT_EQ(file->find_value("u8")->as_unsigned(), 255u);
  EXPECT_EQ(file->find_value("i8")->as_signed(), -2);
  EXPECT_EQ(file->find_value("i16")->as_signed(), -3);
  EXPECT_EQ(file->find_value("f32")->float_value, 1.5);
  EXPECT_EQ(file->find_value("bool")->describe(), "true");
  EXPECT_EQ(file->string_value("s"), "flux");
  EXPECT_EQ(file->find_value("arr")->describe(), "[2 x STRING]");
  EXPECT_EQ(file->find_value("i64")->as_signed(), -5);
  EXPECT_FALSE(file->find_value("i64")->as_unsigned());
  EXPECT_EQ(file->find_value("nested")->describe(), "[1 x ARRAY]");
}

TEST(Gguf, WriterRoundTripsMetadataTensorsAndAlignment) {
  TempDir dir;
  std::vector<uint8_t> q8(2 * 34, 7);
  const float bias[3] = {1, 2, 3};
  std::vector<TensorView> tensors = {
      make_owned_tensor("layer.weight", DType::Q8_0, {2, 32}, q8.data(), q8.size()),
      make_owned_tensor("layer.bias", DType::F32, {3}, bias, sizeof bias),
  };
  const std::string path = dir.file("out.gguf");
  write_gguf(path, {gguf_string("general.architecture", "flux"), gguf_uint32("general.file_type", 7)},
             tensors, 64);
  auto file = GgufFile::open(path);
  EXPECT_EQ(file->alignment(), 64u);
  EXPECT_EQ(file->string_value("general.architecture"), "flux");
  EXPECT_EQ(file->find_value("general.file_type")->as_unsigned(), 7u);
  EXPECT_EQ(file->tensor_names(), (std::vector<std::string>{"layer.weight", "layer.bias"}));
  const TensorView* w = file->find("layer.weight");
  EXPECT_EQ(w->dtype, DType::Q8_0);
  EXPECT_EQ(w->shape, (std::vector<int64_t>{2, 32}));
  EXPECT_EQ(std::memcmp(w->data, q8.data(), q8.size()), 0);
  EXPECT_EQ(std::memcmp(file->find("layer.bias")->data, bias, sizeof bias), 0);
  EXPECT_FALSE(std::ifstream(path + ".partial").good());
}

TEST(Gguf, WriterRefusesWhatGgufCannotHold) {
  TempDir dir;
  const uint8_t code = 0x38;
  EXPECT_THROW(write_gguf(dir.file("a.gguf"), {},
                          {make_owned_tensor("f8", DType::F8_E4M3, {1}, &code, 1)}),
               LoadError);
  EXPECT_THROW(write_gguf(dir.file("b.gguf"), {}, {}, 48), LoadError);
}

TEST(Gguf, BadFilesAreRefusedWithTheFileAndWhat) {
  struct Case {
    const char* what;
    std::string bytes;
    std::vector<std::string> expected;
  };
  RawGguf unknown_type;
  unknown_type.header(3, 1, 0).tensor("t", {256}, 16, 0).pad(32).data(66);
  RawGguf split_block;
  split_block.header(3, 1, 0).tensor("blocks.0.w", {48, 2}, 8, 0).pad(32).data(200);
  RawGguf misaligned;
  misaligned.header(3, 1, 0).tensor("t", {4}, 0, 8).pad(32).data(64);
  RawGguf past_end;
  past_end.header(3, 1, 0).tensor("big", {1024}, 0, 0).pad(32).data(100);
  RawGguf duplicate_key;
  duplicate_key.header(3, 0, 2).kv_u32("k", 1).kv_u32("k", 2);
  RawGguf duplicate_tensor;
  duplicate_tensor.header(3, 2, 0).tensor("t", {4}, 0, 0).tensor("t", {4}, 0, 32).pad(32).data(64);
  RawGguf bad_alignment;
  bad_alignment.header(3, 0, 1).kv_u32("general.alignment", 48);
  RawGguf huge_counts;
  huge_counts.header(3, 1ull << 60, 1ull << 60);
  RawGguf five_dims;
  five_dims.header(3, 1, 0).tensor("t", {1, 1, 1, 1, 1}, 0, 0);
  RawGguf bad_value_type;
  bad_value_type.header(3, 0, 1).str("k").u32(13).u32(0);
  RawGguf huge_array;
  huge_array.header(3, 0, 1).str("k").u32(9).u32(4).u64(1ull << 40);
  std::string big_endian = "GGUF";
  big_endian += std::string("\0\0\0\3", 4);
  const Case cases[] = {
      {"empty", "", {"bad.gguf: truncated", "magic"}},
      {"not gguf", "PK\3\4 zip file", {"bad.gguf: not a GGUF file"}},
      {"v1", RawGguf().header(1, 0, 0).bytes, {"GGUF version 1 is not supported"}},
      {"v4", RawGguf().header(4, 0, 0).bytes, {"unsupported GGUF version 4"}},
      {"big endian", big_endian, {"big-endian"}},
      {"unknown tensor type", unknown_type.bytes, {"tensor t", "IQ2_XXS (type 16)", "not supported", "Q4_K"}},
      {"row splits a block", split_block.bytes, {"tensor blocks.0.w", "row length 48", "Q8_0 block of 32"}},
      {"misaligned", misaligned.bytes, {"tensor t", "offset 8", "32-byte alignment"}},
      {"past the end", past_end.bytes, {"truncated: tensor big", "F32 [1024]", "4096 bytes"}},
      {"duplicate key", duplicate_key.bytes, {"metadata key k appears twice"}},
      {"duplicate tensor", duplicate_tensor.bytes, {"tensor t appears twice"}},
      {"alignment", bad_alignment.bytes, {"general.alignment 48 is not a power of two"}},
      {"huge counts", huge_counts.bytes, {"exceed what the file can hold"}},
      {"five dims", five_dims.bytes, {"tensor t: 5 dimensions"}},
      {"value type", bad_value_type.bytes, {"metadata k: unknown value type 13"}},
      {"huge array", huge_array.bytes, {"truncated: metadata k holds 1099511627776 elements"}},
  };
  for (const Case& c : cases) {
    const std::string message = error_of(c.bytes);
    for (const std::string& part : c.expected) {
      EXPECT_NE(message.find(part), std::string::npos) << c.what << ": " << message;
    }
  }
}

// Every prefix of a valid file is refused cleanly (the reader never reads past the end).
TEST(Gguf, EveryTruncationIsALoadError) {
  const std::string bytes = small_file().bytes;
  for (size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_NE(error_of(bytes.substr(0, size)), "<no LoadError>") << size;
  }
}

TEST(Gguf, TypeTablesAgree) {
  EXPECT_EQ(dtype_of_ggml_type(8), DType::Q8_0);
  EXPECT_EQ(dtype_of_ggml_type(30), DType::BF16);
  EXPECT_FALSE(dtype_of_ggml_type(9));  // Q8_1: a ggml type we do not read
  EXPECT_EQ(ggml_type_name(12), "Q4_K (type 12)");
  EXPECT_EQ(ggml_type_name(99), "type 99");
  for (DType d : {DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                  DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K,
                  DType::Q6_K}) {
    ASSERT_TRUE(ggml_type_of(d)) << dtype_name(d);
    EXPECT_EQ(dtype_of_ggml_type(*ggml_type_of(d)), d) << dtype_name(d);
  }
  EXPECT_FALSE(ggml_type_of(DType::F8_E4M3));
}

TEST(Gguf, PublishedGoldenFilesOpen) {
  FLX_GOLDEN_OR_SKIP(dir, "tiny-flux-quant/files");
  auto flux = GgufFile::open(dir + "/flux1-small-schnell-Q4_K.gguf");
  EXPECT_EQ(flux->string_value("general.architecture"), "flux");
  EXPECT_EQ(flux->tensor_names().size(), 80u);
  EXPECT_EQ(flux->find("double_blocks.0.img_mlp.2.weight")->dtype, DType::Q4_K);
  auto t5 = GgufFile::open(dir + "/t5-encoder-small-schnell-Q8_0.gguf");
  EXPECT_EQ(t5->string_value("general.architecture"), "t5encoder");
  EXPECT_EQ(t5->find_value("tokenizer.ggml.tokens")->describe(), "[32128 x STRING]");
  EXPECT_EQ(t5->find("enc.blk.0.attn_rel_b.weight")->shape, (std::vector<int64_t>{32, 4}));
}

}  // namespace
}  // namespace flx::flux
