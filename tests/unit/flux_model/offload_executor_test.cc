// WeightRegistry and OffloadExecutor on the CPU. The CPU stands in for the accelerator: a move
// there makes a copy, so a tensor the networks hold is "on the accelerator" exactly when its
// memory is no longer the host copy's.
#include "model/offload_executor.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/layers.h"
#include "model/weights.h"

namespace flx::flux {
namespace {

TensorStore store_of(const std::vector<std::string>& names) {
  const std::vector<float> values{1.0f, 2.0f, 3.0f, 4.0f};
  TensorStore store("unit store");
  for (const std::string& name : names) {
    store.add(
        make_owned_tensor(name, DType::F32, {2, 2}, values.data(), values.size() * sizeof(float)));
  }
  return store;
}

TEST(WeightRegistry, RebindsTheTensorsTheNetworksHold) {
  const auto registry = std::make_shared<WeightRegistry>(c10::Device(c10::kCPU));
  const Weights weights(store_of({"proj.weight", "proj.bias", "other.weight"}), at::kFloat,
                        at::kCPU, registry);
  Linear linear;
  linear.weight = weights.get("proj.weight", {2, 2});
  const at::Tensor other = weights.get("other.weight", {2, 2});
  const void* host_memory = linear.weight.data_ptr();
  // Loaded outside inference mode and moved inside it, as FluxPipeline does.
  c10::InferenceMode guard;
  const at::Tensor input = at::ones({1, 2});
  const at::Tensor before = linear(input);

  const int64_t moved =
      registry->move([](const std::string& name) { return name.rfind("proj.", 0) == 0; }, true);
  EXPECT_EQ(moved, 4 * 4) << "proj.weight only: proj.bias was never handed out";
  EXPECT_NE(linear.weight.data_ptr(), host_memory) << "the held tensor has new memory";
  EXPECT_TRUE(linear(input).equal(before));
  EXPECT_EQ(registry->on_accelerator(), std::vector<std::string>{"proj.weight"});
  EXPECT_EQ(registry->accelerator_bytes(), 16);
  EXPECT_EQ(registry->total_bytes(), 32);
  EXPECT_EQ(registry->move([](const std::string&) { return true; }, true), 16)
      << "proj.weight is already there";

  EXPECT_EQ(registry->move([](const std::string&) { return true; }, false), 32);
  EXPECT_EQ(linear.weight.data_ptr(), host_memory) << "back on the host copy, no copy made";
  EXPECT_TRUE(registry->on_accelerator().empty());
  EXPECT_TRUE(linear(input).equal(before));
  EXPECT_TRUE(other.equal(at::tensor({1.0f, 2.0f, 3.0f, 4.0f}).view({2, 2})));
}

TEST(Weights, RecordedWeightsMustLoadOnTheHost) {
  const auto registry = std::make_shared<WeightRegistry>(c10::Device(c10::kCUDA, 0));
  try {
    Weights(store_of({"w"}), at::kFloat, c10::Device(c10::kCUDA, 0), registry);
    ADD_FAILURE() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& error) {
    EXPECT_EQ(std::string(error.what()),
              "weights of unit store are recorded for offloading, so they must load on the cpu, "
              "not on cuda:0");
  }
}

TEST(Weights, OffloadedQuantizedMatricesStayQuantizedOnTheHostAndUnrecorded) {
  // A 2 x 64 float matrix quantized on load to Q8_0 (two 32-element blocks per row), beside
  // a dense bias: the bias is recorded for moves, the matrix is not (it expands per call).
  std::vector<float> values(128);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 7) - 3.0f;
  TensorStore store("unit store");
  store.add(make_owned_tensor("proj.weight", DType::F32, {2, 64}, values.data(),
                              values.size() * sizeof(float)));
  store.add(make_owned_tensor("proj.bias", DType::F32, {2}, values.data(), 2 * sizeof(float)));
  const auto registry = std::make_shared<WeightRegistry>(c10::Device(c10::kCPU));
  const Weights weights = Weights(store, at::kFloat, c10::Device(c10::kCPU), registry)
                              .quantize_on_load(QuantizeOnLoad{DType::Q8_0, {}});
  const auto matrix = weights.get_quantized("proj.weight", {2, 64});
  ASSERT_NE(matrix, nullptr) << "offloading no longer widens quantized matrices";
  EXPECT_EQ(matrix->storage_type(), DType::Q8_0);
  EXPECT_EQ(matrix->stored_bytes(), 2u * 2 * 34);
  weights.get("proj.bias", {2});
  EXPECT_EQ(registry->total_bytes(), 2 * static_cast<int64_t>(sizeof(float)));
  const at::Tensor dense = matrix->materialize();
  EXPECT_TRUE(dense.allclose(at::tensor(values).view({2, 64}), 0, 0.02)) << "Q8_0 of small ints";
}

class CpuAsAccelerator : public ::testing::Test {
 protected:
  // A transformer with two blocks and an embedding, and a VAE, recorded for offloading.
  void SetUp() override {
    for (const std::string component : {"transformer", "vae"}) {
      registries_[component] = std::make_shared<WeightRegistry>(c10::Device(c10::kCPU));
    }
    const Weights transformer(
        store_of({"x_embedder.weight", "transformer_blocks.0.w", "transformer_blocks.1.w"}),
        at::kFloat, at::kCPU, registries_["transformer"]);
    for (const std::string name :
         {"x_embedder.weight", "transformer_blocks.0.w", "transformer_blocks.1.w"}) {
      held_[name] = transformer.get(name, {2, 2});
    }
    held_["vae.w"] =
        Weights(store_of({"w"}), at::kFloat, at::kCPU, registries_["vae"]).get("w", {2, 2});
    for (const auto& [name, tensor] : held_) host_memory_[name] = tensor.data_ptr();
  }

  OffloadExecutor executor(OffloadMode mode) {
    return OffloadExecutor(
        OffloadPlanner(mode, {{"transformer", {"transformer_blocks.0.", "transformer_blocks.1."}},
                              {"vae", {}}}),
        c10::Device(c10::kCPU), registries_);
  }

  // The held tensors whose memory is not the host copy's, checking their values survived.
  std::vector<std::string> on_accelerator() const {
    std::vector<std::string> names;
    for (const auto& [name, tensor] : held_) {
      EXPECT_FLOAT_EQ(tensor[1][0].item<float>(), 3.0f) << name;
      if (tensor.data_ptr() != host_memory_.at(name)) names.push_back(name);
    }
    return names;
  }

  std::map<std::string, std::shared_ptr<WeightRegistry>> registries_;
  std::map<std::string, at::Tensor> held_;
  std::map<std::string, const void*> host_memory_;
};

TEST_F(CpuAsAccelerator, SequentialStreamsOneBlockAtATime) {
  OffloadExecutor offload = executor(OffloadMode::kSequential);
  ASSERT_TRUE(offload.active());
  offload.on({OffloadEvent::Kind::kLoad, "", ""});
  EXPECT_TRUE(on_accelerator().empty());
  std::vector<std::vector<std::string>> seen;
  const BlockHook hook = offload.block_hook("transformer");
  ASSERT_TRUE(static_cast<bool>(hook));
  {
    const OffloadExecutor::ComponentRun run(offload, "transformer");
    seen.push_back(on_accelerator());
    for (const std::string block : {"transformer_blocks.0.", "transformer_blocks.1."}) {
      hook(block, true);
      seen.push_back(on_accelerator());
      hook(block, false);
    }
  }
  EXPECT_TRUE(on_accelerator().empty());
  EXPECT_EQ(seen, (std::vector<std::vector<std::string>>{
                      {"x_embedder.weight"},
                      {"transformer_blocks.0.w", "x_embedder.weight"},
                      {"transformer_blocks.1.w", "x_embedder.weight"}}));
  EXPECT_EQ(offload.uploaded_bytes(), 3 * 16);
}

TEST_F(CpuAsAccelerator, ModelModeMovesWholeComponentsAndRecoversFromFailures) {
  OffloadExecutor offload = executor(OffloadMode::kModel);
  EXPECT_FALSE(static_cast<bool>(offload.block_hook("transformer")))
      << "no block moves in model mode, so the networks skip the calls";
  try {
    const OffloadExecutor::ComponentRun run(offload, "transformer");
    EXPECT_EQ(on_accelerator(),
              (std::vector<std::string>{"transformer_blocks.0.w", "transformer_blocks.1.w",
                                        "x_embedder.weight"}));
    throw std::runtime_error("cancelled mid-denoise");
  } catch (const std::runtime_error&) {
  }
  EXPECT_TRUE(on_accelerator().empty()) << "leaving the run by an exception still offloads";
  {
    const OffloadExecutor::ComponentRun run(offload, "vae");
    EXPECT_EQ(on_accelerator(), std::vector<std::string>{"vae.w"});
  }
  EXPECT_TRUE(on_accelerator().empty());
}

TEST_F(CpuAsAccelerator, RequiresARegistryPerComponentWhenActive) {
  registries_.erase("vae");
  try {
    executor(OffloadMode::kModel);
    ADD_FAILURE() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& error) {
    EXPECT_EQ(std::string(error.what()), "offload: component vae has no weight registry");
  }
}

TEST(OffloadExecutor, WithoutRegistriesNothingMoves) {
  // What FluxPipeline builds on the CPU: the mode is accepted and has no effect.
  for (const OffloadMode mode : {OffloadMode::kModel, OffloadMode::kSequential}) {
    OffloadExecutor offload(OffloadPlanner(mode, {{"vae", {"up_blocks.0."}}}),
                            c10::Device(c10::kCPU), {});
    EXPECT_FALSE(offload.active());
    EXPECT_EQ(offload.summary(),
              std::string("offload ") + offload_mode_name(mode) + " has no effect on cpu");
    const OffloadExecutor::ComponentRun run(offload, "vae");
    EXPECT_EQ(offload.uploaded_bytes(), 0);
    EXPECT_FALSE(static_cast<bool>(offload.block_hook("vae")));
  }
  EXPECT_EQ(
      OffloadExecutor(OffloadPlanner(OffloadMode::kNone, {{"vae", {}}}), c10::Device(c10::kCPU), {})
          .summary(),
      "offload none: every component on cpu");
}

TEST(OffloadExecutor, NoneNeedsNoRegistriesAndDescribesThePlan) {
  const OffloadExecutor offload(OffloadPlanner(OffloadMode::kNone, {{"vae", {}}}),
                                c10::Device(c10::kCUDA, 0), {});
  EXPECT_FALSE(offload.active());
  EXPECT_EQ(offload.summary(), "offload none:\n  vae: on the accelerator from load on");
}

}  // namespace
}  // namespace flx::flux
