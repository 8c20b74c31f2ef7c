#include "model/device_selection.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <ATen/Version.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <flx/vocabulary.h>
#include <dlfcn.h>
#include <sched.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace flx::flux {
namespace {

constexpr int kMaxThreads = 1024;

std::string normalized(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

bool is_decimal(const std::string& text) {
  return !text.empty() && text.size() <= 9 && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
}

std::invalid_argument setting_error(const std::string& key, const std::string& value,
                                    const std::string& problem) {
  return std::invalid_argument(key + " \"" + value + "\" " + problem);
}

#if defined(__x86_64__) || defined(__i386__)
uint64_t read_xcr0() {
  uint32_t eax = 0, edx = 0;
  // xgetbv as raw bytes so no -mxsave is needed; only reached when CPUID reports OSXSAVE.
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}
#endif

void detect_cpu_bf16(HardwareInfo& hardware) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return;
  const bool osxsave = (ecx >> 27) & 1u;
  if (!osxsave) return;
  const uint64_t xcr0 = read_xcr0();
  // SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM: the register state AVX-512 needs.
  const bool os_avx512 = (xcr0 & 0xE6u) == 0xE6u;
  // XTILECFG and XTILEDATA: the AMX tile state.
  const bool os_amx = (xcr0 & 0x60000u) == 0x60000u;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return;
  const unsigned max_subleaf = eax;
  const bool avx512f = (ebx >> 16) & 1u;
  hardware.cpu_amx_bf16 = os_amx && ((edx >> 22) & 1u);
  if (max_subleaf >= 1 && __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) {
    hardware.cpu_avx512_bf16 = os_avx512 && avx512f && ((eax >> 5) & 1u);
  }
#else
  (void)hardware;
#endif
}

// Compute capability majors through the CUDA driver library, loaded only when libtorch has
// CUDA devices; the driver is what libtorch's CUDA backend runs on, so it is present then.
// Fills cuda_bf16 and cuda_memory_bytes.
void detect_cuda_devices(int device_count, HardwareInfo& hardware) {
  std::vector<bool>& bf16 = hardware.cuda_bf16;
  if (device_count <= 0) return;
  void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (driver == nullptr) return;
  using InitFn = int (*)(unsigned);
  using TotalMemFn = int (*)(size_t*, int);
  using DeviceGetFn = int (*)(int*, int);
  using AttributeFn = int (*)(int*, int, int);
  constexpr int kComputeCapabilityMajor = 75;  // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
  const auto init = reinterpret_cast<InitFn>(dlsym(driver, "cuInit"));
  const auto device_get = reinterpret_cast<DeviceGetFn>(dlsym(driver, "cuDeviceGet"));
  const auto attribute = reinterpret_cast<AttributeFn>(dlsym(driver, "cuDeviceGetAttribute"));
  const auto total_mem = reinterpret_cast<TotalMemFn>(dlsym(driver, "cuDeviceTotalMem_v2"));
  if (init != nullptr && device_get != nullptr && attribute != nullptr && init(0) == 0) {
    for (int ordinal = 0; ordinal < device_count; ++ordinal) {
      int device = 0, major = 0;
      const bool known = device_get(&device, ordinal) == 0 &&
                         attribute(&major, kComputeCapabilityMajor, device) == 0;
      bf16.push_back(known && major >= 8);
      size_t bytes = 0;
      if (total_mem != nullptr && device_get(&device, ordinal) == 0 &&
          total_mem(&bytes, device) == 0) {
        hardware.cuda_memory_bytes.push_back(static_cast<int64_t>(bytes));
      }
    }
  }
  dlclose(driver);
}

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
  }
  if (cpus.empty()) {
    const int count = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (int cpu = 0; cpu < count; ++cpu) cpus.push_back(cpu);
  }
  return cpus;
}

bool read_long(const std::string& path, long& value) {
  std::ifstream in(path);
  return static_cast<bool>(in >> value);
}

std::string resolved_library_of(const char* symbol) {
  void* address = dlsym(RTLD_DEFAULT, symbol);
  Dl_info info{};
  if (address == nullptr || dladdr(address, &info) == 0 || info.dli_fname == nullptr) return "";
  char* real = realpath(info.dli_fname, nullptr);
  if (real == nullptr) return info.dli_fname;
  std::string path(real);
  std::free(real);
  return path;
}

std::string cpu_bf16_features(const HardwareInfo& hardware) {
  std::string features = hardware.cpu_avx512_bf16 && hardware.cpu_amx_bf16
                             ? "avx512_bf16 and amx_bf16"
                             : (hardware.cpu_avx512_bf16 ? "avx512_bf16" : "amx_bf16");
  if (hardware.cpu_features_source != "cpuid") features += " (" + hardware.cpu_features_source + ")";
  return features;
}

// The device setting resolved; fills device, device_name and device_reason.
void resolve_device(const std::string& setting, const HardwareInfo& hardware,
                    DeviceChoice& choice) {
  const std::string value = normalized(setting);
  const bool has_cuda = hardware.cuda_built && hardware.cuda_device_count > 0;
  if (value == "auto") {
    const std::string cuda_state =
        !hardware.cuda_built ? "libtorch built without CUDA"
        : has_cuda           ? std::to_string(hardware.cuda_device_count) + " CUDA device(s)"
                             : "no CUDA device";
    if (has_cuda) {
      choice.device = c10::Device(c10::kCUDA, 0);
      choice.device_reason = "auto: " + cuda_state + " -> cuda:0";
    } else if (hardware.mps_available) {
      choice.device = c10::Device(c10::kMPS);
      choice.device_reason = "auto: " + cuda_state + ", MPS available -> mps";
    } else {
      choice.device = c10::Device(c10::kCPU);
      choice.device_reason = "auto: " + cuda_state + ", no MPS -> cpu";
    }
  } else if (value == "cpu") {
    choice.device = c10::Device(c10::kCPU);
    choice.device_reason = "explicit";
  } else if (value == "cuda" || value.rfind("cuda:", 0) == 0) {
    const std::string index_text = value == "cuda" ? "0" : value.substr(5);
    if (!is_decimal(index_text)) {
      throw setting_error("device", setting, "is not one of auto, cpu, cuda, cuda:<N>, mps");
    }
    if (!hardware.cuda_built) {
      throw setting_error("device", setting,
                          "needs CUDA, but this libtorch was built without CUDA; use cpu or auto");
    }
    const int index = std::stoi(index_text);
    if (index >= hardware.cuda_device_count) {
      throw setting_error("device", setting,
                          hardware.cuda_device_count == 0
                              ? "needs a CUDA device, but none is visible"
                              : "names a CUDA device that does not exist: " +
                                    std::to_string(hardware.cuda_device_count) +
                                    " visible (cuda:0..cuda:" +
                                    std::to_string(hardware.cuda_device_count - 1) + ")");
    }
    choice.device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
    choice.device_reason = "explicit";
  } else if (value == "mps") {
    if (!hardware.mps_available) {
      throw setting_error("device", setting,
                          "needs MPS, which this libtorch build or this machine does not offer; "
                          "use cpu or auto");
    }
    choice.device = c10::Device(c10::kMPS);
    choice.device_reason = "explicit";
  } else {
    throw setting_error("device", setting, "is not one of auto, cpu, cuda, cuda:<N>, mps");
  }
  choice.device_name = choice.device.str();
}

bool cuda_has_bf16(const HardwareInfo& hardware, c10::DeviceIndex index) {
  return index >= 0 && static_cast<size_t>(index) < hardware.cuda_bf16.size() &&
         hardware.cuda_bf16[static_cast<size_t>(index)];
}

// The dtype setting resolved for choice.device; fills dtype, dtype_name and dtype_reason.
void resolve_dtype(const std::string& setting, const HardwareInfo& hardware, DeviceChoice& choice) {
  const std::string value = normalized(setting);
  const std::string& device = choice.device_name;
  if (value == "auto") {
    if (choice.device.is_cuda()) {
      const bool bf16 = cuda_has_bf16(hardware, choice.device.index());
      choice.dtype = bf16 ? c10::kBFloat16 : c10::kHalf;
      choice.dtype_reason = bf16 ? device + ": native bf16 (compute capability >= 8.0) -> bfloat16"
                                 : device + ": no native bf16 -> float16";
    } else if (choice.device.is_mps()) {
      choice.dtype = c10::kHalf;
      choice.dtype_reason = "mps -> float16";
    } else if (hardware.cpu_avx512_bf16 || hardware.cpu_amx_bf16) {
      choice.dtype = c10::kBFloat16;
      choice.dtype_reason = "cpu: " + cpu_bf16_features(hardware) + " present -> bfloat16";
    } else {
      choice.dtype = c10::kFloat;
      choice.dtype_reason = "cpu: no avx512_bf16 or amx_bf16" +
                            (hardware.cpu_features_source != "cpuid"
                                 ? " (" + hardware.cpu_features_source + ")"
                                 : std::string()) +
                            " -> float32";
    }
  } else {
    if (value == "float32" || value == "fp32" || value == "float") {
      choice.dtype = c10::kFloat;
    } else if (value == "float16" || value == "fp16" || value == "half") {
      choice.dtype = c10::kHalf;
    } else if (value == "bfloat16" || value == "bf16") {
      choice.dtype = c10::kBFloat16;
    } else {
      throw setting_error(FLX_KNOB_DTYPE, setting,
                          "is not one of auto, float32 (fp32), float16 (fp16), bfloat16 (bf16)");
    }
    choice.dtype_reason = "explicit";
    const bool cpu = choice.device.is_cpu();
    if (choice.dtype == c10::kHalf && cpu && !hardware.cpu_float16_kernels) {
      throw setting_error(FLX_KNOB_DTYPE, setting,
                          "is not possible on cpu: this libtorch lacks CPU float16 kernels for "
                          "the networks' ops; use float32 or bfloat16");
    }
    if (choice.dtype == c10::kBFloat16 && choice.device.is_cuda() &&
        !cuda_has_bf16(hardware, choice.device.index())) {
      throw setting_error(FLX_KNOB_DTYPE, setting,
                          "is not possible on " + device +
                              ": the GPU has no native bf16 (compute capability < 8.0); use "
                              "float16 or float32");
    }
    if (choice.dtype == c10::kBFloat16 && choice.device.is_mps()) {
      throw setting_error(FLX_KNOB_DTYPE, setting,
                          "is not possible on mps: libtorch 1.13's MPS backend has no bfloat16; "
                          "use float16 or float32");
    }
    if (choice.dtype == c10::kBFloat16 && cpu && !hardware.cpu_avx512_bf16 &&
        !hardware.cpu_amx_bf16) {
      choice.dtype_reason = "explicit (cpu has no avx512_bf16 or amx_bf16: bfloat16 is emulated)";
    }
  }
  choice.dtype_name = choice.dtype == c10::kFloat  ? "float32"
                      : choice.dtype == c10::kHalf ? "float16"
                                                   : "bfloat16";
}

}  // namespace

int count_physical_cores(const std::string& sysfs_cpu_dir, const std::vector<int>& logical_cpus) {
  std::set<std::pair<long, long>> cores;
  for (int cpu : logical_cpus) {
    const std::string topology = sysfs_cpu_dir + "/cpu" + std::to_string(cpu) + "/topology/";
    long package = 0, core = 0;
    if (read_long(topology + "physical_package_id", package) &&
        read_long(topology + "core_id", core)) {
      cores.emplace(package, core);
    } else {
      cores.emplace(LONG_MIN, cpu);
    }
  }
  return std::max<int>(1, static_cast<int>(cores.size()));
}

std::string first_missing_kernel(c10::ScalarType dtype, c10::Device device) {
  const at::TensorOptions options = at::TensorOptions().dtype(dtype).device(device);
  const at::Tensor x = at::ones({1, 2, 2, 2}, options);
  const std::pair<const char*, std::function<void()>> probes[] = {
      {"layer_norm", [&] { at::layer_norm(x, {2}); }},
      {"group_norm",
       [&] { at::group_norm(x, 1, at::ones({2}, options), at::zeros({2}, options)); }},
      {"conv2d",
       [&] {
         at::conv2d(x, at::ones({2, 2, 1, 1}, options));
       }},
      {"linear",
       [&] {
         at::linear(x, at::ones({2, 2}, options), at::zeros({2}, options));
       }},
      {"gelu", [&] { at::gelu(x, "tanh"); }},
      {"softmax", [&] { at::softmax(x, -1); }},
  };
  for (const auto& [op, probe] : probes) {
    try {
      probe();
    } catch (const c10::Error&) {
      return op;
    }
  }
  return "";
}

void apply_cpu_features_override(const char* value, HardwareInfo& hardware) {
  if (value == nullptr || *value == '\0') return;
  bool avx512_bf16 = false, amx_bf16 = false;
  const std::string text = normalized(value);
  if (text != "none") {
    std::stringstream list(text);
    std::string feature;
    while (std::getline(list, feature, ',')) {
      if (feature == "avx512_bf16") {
        avx512_bf16 = true;
      } else if (feature == "amx_bf16") {
        amx_bf16 = true;
      } else {
        throw std::invalid_argument(std::string(kCpuFeaturesEnv) + "='" + value +
                                    "': expected none or a comma-separated list of "
                                    "avx512_bf16, amx_bf16");
      }
    }
  }
  hardware.cpu_avx512_bf16 = avx512_bf16;
  hardware.cpu_amx_bf16 = amx_bf16;
  hardware.cpu_features_source = std::string(kCpuFeaturesEnv) + "=" + value;
}

HardwareInfo detect_hardware() {
  HardwareInfo hardware;
  hardware.cuda_built = c10::impl::hasDeviceGuardImpl(c10::kCUDA);
  if (hardware.cuda_built) {
    hardware.cuda_device_count = static_cast<int>(torch::cuda::device_count());
  }
  detect_cuda_devices(hardware.cuda_device_count, hardware);
  hardware.mps_available = at::hasMPS();
  detect_cpu_bf16(hardware);
  apply_cpu_features_override(std::getenv(kCpuFeaturesEnv), hardware);
  hardware.cpu_float16_kernels = first_missing_kernel(c10::kHalf, c10::kCPU).empty();
  const std::vector<int> cpus = allowed_cpus();
  hardware.logical_cpus = static_cast<int>(cpus.size());
  hardware.physical_cores = count_physical_cores("/sys/devices/system/cpu", cpus);
  return hardware;
}

DeviceChoice select_device_dtype(const std::string& device, const std::string& dtype,
                                 const HardwareInfo& hardware) {
  DeviceChoice choice;
  resolve_device(device, hardware, choice);
  resolve_dtype(dtype, hardware, choice);
  return choice;
}

ThreadChoice select_threads(const std::string& threads, const HardwareInfo& hardware) {
  const std::string value = normalized(threads);
  ThreadChoice choice;
  if (value == "auto") {
    choice.threads = std::max(1, hardware.physical_cores);
    choice.reason = "auto: " + std::to_string(choice.threads) + " physical cores";
    return choice;
  }
  if (!is_decimal(value) || std::stoi(value) < 1 || std::stoi(value) > kMaxThreads) {
    throw setting_error("threads", threads,
                        "must be auto or a count 1.." + std::to_string(kMaxThreads));
  }
  choice.threads = std::stoi(value);
  choice.reason = "explicit";
  return choice;
}

std::string blas_description() {
  const std::string config = at::show_config();
  std::string info = "unknown";
  const std::string key = "BLAS_INFO=";
  const size_t start = config.find(key);
  if (start != std::string::npos) {
    const size_t end = config.find_first_of(", \n", start + key.size());
    info = config.substr(start + key.size(), end - start - key.size());
  }
  std::string library = resolved_library_of("cblas_sgemm");
  if (library.empty()) library = resolved_library_of("sgemm_");
  return library.empty() ? info : info + " (" + library + ")";
}

std::string startup_summary(const std::string& model, const DeviceChoice& choice,
                            const ThreadChoice& threads, const std::string& blas) {
  return "model " + model + ": device " + choice.device_name + " (" + choice.device_reason +
         "), dtype " + choice.dtype_name + " (" + choice.dtype_reason + "), threads " +
         std::to_string(threads.threads) + " (" + threads.reason + "), BLAS " + blas;
}

}  // namespace flx::flux
