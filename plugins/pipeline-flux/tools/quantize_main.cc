// fluxserve-quantize: writes a FLUX transformer or T5 encoder checkpoint as a GGUF of one
// quantized type (io/checkpoint_quantizer.h), so later loads read the small file directly.
// The fluxserve executable runs it for `fluxserve quantize ARGS`.
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "io/checkpoint_quantizer.h"
#include "io/tensor_store.h"

namespace {

const char* const kUsage =
    "usage: fluxserve quantize IN OUT.gguf --type q8_0|q4_k|q5_k|q6_k [--name NAME] [--force]\n"
    "\n"
    "Writes the FLUX transformer or T5 encoder in IN (.safetensors in float, bfloat16, fp16 or\n"
    "fp8, black-forest-labs or diffusers names for FLUX, transformers names for T5; or a\n"
    ".gguf) as a GGUF file with its big matrices in TYPE, the layout ComfyUI-GGUF and\n"
    "stable-diffusion.cpp load. One tensor is in memory at a time.\n"
    "\n"
    "  --type T    q8_0 (about 8.5 bits per weight), q6_k (6.6), q5_k (5.5), q4_k (4.5)\n"
    "  --name N    general.name in the file (default: IN's file name)\n"
    "  --force     replace OUT when it exists\n";

int usage_error(const std::string& message) {
  std::cerr << "fluxserve quantize: " << message << "\n\n" << kUsage;
  return 2;
}

struct Arguments {
  std::string input, output, type, name;
  bool force = false;
};

// Parses argv; returns a non-negative exit code when parsing ends the program.
int parse(const std::vector<std::string>& args, Arguments* a) {
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--force") {
      a->force = true;
    } else if (arg == "--type" || arg == "--name") {
      if (i + 1 >= args.size()) return usage_error(arg + " needs a value");
      (arg == "--type" ? a->type : a->name) = args[++i];
    } else if (!arg.empty() && arg[0] == '-') {
      return usage_error("unknown option " + arg);
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 2) return usage_error("give IN and OUT.gguf");
  a->input = positional[0];
  a->output = positional[1];
  if (a->type.empty()) return usage_error("--type is required");
  return -1;
}

void print_summary(const flx::flux::QuantizationPlan& plan, const std::string& output,
                   double seconds) {
  std::map<std::string, int> counts;
  for (const auto& tensor : plan.tensors) ++counts[flx::flux::dtype_name(tensor.out.dtype)];
  std::string types;
  for (const auto& [type, count] : counts) {
    types += (types.empty() ? "" : ", ") + type + " " + std::to_string(count);
  }
  const auto bytes = std::filesystem::file_size(output);
  std::printf("wrote %s: %s, %zu tensors (%s), %.2f GiB in %.1f s\n", output.c_str(),
              plan.kind == flx::flux::CheckpointKind::kFluxTransformer ? "FLUX transformer"
                                                                         : "T5 encoder",
              plan.tensors.size(), types.c_str(), bytes / 1073741824.0, seconds);
}

}  // namespace

int main(int argc, char** argv) {
  Arguments a;
  if (int code = parse(std::vector<std::string>(argv + 1, argv + argc), &a); code >= 0) return code;
  const std::optional<flx::flux::DType> type = flx::flux::quantization_target(a.type);
  if (!type) return usage_error("--type must be q8_0, q4_k, q5_k or q6_k, got \"" + a.type + "\"");
  if (a.output.size() < 5 || a.output.compare(a.output.size() - 5, 5, ".gguf") != 0) {
    return usage_error("OUT must end in .gguf");
  }
  std::error_code ec;
  if (std::filesystem::equivalent(a.input, a.output, ec)) return usage_error("OUT is IN");
  if (std::filesystem::exists(a.output) && !a.force) {
    return usage_error(a.output + " exists (use --force to replace it)");
  }
  if (a.name.empty()) a.name = std::filesystem::path(a.input).stem().string();
  try {
    const auto start = std::chrono::steady_clock::now();
    const flx::flux::TensorStore store = flx::flux::TensorStore::from_file(a.input);
    const flx::flux::QuantizationPlan plan = flx::flux::plan_quantization(store, *type, a.name);
    flx::flux::write_quantized_checkpoint(store, plan, a.output);
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    print_summary(plan, a.output, elapsed.count());
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "fluxserve quantize: " << e.what() << "\n";
    return 1;
  }
}
