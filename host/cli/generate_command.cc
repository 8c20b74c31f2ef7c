// `fluxserve generate`: one generation from the command line through the same plugin, ABI
// and generation service the server uses, written to an image file.
//
// The host owns the request flags (prompt, seed, size, ...); the pipeline's own flags come
// from the settings its factory declares (flx_setting, config/declared_settings.h), so the
// command knows no pipeline: --plugin and --type pick the factory, its declared flags set
// keys of the one stage built here, over its declared environment variables and its one-shot
// values (load eager, no warm-up for the flux pipeline).
#include <flx/progress.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include "cli/cli.h"
#include "config/declared_settings.h"
#include "config/diagnostics.h"
#include "config/env_overrides.h"
#include "generation_service.h"
#include "image_encoder.h"
#include "logging.h"
#include "plugin_loader.h"
#include "stage_graph.h"

namespace flx {
namespace {

const char* kUsage =
    "usage: fluxserve generate --prompt TEXT --out FILE.png [pipeline settings] [options]\n";

const char* kRequestHelp =
    "\n"
    "  --prompt TEXT             the prompt (CLIP and, without --prompt-2, T5)\n"
    "  --prompt-2 TEXT           a separate prompt for T5\n"
    "  --seed N                  default 0; image i of --n uses seed + i\n"
    "  --steps N                 default: the model's (schnell 4, dev 28)\n"
    "  --guidance G              default: the model's (dev 3.5; ignored by schnell)\n"
    "  --width W --height H      pixels, multiples of 2 x the VAE scale factor (16 for FLUX.1)\n"
    "  --max-sequence-length N   T5 tokens (default: schnell 256, dev 512)\n"
    "  --n N                     images (written as FILE-0.png, FILE-1.png, ... when N > 1)\n"
    "  --out FILE                .png, .jpg, .jpeg or .webp\n"
    "  --dump DIR                write every intermediate tensor (.bin + .json sidecar) to DIR\n"
    "  --lora NAME[:SCALE]       apply the LoRA adapter NAME from --lora-dir (scale 1 by\n"
    "                            default); repeat for several, applied in order\n"
    "  --plugin NAME             the pipeline plugin library (default flx_pipeline_flux)\n"
    "  --type NAME               its pipeline type (default: the library's first)\n";

// What the request flags say; the pipeline's own flags land in `settings` by config key.
struct GenerateArgs {
  std::string prompt, prompt_2, out, dump;
  bool has_prompt_2 = false;
  uint64_t seed = 0;
  uint32_t steps = 0, width = 0, height = 0, max_sequence_length = 0, n = 1;
  float guidance = std::nanf("");
  std::map<std::string, std::string> settings;
  std::vector<LoraChoice> loras;
  bool help = false;
};

// The pipeline factory the command runs and what it declares.
struct PipelineChoice {
  std::string plugin = "flx_pipeline_flux";
  std::string type;  // "" until chosen
  std::shared_ptr<PluginLibrary> library;
  const flx_factory* factory = nullptr;
  std::vector<DeclaredSetting> settings;
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

// --plugin and --type, read before the other flags because they decide which flags exist.
void ScanPluginFlags(const std::vector<std::string>& args, PipelineChoice* choice) {
  FlagParser flags(args);
  while (flags.Next()) {
    if (flags.IsPositional()) continue;
    if (flags.Is("--plugin")) choice->plugin = flags.Value();
    if (flags.Is("--type")) choice->type = flags.Value();
  }
}

Status LoadPipeline(const Environment& env, PipelineChoice* choice) {
  PluginLoader loader(PluginSearchPaths(env, {}));
  StatusOr<std::shared_ptr<PluginLibrary>> library = loader.Load(choice->plugin);
  if (!library.ok()) return library.status();
  choice->library = *library;
  const flx_plugin_info& info = choice->library->info();
  if (choice->type.empty()) {
    for (size_t i = 0; i < info.n_factories && choice->type.empty(); ++i) {
      if (info.factories[i]->kind == FLX_KIND_PIPELINE) choice->type = info.factories[i]->type_name;
    }
    if (choice->type.empty()) return NotFound(choice->plugin + " has no pipeline factory");
  }
  StatusOr<const flx_factory*> factory = choice->library->FindFactory(FLX_KIND_PIPELINE, choice->type);
  if (!factory.ok()) return factory.status();
  choice->factory = *factory;
  StatusOr<std::vector<DeclaredSetting>> settings =
      ReadDeclaredSettings(**factory, choice->plugin + " type " + choice->type);
  if (!settings.ok()) return settings.status();
  choice->settings = std::move(*settings);
  return Status::Ok();
}

// --lora NAME[:SCALE]: the text after the last ':' is the scale when it is a number.
void ParseLoraFlag(FlagParser& flags, GenerateArgs* a) {
  const std::string text = flags.Value();
  LoraChoice lora{text, 1.0f};
  const size_t colon = text.rfind(':');
  if (colon != std::string::npos) {
    const std::string scale = text.substr(colon + 1);
    char* end = nullptr;
    const double value = std::strtod(scale.c_str(), &end);
    if (scale.empty() || *end != '\0' || !std::isfinite(value) || std::fabs(value) > 100) {
      flags.Fail("--lora takes NAME or NAME:SCALE with SCALE a number in -100..100, got '" +
                 text + "'");
      return;
    }
    lora = {text.substr(0, colon), static_cast<float>(value)};
  }
  if (lora.name.empty()) flags.Fail("--lora needs a name, got '" + text + "'");
  a->loras.push_back(lora);
}

// Consumes one request flag; false when the current flag is not one.
bool ParseRequestFlag(FlagParser& flags, GenerateArgs* a) {
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
  if (flags.Is("--prompt")) {
    a->prompt = flags.Value();
  } else if (flags.Is("--prompt-2")) {
    a->prompt_2 = flags.Value();
    a->has_prompt_2 = true;
  } else if (flags.Is("--seed")) {
    number(UINT64_MAX, &a->seed);
  } else if (flags.Is("--steps")) {
    number(1000, &a->steps);
  } else if (flags.Is("--width")) {
    number(16384, &a->width);
  } else if (flags.Is("--height")) {
    number(16384, &a->height);
  } else if (flags.Is("--max-sequence-length")) {
    number(4096, &a->max_sequence_length);
  } else if (flags.Is("--n")) {
    number(64, &a->n);
  } else if (flags.Is("--guidance")) {
    std::string text = flags.Value();
    char* end = nullptr;
    double g = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(g) || g < 0) {
      flags.Fail("--guidance must be a number >= 0, got '" + text + "'");
    }
    a->guidance = float(g);
  } else if (flags.Is("--lora")) {
    ParseLoraFlag(flags, a);
  } else if (flags.Is("--out")) {
    a->out = flags.Value();
  } else if (flags.Is("--dump")) {
    a->dump = flags.Value();
  } else if (flags.Is("--plugin") || flags.Is("--type")) {
    flags.Value();  // read by ScanPluginFlags
  } else {
    return false;
  }
  return true;
}

// Consumes one flag the pipeline declared; false when the current flag is not one.
bool ParseDeclaredFlag(FlagParser& flags, const std::vector<DeclaredSetting>& settings,
                       GenerateArgs* a) {
  for (const DeclaredSetting& setting : settings) {
    if (setting.cli_flag.empty() || !flags.Is(setting.cli_flag.c_str())) continue;
    a->settings[setting.key] = NormalizeSettingValue(setting, flags.Value());
    return true;
  }
  return false;
}

void CheckRequired(const std::vector<DeclaredSetting>& settings, FlagParser& flags,
                   const GenerateArgs& a) {
  for (const DeclaredSetting& setting : settings) {
    if (setting.required && !setting.cli_flag.empty() && a.settings.count(setting.key) == 0 &&
        flags.error().empty()) {
      flags.Fail(setting.cli_flag + " is required");
    }
  }
  if (a.prompt.empty() && flags.error().empty()) flags.Fail("--prompt is required");
  if (a.out.empty() && flags.error().empty()) flags.Fail("--out is required");
  if (a.n == 0 && flags.error().empty()) flags.Fail("--n must be at least 1");
}

GenerateArgs ParseGenerateArgs(const std::vector<DeclaredSetting>& settings, FlagParser& flags) {
  GenerateArgs a;
  while (flags.Next()) {
    if (flags.Is("--help") || flags.Is("-h")) {
      a.help = true;
      return a;
    }
    if (!ParseRequestFlag(flags, &a) && !ParseDeclaredFlag(flags, settings, &a)) {
      flags.Fail("unknown option '" + flags.token() + "'");
    }
  }
  CheckRequired(settings, flags, a);
  return a;
}

// The output's format and the path stem for --n > 1, or a flag failure.
struct OutputPath {
  ImageFormat format = ImageFormat::kPng;
  std::string stem, extension = "png";
};
OutputPath ParseOutputPath(const std::string& out, FlagParser& flags) {
  OutputPath path;
  path.stem = out;
  if (!flags.error().empty()) return path;
  auto dot = out.rfind('.');
  if (dot == std::string::npos || dot < out.rfind('/') + 1) {
    flags.Fail("--out needs a .png, .jpg, .jpeg or .webp extension");
    return path;
  }
  path.extension = out.substr(dot + 1);
  path.stem = out.substr(0, dot);
  auto parsed = ParseImageFormat(path.extension);
  if (!parsed.ok()) {
    flags.Fail("--out: " + parsed.status().message());
  } else {
    path.format = *parsed;
  }
  return path;
}

// The one-stage graph: one-shot values, then the declared environment, then the flags.
GraphConfig CliGraph(const PipelineChoice& choice, const GenerateArgs& a, const Environment& env) {
  GraphConfig config;
  config.file = "<command line>";
  config.plugin_paths = PluginSearchPaths(env, {});
  StageConfig stage;
  stage.id = "pipeline";
  stage.kind = FLX_KIND_PIPELINE;
  stage.library = choice.plugin;
  stage.type = choice.type;
  stage.path = "generate";
  stage.location = {"<command line>", 0, 0};
  stage.config_location = stage.location;
  stage.config = YAML::Node(YAML::NodeType::Map);
  for (const DeclaredSetting& setting : choice.settings) {
    if (setting.oneshot_value) stage.config[setting.key] = *setting.oneshot_value;
  }
  for (const std::string& line : ApplyEnvOverrides(env, choice.settings, &stage)) {
    GetLogger("host")->info("{}", line);
  }
  for (const auto& [key, value] : a.settings) stage.config[key] = value;
  config.stages.push_back(stage);
  config.models.push_back({"cli", {"pipeline"}, stage.location});
  return config;
}

GenerationInput RequestFrom(const GenerateArgs& a) {
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
  if (!a.loras.empty()) input.loras = a.loras;
  return input;
}

// Builds and loads the graph; nullptr after printing why.
std::unique_ptr<StageGraph> ReadyGraph(const GraphConfig& config) {
  Diagnostics diags;
  auto graph = StageGraph::Build(config, /*dry_run=*/false, &diags);
  if (!graph.ok()) {
    std::cerr << "fluxserve generate: " << diags.ToString() << "\n";
    return nullptr;
  }
  (*graph)->AddEventListener([](const flx_event& e) {
    if (e.type == FLX_EVENT_STEP) draw_progress_bar(stderr, e.step, e.total, e.value);
  });
  (*graph)->StartPrepare();
  (*graph)->WaitPrepared();
  std::string why;
  if (!(*graph)->Ready(&why)) {
    std::cerr << "fluxserve generate: " << why << "\n";
    return nullptr;
  }
  return std::move(*graph);
}

bool WriteImages(const GenerationOutput& output, const GenerateArgs& a, const OutputPath& path) {
  for (size_t i = 0; i < output.images.size(); ++i) {
    const auto& image = output.images[i];
    PixelView view{image.width, image.height, image.channels, image.pixels.data()};
    auto bytes = EncodeImage(view, path.format,
                             {{"Software", "fluxserve"}, {"Seed", std::to_string(image.seed)},
                              {"Prompt", a.prompt}});
    if (!bytes.ok()) {
      std::cerr << "fluxserve generate: " << bytes.status().ToString() << "\n";
      return false;
    }
    std::string file_path = a.n == 1 ? a.out : path.stem + "-" + std::to_string(i) + "." + path.extension;
    std::ofstream file(file_path, std::ios::binary | std::ios::trunc);
    file.write(bytes->data(), static_cast<std::streamsize>(bytes->size()));
    file.close();
    if (!file) {
      std::cerr << "fluxserve generate: cannot write " << file_path << "\n";
      return false;
    }
    std::cout << "wrote " << file_path << " (" << image.width << "x" << image.height << ", seed "
              << image.seed << ")\n";
  }
  return true;
}

std::string Help(const PipelineChoice& choice, const Status& loaded) {
  std::string text = kUsage;
  text += kRequestHelp;
  if (!loaded.ok()) return text + "\n(pipeline settings unknown: " + loaded.message() + ")\n";
  return text + "\npipeline settings (" + choice.plugin + ", type " + choice.type + "):\n" +
         SettingsHelp(choice.settings);
}

}  // namespace

int GenerateCommand(const std::vector<std::string>& args) {
  Environment env = Environment::FromProcess();
  LogSettings log_settings;
  log_settings.level = env.Get("FLUX_LOG_LEVEL").value_or("warn");
  if (!ConfigureLogging(log_settings).ok()) {
    std::cerr << "fluxserve generate: FLUX_LOG_LEVEL: unknown level\n";
    return 2;
  }
  PipelineChoice choice;
  ScanPluginFlags(args, &choice);
  const Status loaded = LoadPipeline(env, &choice);
  FlagParser flags(args);
  const GenerateArgs a = ParseGenerateArgs(choice.settings, flags);
  if (a.help) {
    std::cout << Help(choice, loaded);
    return 0;
  }
  if (!loaded.ok() && flags.error().empty()) flags.Fail(loaded.message());
  const OutputPath path = ParseOutputPath(a.out, flags);
  if (!flags.error().empty()) {
    std::cerr << "fluxserve generate: " << flags.error() << "\n\n" << Help(choice, loaded);
    return 2;
  }

  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<StageGraph> graph = ReadyGraph(CliGraph(choice, a, env));
  if (!graph) return 1;
  flx_call call;
  call.request_id = "cli";
  call.model = "cli";
  GenerationService service(graph.get());
  auto [output, failure] = service.Run(graph->models().front(), RequestFrom(a), &call);
  if (failure) {
    std::cerr << "fluxserve generate: " << failure->status.ToString() << "\n";
    return 1;
  }
  if (!WriteImages(*output, a, path)) return 1;
  double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "timings:";
  for (const auto& [name, seconds] : call.phases) std::printf(" %s %.3f s,", name.c_str(), seconds);
  std::printf(" total %.3f s (with load)\n", total);
  if (!a.dump.empty()) std::cout << "tensors dumped to " << a.dump << "\n";
  return 0;
}

}  // namespace flx
