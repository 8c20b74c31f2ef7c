// fluxserve-make-demo-model: writes a small random-weight FLUX.1 checkpoint with tokenizers
// the project builds itself, so fluxserve can run real pipeline code with no download. The
// fluxserve executable runs it for `fluxserve make-demo-model ARGS`.
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "demo_model_writer.h"
#include "io/checkpoint_quantizer.h"

namespace {

const char* const kUsage =
    "usage: fluxserve make-demo-model DIR [--preset tiny|wide|schnell] [--dtype float32|bfloat16]\n"
    "                                     [--quantize q8_0|q4_k|q5_k|q6_k] [--full-text-encoders]\n"
    "                                     [--seed N] [--force]\n"
    "\n"
    "Writes a random-weight FLUX.1-schnell-shaped model in the diffusers folder layout to DIR,\n"
    "with tokenizers trained on a small built-in English text. Its images are noise.\n"
    "Weights are written one tensor at a time: memory stays at the largest tensor.\n"
    "\n"
    "  --preset tiny   about 3 M parameters, 256x256 in a few seconds on a laptop (default)\n"
    "  --preset wide   FLUX.1's layer widths with few layers, about 1.13 B parameters (4.5 GB)\n"
    "  --preset schnell  wide with FLUX.1-schnell's 19 + 38 transformer blocks, about 12.4 B\n"
    "                  parameters (24.8 GB in bfloat16)\n"
    "  --dtype T       float32 (default) or bfloat16 weight files\n"
    "  --quantize T    write the transformer and T5 as GGUF files of type T (black-forest-labs\n"
    "                  and llama.cpp names, as FLUX.1 GGUF files are published)\n"
    "  --full-text-encoders  CLIP-L's 12 layers and T5-XXL's 24 (wide and schnell): with\n"
    "                  schnell, FLUX.1-schnell's exact architecture in every component\n"
    "  --seed N        seed of the random weights (default 0)\n"
    "  --force         write into DIR even if it is not empty\n";

int usage_error(const std::string& message) {
  std::cerr << "fluxserve make-demo-model: " << message << "\n\n" << kUsage;
  return 2;
}

bool parse_seed(const std::string& text, uint64_t* seed) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *seed = value;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  flx::flux::demo::DemoModelOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--force") {
      options.force = true;
    } else if (arg == "--full-text-encoders") {
      options.full_text_encoders = true;
    } else if (arg == "--preset" || arg == "--seed" || arg == "--dtype" || arg == "--quantize") {
      if (i + 1 >= args.size()) return usage_error(arg + " needs a value");
      const std::string& value = args[++i];
      if (arg == "--preset") {
        options.preset = value;
      } else if (arg == "--quantize") {
        options.quantize = value;
      } else if (arg == "--dtype") {
        options.dtype = value == "bf16" ? "bfloat16" : value == "fp32" ? "float32" : value;
      } else if (!parse_seed(value, &options.seed)) {
        return usage_error("--seed must be a non-negative integer, got \"" + value + "\"");
      }
    } else if (arg.rfind("--", 0) == 0) {
      return usage_error("unknown option " + arg);
    } else if (options.directory.empty()) {
      options.directory = arg;
    } else {
      return usage_error("more than one DIR given (\"" + options.directory + "\", \"" + arg +
                         "\")");
    }
  }
  if (options.directory.empty()) return usage_error("DIR is required");
  if (options.preset != "tiny" && options.preset != "wide" && options.preset != "schnell") {
    return usage_error("--preset must be tiny, wide or schnell, got \"" + options.preset + "\"");
  }
  if (options.dtype != "float32" && options.dtype != "bfloat16") {
    return usage_error("--dtype must be float32 or bfloat16, got \"" + options.dtype + "\"");
  }
  if (options.quantize != "none" && !flx::flux::quantization_target(options.quantize)) {
    return usage_error("--quantize must be q8_0, q4_k, q5_k or q6_k, got \"" + options.quantize +
                       "\"");
  }
  if (options.full_text_encoders && options.preset == "tiny") {
    return usage_error("--full-text-encoders needs --preset wide or schnell");
  }
  try {
    flx::flux::demo::write_demo_model(options, std::cout);
  } catch (const std::exception& e) {
    std::cerr << "fluxserve make-demo-model: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
