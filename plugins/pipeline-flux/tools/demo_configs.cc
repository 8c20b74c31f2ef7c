#include "demo_configs.h"

#include <vector>

#include "json_text.h"

namespace flx::flux::demo {
namespace {

const char* const kDiffusersVersion = "0.32.2";
const char* const kTransformersVersion = "4.48.0";
constexpr int kT5ExtraIds = 100;

std::vector<std::string> pair(const char* library, const char* class_name) {
  return {library, class_name};
}

JsonObject added_token(const std::string& content, bool strip, bool normalized) {
  return JsonObject()
      .add("content", content)
      .add("lstrip", strip)
      .add("normalized", normalized)
      .add("rstrip", strip)
      .add("single_word", false)
      .add("special", true);
}

JsonObject special_token(const std::string& content, bool normalized) {
  return JsonObject()
      .add("content", content)
      .add("lstrip", false)
      .add("normalized", normalized)
      .add("rstrip", false)
      .add("single_word", false);
}

}  // namespace

std::string model_index_json() {
  return JsonObject()
      .add("_class_name", "FluxPipeline")
      .add("_diffusers_version", kDiffusersVersion)
      .add("scheduler", pair("diffusers", "FlowMatchEulerDiscreteScheduler"))
      .add("text_encoder", pair("transformers", "CLIPTextModel"))
      .add("text_encoder_2", pair("transformers", "T5EncoderModel"))
      .add("tokenizer", pair("transformers", "CLIPTokenizer"))
      .add("tokenizer_2", pair("transformers", "T5Tokenizer"))
      .add("transformer", pair("diffusers", "FluxTransformer2DModel"))
      .add("vae", pair("diffusers", "AutoencoderKL"))
      .str();
}

std::string scheduler_config_json() {
  return JsonObject()
      .add("_class_name", "FlowMatchEulerDiscreteScheduler")
      .add("_diffusers_version", kDiffusersVersion)
      .add("base_image_seq_len", 256)
      .add("base_shift", 0.5)
      .add("max_image_seq_len", 4096)
      .add("max_shift", 1.15)
      .add("num_train_timesteps", 1000)
      .add("shift", 1.0)
      .add("use_dynamic_shifting", false)
      .str();
}

std::string clip_text_config_json(const ClipTextSpec& spec) {
  return JsonObject()
      .add("architectures", std::vector<std::string>{"CLIPTextModel"})
      .add("attention_dropout", 0.0)
      .add("bos_token_id", 0)
      .add("dropout", 0.0)
      // FLUX.1's CLIP-L keeps the legacy eos_token_id 2: the pooled output is taken at
      // argmax(input_ids), which is the first <|endoftext|> (our largest id).
      .add("eos_token_id", 2)
      .add("hidden_act", "quick_gelu")
      .add("hidden_size", spec.hidden_size)
      .add("initializer_factor", 1.0)
      .add("initializer_range", 0.02)
      .add("intermediate_size", spec.intermediate_size)
      .add("layer_norm_eps", 1e-05)
      .add("max_position_embeddings", spec.max_position_embeddings)
      .add("model_type", "clip_text_model")
      .add("num_attention_heads", spec.num_attention_heads)
      .add("num_hidden_layers", spec.num_hidden_layers)
      .add("pad_token_id", 1)
      .add("projection_dim", spec.hidden_size)
      .add("torch_dtype", "float32")
      .add("transformers_version", kTransformersVersion)
      .add("vocab_size", spec.vocab_size)
      .str();
}

std::string t5_config_json(const T5Spec& spec) {
  return JsonObject()
      .add("architectures", std::vector<std::string>{"T5EncoderModel"})
      .add("classifier_dropout", 0.0)
      .add("d_ff", spec.d_ff)
      .add("d_kv", spec.d_kv)
      .add("d_model", spec.d_model)
      .add("decoder_start_token_id", 0)
      .add("dense_act_fn", "gelu_new")
      .add("dropout_rate", 0.1)
      .add("eos_token_id", 1)
      .add("feed_forward_proj", "gated-gelu")
      .add("initializer_factor", 1.0)
      .add("is_encoder_decoder", true)
      .add("is_gated_act", true)
      .add("layer_norm_epsilon", 1e-06)
      .add("model_type", "t5")
      .add("num_decoder_layers", spec.num_layers)
      .add("num_heads", spec.num_heads)
      .add("num_layers", spec.num_layers)
      .add("pad_token_id", 0)
      .add("relative_attention_max_distance", spec.relative_attention_max_distance)
      .add("relative_attention_num_buckets", spec.relative_attention_num_buckets)
      .add("tie_word_embeddings", false)
      .add("torch_dtype", "float32")
      .add("transformers_version", kTransformersVersion)
      .add("use_cache", true)
      .add("vocab_size", spec.vocab_size)
      .str();
}

std::string transformer_config_json(const TransformerSpec& spec) {
  return JsonObject()
      .add("_class_name", "FluxTransformer2DModel")
      .add("_diffusers_version", kDiffusersVersion)
      .add("attention_head_dim", spec.attention_head_dim)
      .add("axes_dims_rope", spec.axes_dims_rope)
      .add("guidance_embeds", spec.guidance_embeds)
      .add("in_channels", spec.in_channels)
      .add("joint_attention_dim", spec.joint_attention_dim)
      .add("num_attention_heads", spec.num_attention_heads)
      .add("num_layers", spec.num_layers)
      .add("num_single_layers", spec.num_single_layers)
      .add_null("out_channels")
      .add("patch_size", 1)
      .add("pooled_projection_dim", spec.pooled_projection_dim)
      .str();
}

std::string vae_config_json(const VaeSpec& spec) {
  const std::vector<std::string> down(spec.block_out_channels.size(), "DownEncoderBlock2D");
  const std::vector<std::string> up(spec.block_out_channels.size(), "UpDecoderBlock2D");
  return JsonObject()
      .add("_class_name", "AutoencoderKL")
      .add("_diffusers_version", kDiffusersVersion)
      .add("act_fn", "silu")
      .add("block_out_channels", spec.block_out_channels)
      .add("down_block_types", down)
      .add("force_upcast", true)
      .add("in_channels", 3)
      .add("latent_channels", spec.latent_channels)
      .add_null("latents_mean")
      .add_null("latents_std")
      .add("layers_per_block", spec.layers_per_block)
      .add("mid_block_add_attention", true)
      .add("norm_num_groups", spec.norm_num_groups)
      .add("out_channels", 3)
      .add("sample_size", 1024)
      .add("scaling_factor", spec.scaling_factor)
      .add("shift_factor", spec.shift_factor)
      .add("up_block_types", up)
      .add("use_post_quant_conv", false)
      .add("use_quant_conv", false)
      .str();
}

std::string clip_tokenizer_config_json(int64_t start_of_text_id, int64_t end_of_text_id) {
  return JsonObject()
      .add("added_tokens_decoder",
           JsonObject()
               .add(std::to_string(start_of_text_id), added_token("<|startoftext|>", false, true))
               .add(std::to_string(end_of_text_id), added_token("<|endoftext|>", false, false)))
      .add("bos_token", "<|startoftext|>")
      .add("clean_up_tokenization_spaces", true)
      .add("eos_token", "<|endoftext|>")
      .add("errors", "replace")
      .add("model_max_length", 77)
      .add("pad_token", "<|endoftext|>")
      .add("tokenizer_class", "CLIPTokenizer")
      .add("unk_token", "<|endoftext|>")
      .str();
}

std::string clip_special_tokens_map_json() {
  return JsonObject()
      .add("bos_token", special_token("<|startoftext|>", true))
      .add("eos_token", special_token("<|endoftext|>", false))
      .add("pad_token", special_token("<|endoftext|>", false))
      .add("unk_token", special_token("<|endoftext|>", false))
      .str();
}

std::string t5_tokenizer_config_json(int64_t piece_count) {
  JsonObject decoder;
  decoder.add("0", added_token("<pad>", false, false));
  decoder.add("1", added_token("</s>", false, false));
  decoder.add("2", added_token("<unk>", false, false));
  std::vector<std::string> extra_ids;
  for (int n = 0; n < kT5ExtraIds; ++n) {
    const int64_t id = piece_count + kT5ExtraIds - 1 - n;
    decoder.add(std::to_string(id),
                added_token("<extra_id_" + std::to_string(n) + ">", true, false));
    extra_ids.push_back("<extra_id_" + std::to_string(n) + ">");
  }
  return JsonObject()
      .add("add_prefix_space", true)
      .add("added_tokens_decoder", decoder)
      .add("additional_special_tokens", extra_ids)
      .add("clean_up_tokenization_spaces", true)
      .add("eos_token", "</s>")
      .add("extra_ids", kT5ExtraIds)
      .add("legacy", false)
      .add("model_max_length", 512)
      .add("pad_token", "<pad>")
      .add("sp_model_kwargs", JsonObject())
      .add("tokenizer_class", "T5Tokenizer")
      .add("unk_token", "<unk>")
      .str();
}

std::string t5_special_tokens_map_json() {
  std::vector<std::string> extra_ids;
  for (int n = 0; n < kT5ExtraIds; ++n) extra_ids.push_back("<extra_id_" + std::to_string(n) + ">");
  return JsonObject()
      .add("additional_special_tokens", extra_ids)
      .add("eos_token", special_token("</s>", false))
      .add("pad_token", special_token("<pad>", false))
      .add("unk_token", special_token("<unk>", false))
      .str();
}

}  // namespace flx::flux::demo
