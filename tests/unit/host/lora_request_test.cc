// The `lora` field of an images request (http/lora_request.h) as ParseImagesRequest reads it,
// and how the chosen adapters reach the pipeline's flx_request (ABI 1.4).
#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "http/generation_request.h"

namespace flx {
namespace {

std::variant<ImagesRequest, ApiError> Parse(const std::string& lora) {
  return ParseImagesRequest(R"({"prompt":"p","lora":)" + lora + "}");
}

std::string ParamOf(const std::string& lora) {
  const auto parsed = Parse(lora);
  const ApiError* error = std::get_if<ApiError>(&parsed);
  return error == nullptr ? "(accepted)" : error->param;
}

TEST(LoraRequestTest, AbsentOrNullMeansTheDefaultSetAndEmptyMeansNone) {
  const auto absent = ParseImagesRequest(R"({"prompt":"p"})");
  EXPECT_FALSE(std::get<ImagesRequest>(absent).input.loras.has_value());
  EXPECT_FALSE(std::get<ImagesRequest>(Parse("null")).input.loras.has_value());
  const auto empty = Parse("[]");
  ASSERT_TRUE(std::get<ImagesRequest>(empty).input.loras.has_value());
  EXPECT_TRUE(std::get<ImagesRequest>(empty).input.loras->empty());
}

TEST(LoraRequestTest, NamesAndScalesAreKeptInOrder) {
  const auto parsed = Parse(R"([{"name":"film grain v2","scale":0.75},{"name":"b"}])");
  const auto& loras = *std::get<ImagesRequest>(parsed).input.loras;
  ASSERT_EQ(loras.size(), 2u);
  EXPECT_EQ(loras[0].name, "film grain v2");
  EXPECT_FLOAT_EQ(loras[0].scale, 0.75f);
  EXPECT_EQ(loras[1].name, "b");
  EXPECT_FLOAT_EQ(loras[1].scale, 1.0f) << "scale defaults to 1";
}

TEST(LoraRequestTest, BadShapesNameTheField) {
  EXPECT_EQ(ParamOf(R"("grain")"), "lora");
  EXPECT_EQ(ParamOf(R"({"name":"grain"})"), "lora");
  EXPECT_EQ(ParamOf(R"(["grain"])"), "lora[0]");
  EXPECT_EQ(ParamOf(R"([{"scale":1}])"), "lora[0].name");
  EXPECT_EQ(ParamOf(R"([{"name":""}])"), "lora[0].name");
  EXPECT_EQ(ParamOf(R"([{"name":"a/b"}])"), "lora[0].name");
  EXPECT_EQ(ParamOf(R"([{"name":".hidden"}])"), "lora[0].name");
  EXPECT_EQ(ParamOf(R"([{"name":"a"},{"name":"b","scale":true}])"), "lora[1].scale");
  EXPECT_EQ(ParamOf(R"([{"name":"a","scale":101}])"), "lora[0].scale");
  EXPECT_EQ(ParamOf(R"([{"name":"a"},{"name":"a"}])"), "lora");
  EXPECT_EQ(ParamOf(R"([{"name":"a","scale":-2.5}])"), "(accepted)") << "negative inverts";
}

TEST(LoraRequestTest, AtMostEightAdapters) {
  std::string many = "[";
  for (int i = 0; i < 9; ++i)
    many += std::string(i ? "," : "") + R"({"name":"l)" + std::to_string(i) + "\"}";
  EXPECT_EQ(ParamOf(many + "]"), "lora");
}

}  // namespace
}  // namespace flx
