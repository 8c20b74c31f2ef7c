// In-place activations (layers.h) compute what their out-of-place versions compute.
#include "model/layers.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace flx::flux {
namespace {

TEST(LayersTest, InPlaceActivationsMatchOutOfPlaceOnes) {
  const at::Tensor x = at::randn({4, 33}, at::TensorOptions().dtype(at::kFloat));
  for (Activation activation : {Activation::kSilu, Activation::kRelu, Activation::kGelu,
                                Activation::kGeluTanh, Activation::kQuickGelu,
                                Activation::kGeluNew}) {
    SCOPED_TRACE(static_cast<int>(activation));
    const at::Tensor expected = activate(activation, x);
    at::Tensor copy = x.clone();
    at::Tensor& result = activate_(activation, copy);
    EXPECT_TRUE(at::allclose(result, expected, 0, 1e-7));
    EXPECT_TRUE(at::allclose(copy, expected, 0, 1e-7)) << "the caller's tensor holds the result";
  }
}

}  // namespace
}  // namespace flx::flux
