// demo_configs.h — the JSON files of a demo checkpoint, with the keys and class names that
// diffusers 0.32 and transformers 4.48 write for FLUX.1, so the folder reads like a real
// FLUX.1 download (to our loaders and to diffusers alike).
#ifndef FLX_FLUX_TOOLS_DEMO_CONFIGS_H_
#define FLX_FLUX_TOOLS_DEMO_CONFIGS_H_

#include <string>

#include "demo_model_spec.h"

namespace flx::flux::demo {

// model_index.json: FluxPipeline and its seven components.
std::string model_index_json();
// scheduler/scheduler_config.json: FlowMatchEulerDiscreteScheduler as FLUX.1-schnell has it
// (shift 1.0, no dynamic shifting).
std::string scheduler_config_json();
std::string clip_text_config_json(const ClipTextSpec& spec);
std::string t5_config_json(const T5Spec& spec);
std::string transformer_config_json(const TransformerSpec& spec);
std::string vae_config_json(const VaeSpec& spec);

// tokenizer/tokenizer_config.json and special_tokens_map.json for a CLIP vocabulary whose
// last two ids are <|startoftext|> and <|endoftext|>.
std::string clip_tokenizer_config_json(int64_t start_of_text_id, int64_t end_of_text_id);
std::string clip_special_tokens_map_json();
// tokenizer_2/tokenizer_config.json and special_tokens_map.json for a SentencePiece model of
// `piece_count` pieces with T5's <pad> 0, </s> 1, <unk> 2 and the 100 <extra_id_N> tokens
// T5Tokenizer appends (<extra_id_N> = piece_count + 99 - N); legacy false, like FLUX.1.
std::string t5_tokenizer_config_json(int64_t piece_count);
std::string t5_special_tokens_map_json();

}  // namespace flx::flux::demo

#endif  // FLX_FLUX_TOOLS_DEMO_CONFIGS_H_
