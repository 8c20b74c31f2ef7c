#include "model/weights.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace flx::flux {
namespace {

TensorStore store_with_floats() {
  const std::vector<float> values{1.5f, -2.0f, 3.25f, 4.0f, 5.0f, 6.0f};
  TensorStore store("unit store");
  store.add(make_owned_tensor("block.proj.weight", DType::F32, {2, 3}, values.data(),
                              values.size() * sizeof(float)));
  return store;
}

std::string load_error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const LoadError& error) {
    return error.what();
  }
  return "<no LoadError>";
}

TEST(Weights, SameDtypeOnCpuIsTheMappingItself) {
  const TensorStore store = store_with_floats();
  const Weights weights(store, at::kFloat, at::kCPU);
  const at::Tensor tensor = weights.scoped("block.").get("proj.weight", {2, 3});
  EXPECT_EQ(tensor.data_ptr(), store.get("block.proj.weight").data) << "expected zero copy";
  EXPECT_EQ(tensor.sizes(), at::IntArrayRef({2, 3}));
  EXPECT_FLOAT_EQ(tensor[0][2].item<float>(), 3.25f);
}

TEST(Weights, OtherDtypeIsConvertedCopy) {
  const TensorStore store = store_with_floats();
  const at::Tensor tensor = Weights(store, at::kDouble, at::kCPU).get("block.proj.weight", {2, 3});
  EXPECT_EQ(tensor.scalar_type(), at::kDouble);
  EXPECT_NE(tensor.data_ptr(), store.get("block.proj.weight").data);
  EXPECT_DOUBLE_EQ(tensor[0][1].item<double>(), -2.0);
  const at::Tensor as_half =
      Weights(store, at::kFloat, at::kCPU).get_as("block.proj.weight", {2, 3}, at::kHalf);
  EXPECT_EQ(as_half.scalar_type(), at::kHalf);
}

TEST(Weights, TensorOutlivesTheStore) {
  at::Tensor tensor;
  {
    const Weights weights(store_with_floats(), at::kFloat, at::kCPU);
    tensor = weights.get("block.proj.weight", {2, 3});
  }
  EXPECT_FLOAT_EQ(tensor[1][2].item<float>(), 6.0f);
}

TEST(Weights, ScopesComposeAndErrorsNameTheFullTensorName) {
  const Weights weights(store_with_floats(), at::kFloat, at::kCPU);
  const Weights block = weights.scoped("block.").scoped("proj.");
  EXPECT_EQ(block.prefix(), "block.proj.");
  EXPECT_TRUE(block.contains("weight"));
  EXPECT_FALSE(block.contains("bias"));
  EXPECT_EQ(load_error_of([&] { block.get("bias", {2}); }),
            "unit store: tensor block.proj.bias not found");
  EXPECT_EQ(load_error_of([&] {
              block.get("weight", {3, 2});
            }),
            "unit store: tensor block.proj.weight has shape [2,3], expected [3,2]");
}

TEST(Weights, MapsEverySafetensorsDtype) {
  const struct {
    DType dtype;
    c10::ScalarType expected;
  } cases[] = {{DType::F32, at::kFloat},  {DType::F16, at::kHalf}, {DType::BF16, at::kBFloat16},
               {DType::F64, at::kDouble}, {DType::I64, at::kLong}, {DType::I32, at::kInt},
               {DType::I16, at::kShort},  {DType::I8, at::kChar},  {DType::U8, at::kByte},
               {DType::BOOL, at::kBool}};
  for (const auto& c : cases) {
    EXPECT_EQ(to_scalar_type(c.dtype), c.expected) << dtype_name(c.dtype);
  }
}

}  // namespace
}  // namespace flx::flux
