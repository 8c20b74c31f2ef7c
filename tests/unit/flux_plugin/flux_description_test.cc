#include "flux_description.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <string>

namespace flx::flux {
namespace {

Poco::JSON::Object::Ptr Parse(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
}

FluxDescription Description(bool guidance_embeds) {
  FluxDescription d;
  d.options.model = "black-forest-labs/FLUX.1-dev";
  d.options.load = LoadMode::kLazy;
  d.options.threads = "4";
  d.options.dtype = "bf16";
  d.options.progress = ProgressMode::kLog;
  d.settings.device = "cpu";
  d.settings.device_reason = "auto: no CUDA device, no MPS -> cpu";
  d.settings.dtype = "bfloat16";
  d.settings.dtype_reason = "explicit";
  d.settings.threads = 4;
  d.settings.threads_reason = "explicit";
  d.settings.blas = "open";
  d.settings.attention_slicing = "max";
  d.settings.vae_tiling = true;
  d.settings.vae_tile_size = 256;
  d.settings.vae_tile_overlap = 64;
  d.settings.offload = "model";
  d.offload_summary = "offload model has no effect on cpu";
  d.dtype_override = "only bfloat16";
  d.options.override_variants = 2;
  d.loaded_variants = {{"bfloat16", "model"}, {"float32", "none"}};
  d.text_cache = TextCacheStats{16, 2, 3, 4};
  d.buffer_pool.enabled = true;
  d.buffer_pool.hits = 40;
  d.buffer_pool.misses = 5;
  d.buffer_pool.idle_bytes = 1 << 20;
  d.weights_bytes = 123456789;
  d.matmul_gflops = 95.5;
  d.model_root = "/cache/models--black-forest-labs--FLUX.1-dev/snapshots/abc";
  d.transformer_file = "/models/flux1-dev.safetensors";
  d.loaded = true;
  d.guidance_embeds = guidance_embeds;
  d.defaults = model_defaults(guidance_embeds, d.options);
  d.vae_scale_factor = 8;
  return d;
}

TEST(FluxDescriptionTest, ReportsQuantizationPerComponent) {
  FluxDescription d = Description(true);
  FluxDescription::Quantization& t = d.quantization["transformer"];
  t.quantize = "q8_0";
  t.tensor_types = {{"Q8_0", 26}, {"F32", 54}};
  t.bytes = 2084576;
  d.quantization["text_encoder_2"].file = "/models/t5-Q8_0.gguf";
  const Poco::JSON::Object::Ptr q = Parse(describe_json(d))->getObject("quantization");
  ASSERT_FALSE(q.isNull());
  const Poco::JSON::Object::Ptr transformer = q->getObject("transformer");
  EXPECT_EQ(transformer->getValue<std::string>("quantize"), "q8_0");
  EXPECT_EQ(transformer->getObject("tensor_types")->getValue<int>("Q8_0"), 26);
  EXPECT_EQ(transformer->getValue<int64_t>("bytes"), 2084576);
  const Poco::JSON::Object::Ptr t5 = q->getObject("text_encoder_2");
  EXPECT_EQ(t5->getValue<std::string>("file"), "/models/t5-Q8_0.gguf");
  EXPECT_TRUE(t5->isNull("bytes")) << "not loaded yet";
}

TEST(FluxDescriptionTest, ReportsTheActiveConfiguration) {
  FluxDescription d = Description(true);
  d.warmup_state = WarmupState::kDone;
  d.warmup_ms = 1234.5;
  const Poco::JSON::Object::Ptr json = Parse(describe_json(d));
  EXPECT_EQ(json->getValue<std::string>("type"), "flux");
  EXPECT_EQ(json->getValue<std::string>("model"), d.options.model);
  EXPECT_EQ(json->getValue<std::string>("model_root"), d.model_root);
  EXPECT_EQ(json->getValue<std::string>("transformer_file"), d.transformer_file);
  EXPECT_EQ(json->getValue<std::string>("vae_file"), "");
  EXPECT_EQ(json->getValue<std::string>("load"), "lazy");
  EXPECT_TRUE(json->getValue<bool>("loaded"));
  EXPECT_EQ(json->getValue<std::string>("device"), "cpu");
  EXPECT_EQ(json->getValue<std::string>("dtype"), "bfloat16");
  EXPECT_EQ(json->getValue<int>("threads"), 4);
  EXPECT_EQ(json->getValue<std::string>("device_reason"), d.settings.device_reason);
  EXPECT_EQ(json->getValue<std::string>("dtype_reason"), "explicit");
  EXPECT_EQ(json->getValue<std::string>("threads_reason"), "explicit");
  EXPECT_EQ(json->getValue<std::string>("blas"), "open");
  EXPECT_DOUBLE_EQ(json->getValue<double>("matmul_gflops"), 95.5);
  EXPECT_EQ(json->getValue<std::string>("attention_slicing"), "max");
  EXPECT_FALSE(json->getValue<bool>("vae_slicing"));
  EXPECT_TRUE(json->getValue<bool>("vae_tiling"));
  EXPECT_EQ(json->getValue<int>("vae_tile_size"), 256);
  EXPECT_EQ(json->getValue<int>("vae_tile_overlap"), 64);
  EXPECT_EQ(json->getValue<std::string>("offload"), "model");
  EXPECT_EQ(json->getValue<std::string>("offload_summary"), d.offload_summary);
  EXPECT_EQ(json->getValue<std::string>("dtype_override"), "only bfloat16");
  EXPECT_EQ(json->getValue<int>("override_variants"), 2);
  const Poco::JSON::Array::Ptr variants = json->getArray("loaded_variants");
  ASSERT_FALSE(variants.isNull());
  ASSERT_EQ(variants->size(), 2u);
  EXPECT_EQ(variants->getObject(0)->getValue<std::string>("dtype"), "bfloat16");
  EXPECT_EQ(variants->getObject(0)->getValue<std::string>("offload"), "model");
  EXPECT_EQ(variants->getObject(1)->getValue<std::string>("dtype"), "float32");
  EXPECT_EQ(json->getValue<std::string>("progress"), "log");
  const Poco::JSON::Object::Ptr pool = json->getObject("buffer_pool");
  ASSERT_FALSE(pool.isNull());
  EXPECT_TRUE(pool->getValue<bool>("enabled"));
  EXPECT_EQ(pool->getValue<int>("hits"), 40);
  EXPECT_EQ(pool->getValue<int>("misses"), 5);
  EXPECT_EQ(pool->getValue<int>("idle_bytes"), 1 << 20);
  const Poco::JSON::Object::Ptr cache = json->getObject("text_cache");
  ASSERT_FALSE(cache.isNull());
  EXPECT_EQ(cache->getValue<int>("size"), 16);
  EXPECT_EQ(cache->getValue<int>("entries"), 2);
  EXPECT_EQ(cache->getValue<int>("hits"), 3);
  EXPECT_EQ(cache->getValue<int>("misses"), 4);
  EXPECT_EQ(json->getValue<int>("steps"), 28);
  EXPECT_EQ(json->getValue<double>("guidance"), 3.5);
  EXPECT_EQ(json->getValue<int>("max_sequence_length"), 512);
  EXPECT_EQ(json->getValue<int64_t>("weights_bytes"), 123456789);
  EXPECT_EQ(json->getValue<int>("default_steps"), 28);
  EXPECT_EQ(json->getValue<double>("default_guidance"), 3.5);
  EXPECT_EQ(json->getValue<int>("default_max_sequence_length"), 512);
  EXPECT_EQ(json->getValue<int>("default_width"), 1024);
  EXPECT_EQ(json->getValue<int>("default_height"), 1024);
  EXPECT_EQ(json->getValue<int>("vae_scale_factor"), 8);
  EXPECT_EQ(json->getValue<int>("size_multiple"), 16);
  EXPECT_TRUE(json->getValue<bool>("guidance_embeds"));
  const Poco::JSON::Object::Ptr warmup = json->getObject("warmup");
  ASSERT_FALSE(warmup.isNull());
  EXPECT_TRUE(warmup->getValue<bool>("enabled"));
  EXPECT_EQ(warmup->getValue<std::string>("state"), "done");
  EXPECT_EQ(warmup->getValue<double>("duration_ms"), 1234.5);
}

TEST(FluxDescriptionTest, UnknownValuesAreNull) {
  FluxDescription d = Description(false);
  d.options.warmup = false;
  const Poco::JSON::Object::Ptr json = Parse(describe_json(d));
  EXPECT_TRUE(json->isNull("default_guidance")) << "a schnell-like model ignores guidance";
  EXPECT_TRUE(json->isNull("guidance")) << "a schnell-like model ignores guidance";
  EXPECT_EQ(json->getValue<int>("steps"), 4);
  d.weights_bytes.reset();
  EXPECT_TRUE(Parse(describe_json(d))->isNull("weights_bytes")) << "unknown until loaded";
  const Poco::JSON::Object::Ptr warmup = json->getObject("warmup");
  EXPECT_FALSE(warmup->getValue<bool>("enabled"));
  EXPECT_EQ(warmup->getValue<std::string>("state"), "disabled");
  EXPECT_TRUE(warmup->isNull("duration_ms"));
}

TEST(FluxDescriptionTest, FaultInjectionIsNullWhenOffAndListsTheSetKeysWhenOn) {
  FluxDescription d = Description(false);
  EXPECT_TRUE(Parse(describe_json(d))->isNull("fault_injection"));

  d.options.fault_injection.oom_first_n = 0;
  d.options.fault_injection.oom_when_dtype = "bfloat16";
  const Poco::JSON::Object::Ptr injection = Parse(describe_json(d))->getObject("fault_injection");
  ASSERT_FALSE(injection.isNull());
  EXPECT_EQ(injection->getValue<int>("oom_first_n"), 0);
  EXPECT_EQ(injection->getValue<std::string>("oom_when_dtype"), "bfloat16");
  EXPECT_FALSE(injection->has("oom_above_pixels")) << "only the keys that are set";
}

TEST(FluxDescriptionTest, NamesEveryWarmupState) {
  for (const auto& [state, name] :
       {std::pair{WarmupState::kDisabled, "disabled"}, std::pair{WarmupState::kPending, "pending"},
        std::pair{WarmupState::kRunning, "running"}, std::pair{WarmupState::kDone, "done"},
        std::pair{WarmupState::kFailed, "failed"}, std::pair{WarmupState::kSkipped, "skipped"}}) {
    EXPECT_STREQ(warmup_state_name(state), name);
  }
}

}  // namespace
}  // namespace flx::flux
