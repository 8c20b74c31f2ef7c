// The guidance-embedding path of FluxTransformer (FLUX.1-dev style models), which the
// schnell-like goldens do not exercise: the tiny-flux transformer plus a synthesized
// guidance embedder.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "golden_tensors.h"
#include "io/safetensors.h"
#include "model/flux_transformer.h"
#include "model/json_config.h"
#include "support/golden.h"

namespace flx::flux {
namespace {

void add_tensor(TensorStore& store, const std::string& name, const at::Tensor& values) {
  const at::Tensor data = values.to(at::kFloat).contiguous();
  store.add(make_owned_tensor(name, DType::F32, data.sizes().vec(), data.data_ptr(),
                              static_cast<size_t>(data.numel()) * sizeof(float)));
}

// The tiny-flux transformer with guidance_embeds on; the guidance embedder's weights are
// `linear_1` [dim, 256] / `linear_2` [dim, dim] and biases `bias_1`, `bias_2`.
FluxTransformer guided_transformer(const std::string& model_dir, const at::Tensor& linear_1,
                                   const at::Tensor& bias_1, const at::Tensor& linear_2,
                                   const at::Tensor& bias_2) {
  FluxTransformerConfig config =
      FluxTransformerConfig::from_json(JsonConfig::load(model_dir + "/transformer/config.json"));
  config.guidance_embeds = true;
  TensorStore store =
      TensorStore::open_component(model_dir + "/transformer", "diffusion_pytorch_model");
  const std::string prefix = "time_text_embed.guidance_embedder.";
  add_tensor(store, prefix + "linear_1.weight", linear_1);
  add_tensor(store, prefix + "linear_1.bias", bias_1);
  add_tensor(store, prefix + "linear_2.weight", linear_2);
  add_tensor(store, prefix + "linear_2.bias", bias_2);
  return FluxTransformer(config, Weights(store, at::kFloat, at::kCPU));
}

TEST(FluxTransformerGuidance, GuidanceIsEmbeddedAndAddedToTheConditioning) {
  FLX_GOLDEN_OR_SKIP(model_dir, "tiny-flux");
  const flx::test::GoldenCase golden_case = flx::test::golden_cases(model_dir).front();
  FluxTransformerInputs inputs;
  inputs.hidden_states = flx::test::read_golden(golden_case, "step_latents_in")[0];
  inputs.timestep = flx::test::read_golden(golden_case, "step_timestep_in")[0];
  inputs.encoder_hidden_states = flx::test::read_golden(golden_case, "prompt_embeds");
  inputs.pooled_projections = flx::test::read_golden(golden_case, "pooled_prompt_embeds");
  inputs.img_ids = flx::test::read_golden(golden_case, "latent_image_ids");
  inputs.txt_ids = flx::test::read_golden(golden_case, "text_ids");
  const FluxTransformer& unguided_model = flx::test::tiny_flux_pipeline(model_dir).transformer();
  const at::Tensor unguided = unguided_model.forward(inputs);
  const int64_t dim = unguided_model.config().inner_dim();
  // An all-zero embedder adds exactly zero: the result must be the unguided model's.
  const FluxTransformer zero = guided_transformer(
      model_dir, at::zeros({dim, 256}), at::zeros({dim}), at::zeros({dim, dim}), at::zeros({dim}));
  EXPECT_THROW(zero.forward(inputs), std::invalid_argument) << "guidance is required";
  inputs.guidance = at::full({1}, 3.5f);
  EXPECT_TRUE(zero.forward(inputs).equal(unguided));

  at::manual_seed(11);
  const FluxTransformer random =
      guided_transformer(model_dir, at::randn({dim, 256}) * 0.1, at::randn({dim}) * 0.1,
                         at::randn({dim, dim}) * 0.1, at::randn({dim}) * 0.1);
  const at::Tensor at_3_5 = random.forward(inputs);
  inputs.guidance = at::full({1}, 1.0f);
  const at::Tensor at_1 = random.forward(inputs);
  EXPECT_FALSE(at_3_5.equal(unguided));
  EXPECT_FALSE(at_3_5.equal(at_1)) << "the guidance value must condition the output";
  EXPECT_THROW(unguided_model.forward(inputs), std::invalid_argument)
      << "a model without guidance embedding must refuse guidance";
}

}  // namespace
}  // namespace flx::flux
