// `fluxserve generate`: one generation from the command line through the same plugin, ABI
// and generation service the server uses, written to an image file.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/cli.h"
#include "config/diagnostics.h"
#include "config/env_overrides.h"
#include "generation_service.h"
#include "image_encoder.h"
#include "logging.h"
#include "stage_graph.h"

namespace flx {
namespace {

const char* kGenerateHelp =
    "usage: fluxserve generate --model PATH --prompt TEXT --out FILE.png [options]\n"
    "\n"
    "  --model PATH              diffusers folder, Hugging Face repo id in the local cache, or\n"
    "                            single-file transformer (.safetensors, fp8, .gguf; then also\n"
    "                            --base)\n"
    "  --base PATH               diffusers folder supplying text encoders, tokenizers and VAE\n"
    "                            for a single-file --model\n"
    "  --text-encoder-2 FILE     T5 encoder weights instead of the model's (.gguf, .safetensors)\n"
    "  --quantize TYPE           quantize float transformer and T5 weights on load: q8_0, q4_k,\n"
    "                            q5_k, q6_k, fp8, none, or auto: the least lossy that fits\n"
    "                            --memory-budget (the stage's quantize: key)\n"
    "  --memory-budget SIZE      what the generation may hold, e.g. 10GiB (default auto: 85% of\n"
    "                            memory); when the weights do not all fit, the text encoders'\n"
    "                            pages are given back before denoising\n"
    "  --release-unused-weights B  true, false or auto (the stage's release_unused_weights)\n"
    "  --prompt TEXT             the prompt (CLIP and, without --prompt-2, T5)\n"
    "  --prompt-2 TEXT           a separate prompt for T5\n"
    "  --seed N                  default 0; image i of --n uses seed + i\n"
    "  --steps N                 default: the model's (schnell 4, dev 28)\n"
    "  --guidance G              default: the model's (dev 3.5; ignored by schnell)\n"
    "  --width W --height H      pixels, multiples of 2 x the VAE scale factor (16 for FLUX.1)\n"
    "  --max-sequence-length N   T5 tokens (default: schnell 256, dev 512)\n"
    "  --n N                     images (written as FILE-0.png, FILE-1.png, ... when N > 1)\n"
    "  --out FILE                .png, .jpg or .jpeg\n"
    "  --dump DIR                write every intermediate tensor (.bin + .json sidecar) to DIR\n"
    "  --dtype D --device D --threads N   pipeline settings (see README)\n"
    "  --plugin NAME             the pipeline plugin library (default flx_pipeline_flux)\n";

struct GenerateArgs {
  std::string model, base, text_encoder_2, quantize, prompt, prompt_2, out, dump, dtype, device, threads;
  std::string memory_budget, release_unused_weights;
  std::string plugin = "flx_pipeline_flux";
  bool has_prompt_2 = false;
  uint64_t seed = 0;
  uint32_t steps = 0, width = 0, height = 0, max_sequence_length = 0, n = 1;
  float guidance = std::nanf("");
};

bool ParseUnsigned(const std::string& text, uint64_t max, uint64_t* out) {
  if (text.empty() || text.size() > 20 || text.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  try {
    unsigned long long v = std::stoull(text);
    if (v > max) return false;
    *out = v;
    return true;
  } catch (...) {
    return false;
  }
}

class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}
  void Step(uint32_t step, uint32_t total, double seconds) {
    if (!enabled_ || total == 0) return;
    const int width = 30;
    int filled = int(double(step) / total * width);
    std::fprintf(stderr, "\r[%.*s%.*s] step %u/%u  %.2f s/step", filled,
                 "##############################", width - filled,
                 "..............................", step, total, seconds);
    if (step == total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  bool enabled_;
};

}  // namespace

int GenerateCommand(const std::vector<std::string>& args) {
  GenerateArgs a;
  FlagParser flags(args);
  uint64_t v = 0;
  auto number = [&](uint64_t max, auto* dst) {
    std::string text = flags.Value();
    if (!ParseUnsigned(text, max, &v)) {
      flags.Fail(flags.token() + " must be an integer in 0.." + std::to_string(max) + ", got '" +
                 text + "'");
      return;
    }
    *dst = static_cast<std::remove_pointer_t<decltype(dst)>>(v);
  };
  while (flags.Next()) {
    if (flags.Is("--help") || flags.Is("-h")) {
      std::cout << kGenerateHelp;
      return 0;
    } else if (flags.Is("--model")) {
      a.model = flags.Value();
    } else if (flags.Is("--base")) {
      a.base = flags.Value();
    } else if (flags.Is("--text-encoder-2")) {
      a.text_encoder_2 = flags.Value();
    } else if (flags.Is("--quantize")) {
      a.quantize = flags.Value();
    } else if (flags.Is("--memory-budget")) {
      a.memory_budget = flags.Value();
    } else if (flags.Is("--release-unused-weights")) {
      a.release_unused_weights = flags.Value();
    } else if (flags.Is("--prompt")) {
      a.prompt = flags.Value();
    } else if (flags.Is("--prompt-2")) {
      a.prompt_2 = flags.Value();
      a.has_prompt_2 = true;
    } else if (flags.Is("--seed")) {
      number(UINT64_MAX, &a.seed);
    } else if (flags.Is("--steps")) {
      number(1000, &a.steps);
    } else if (flags.Is("--width")) {
      number(16384, &a.width);
    } else if (flags.Is("--height")) {
      number(16384, &a.height);
    } else if (flags.Is("--max-sequence-length")) {
      number(4096, &a.max_sequence_length);
    } else if (flags.Is("--n")) {
      number(64, &a.n);
    } else if (flags.Is("--guidance")) {
      std::string text = flags.Value();
      char* end = nullptr;
      double g = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || !std::isfinite(g) || g < 0) {
        flags.Fail("--guidance must be a number >= 0, got '" + text + "'");
      }
      a.guidance = float(g);
    } else if (flags.Is("--out")) {
      a.out = flags.Value();
    } else if (flags.Is("--dump")) {
      a.dump = flags.Value();
    } else if (flags.Is("--dtype")) {
      a.dtype = flags.Value();
    } else if (flags.Is("--device")) {
      a.device = flags.Value();
    } else if (flags.Is("--threads")) {
      a.threads = flags.Value();
    } else if (flags.Is("--plugin")) {
      a.plugin = flags.Value();
    } else {
      flags.Fail("unknown option '" + flags.token() + "'");
    }
  }
  if (flags.error().empty()) {
    if (a.model.empty()) flags.Fail("--model is required");
    if (a.prompt.empty() && flags.error().empty()) flags.Fail("--prompt is required");
    if (a.out.empty() && flags.error().empty()) flags.Fail("--out is required");
    if (a.n == 0 && flags.error().empty()) flags.Fail("--n must be at least 1");
  }
  ImageFormat format = ImageFormat::kPng;
  std::string stem = a.out, extension = "png";
  if (flags.error().empty()) {
    auto dot = a.out.rfind('.');
    if (dot == std::string::npos || dot < a.out.rfind('/') + 1) {
      flags.Fail("--out needs a .png, .jpg or .jpeg extension");
    } else {
      extension = a.out.substr(dot + 1);
      stem = a.out.substr(0, dot);
      auto parsed = ParseImageFormat(extension);
      if (!parsed.ok()) {
        flags.Fail("--out: " + parsed.status().message());
      } else {
        format = *parsed;
      }
    }
  }
  if (!flags.error().empty()) {
    std::cerr << "fluxserve generate: " << flags.error() << "\n\n" << kGenerateHelp;
    return 2;
  }

  Environment env = Environment::FromProcess();
  LogSettings log_settings;
  log_settings.level = env.Get("FLUX_LOG_LEVEL").value_or("warn");
  if (!ConfigureLogging(log_settings).ok()) {
    std::cerr << "fluxserve generate: FLUX_LOG_LEVEL: unknown level\n";
    return 2;
  }

  GraphConfig config;
  config.file = "<command line>";
  config.plugin_paths = PluginSearchPaths(env, {});
  StageConfig stage;
  stage.id = "pipeline";
  stage.kind = FLX_KIND_PIPELINE;
  stage.library = a.plugin;
  stage.type = "flux";
  stage.path = "generate";
  stage.location = {"<command line>", 0, 0};
  stage.config_location = stage.location;
  stage.config = YAML::Node(YAML::NodeType::Map);
  stage.config["model"] = a.model;
  config.stages.push_back(stage);
  // Flags win over FLUX_DEVICE & co., which win over the defaults.
  ApplyPipelineEnvOverrides(env, &config);
  YAML::Node stage_config = config.stages.back().config;
  stage_config["load"] = "eager";
  stage_config["warmup"] = false;
  if (!a.base.empty()) stage_config["base"] = a.base;
  if (!a.text_encoder_2.empty()) stage_config["text_encoder_2_file"] = a.text_encoder_2;
  if (!a.quantize.empty()) stage_config["quantize"] = a.quantize;
  if (!a.memory_budget.empty()) stage_config["memory_budget"] = a.memory_budget;
  if (!a.release_unused_weights.empty()) {
    stage_config["release_unused_weights"] = a.release_unused_weights;
  }
  if (!a.dtype.empty()) stage_config["dtype"] = a.dtype;
  if (!a.device.empty()) stage_config["device"] = a.device;
  if (!a.threads.empty()) stage_config["threads"] = a.threads;
  config.models.push_back({"cli", {"pipeline"}, stage.location});

  auto start = std::chrono::steady_clock::now();
  Diagnostics diags;
  auto graph = StageGraph::Build(config, /*dry_run=*/false, &diags);
  if (!graph.ok()) {
    std::cerr << "fluxserve generate: " << diags.ToString() << "\n";
    return 1;
  }
  ProgressBar bar(::isatty(STDERR_FILENO) != 0);
  (*graph)->SetEventListener([&](const flx_event& e) {
    if (e.type == FLX_EVENT_STEP) bar.Step(e.step, e.total, e.value);
  });
  (*graph)->StartPrepare();
  (*graph)->WaitPrepared();
  std::string why;
  if (!(*graph)->Ready(&why)) {
    std::cerr << "fluxserve generate: " << why << "\n";
    return 1;
  }

  GenerationInput input;
  input.prompt = a.prompt;
  if (a.has_prompt_2) input.prompt_2 = a.prompt_2;
  input.seed = a.seed;
  input.steps = a.steps;
  input.width = a.width;
  input.height = a.height;
  input.max_sequence_length = a.max_sequence_length;
  input.n = a.n;
  input.guidance = a.guidance;
  input.dump_dir = a.dump;

  flx_call call;
  call.request_id = "cli";
  call.model = "cli";
  GenerationService service(graph->get());
  auto [output, failure] = service.Run((*graph)->models().front(), input, &call);
  if (failure) {
    std::cerr << "fluxserve generate: " << failure->status.ToString() << "\n";
    return 1;
  }
  for (size_t i = 0; i < output->images.size(); ++i) {
    const auto& image = output->images[i];
    PixelView view{image.width, image.height, image.channels, image.pixels.data()};
    auto bytes = EncodeImage(view, format,
                             {{"Software", "fluxserve"}, {"Seed", std::to_string(image.seed)},
                              {"Prompt", a.prompt}});
    if (!bytes.ok()) {
      std::cerr << "fluxserve generate: " << bytes.status().ToString() << "\n";
      return 1;
    }
    std::string path = a.n == 1 ? a.out : stem + "-" + std::to_string(i) + "." + extension;
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(bytes->data(), static_cast<std::streamsize>(bytes->size()));
    file.close();
    if (!file) {
      std::cerr << "fluxserve generate: cannot write " << path << "\n";
      return 1;
    }
    std::cout << "wrote " << path << " (" << image.width << "x" << image.height << ", seed "
              << image.seed << ")\n";
  }
  double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "timings:";
  for (const auto& [name, seconds] : call.phases) std::printf(" %s %.3f s,", name.c_str(), seconds);
  std::printf(" total %.3f s (with load)\n", total);
  if (!a.dump.empty()) std::cout << "tensors dumped to " << a.dump << "\n";
  return 0;
}

}  // namespace flx
