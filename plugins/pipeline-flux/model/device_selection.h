// device_selection.h — which device and compute dtype a pipeline runs in, and how many
// intra-op threads it uses, resolved from the stage's `device`, `dtype` and `threads` settings
// and what this libtorch build and this machine offer.
//
// Only the CPU paths run on the development machine (libtorch 1.13.1 CPU build, no GPU). The
// CUDA and MPS branches compile against this libtorch and their selection logic is unit-tested
// with fake HardwareInfo, but detection on a real GPU or Mac is untested here.
#ifndef FLX_FLUX_MODEL_DEVICE_SELECTION_H_
#define FLX_FLUX_MODEL_DEVICE_SELECTION_H_

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>
#include <vector>

namespace flx::flux {

// What the machine and this libtorch build offer, as plain data so selection can be tested
// with made-up machines.
struct HardwareInfo {
  // This libtorch was built with CUDA (a CPU-only build reports false whatever the GPUs).
  bool cuda_built = false;
  // CUDA devices libtorch can use (0 when none is visible or the build has no CUDA).
  int cuda_device_count = 0;
  // Per CUDA device, whether it computes bfloat16 natively (compute capability 8.0 or newer,
  // torch.cuda.is_bf16_supported's rule). Shorter than cuda_device_count means unknown, which
  // counts as no.
  std::vector<bool> cuda_bf16;
  // Per CUDA device, its total memory in bytes (cuDeviceTotalMem); shorter means unknown.
  std::vector<int64_t> cuda_memory_bytes;
  // libtorch has a usable Metal (MPS) backend on this machine.
  bool mps_available = false;
  // CPUID says the CPU executes AVX512_BF16 / AMX-BF16 and the OS enabled their register
  // state (XCR0).
  bool cpu_avx512_bf16 = false;
  bool cpu_amx_bf16 = false;
  // Where the two flags above come from: "cpuid", or "FLX_CPU_FEATURES" when that variable
  // replaced what CPUID says (see apply_cpu_features_override()).
  std::string cpu_features_source = "cpuid";
  // This libtorch has CPU kernels for every op the networks run in float16 (1.13 lacks a
  // float16 layer norm on the CPU, so this is false there).
  bool cpu_float16_kernels = false;
  // Physical cores (not hyper-threads) this process may run on, at least 1.
  int physical_cores = 1;
  // Logical CPUs this process may run on, at least 1.
  int logical_cpus = 1;
};

// Probes this machine: CPUID and XGETBV for the CPU features (then FLX_CPU_FEATURES, above), libtorch for CUDA (device count;
// per-device compute capability through the CUDA driver library, which is absent on
// CPU-only machines) and MPS (at::hasMPS()), a one-element float16 layer norm for the CPU
// float16 kernels, and the process's CPU affinity with
// /sys/devices/system/cpu/cpu<N>/topology for the core counts.
HardwareInfo detect_hardware();

// The variable that replaces the CPU's bfloat16 features CPUID reports, so the dtype a
// machine with (or without) avx512_bf16 / amx_bf16 would get can be chosen and tested on any
// x86 CPU. Its value is "none" or a comma-separated subset of "avx512_bf16" and "amx_bf16";
// unset or empty leaves CPUID's answer. It only changes what `dtype: auto` picks (and the
// reason logged); the kernels libtorch runs are whatever this CPU has.
constexpr const char* kCpuFeaturesEnv = "FLX_CPU_FEATURES";

// Applies a FLX_CPU_FEATURES value to `hardware` (nullptr or "" leaves it untouched). Throws
// std::invalid_argument naming the variable and the value for anything else.
void apply_cpu_features_override(const char* value, HardwareInfo& hardware);

// The physical cores among `logical_cpus` according to a sysfs tree laid out like
// /sys/devices/system/cpu (cpu<N>/topology/physical_package_id and core_id): the number of
// distinct (package, core) pairs. CPUs whose topology cannot be read count as one core each.
// Returns at least 1.
int count_physical_cores(const std::string& sysfs_cpu_dir, const std::vector<int>& logical_cpus);

// The first op the networks run that this libtorch has no kernel for in `dtype` on `device`
// (libtorch 1.13 has no float16 "layer_norm" on the CPU, for instance), or "" when every op
// has one. Runs each op once on a tiny tensor; the device must exist.
std::string first_missing_kernel(c10::ScalarType dtype, c10::Device device);

// A resolved device and dtype, with the reasons a person reads in the startup log.
struct DeviceChoice {
  c10::Device device = c10::Device(c10::kCPU);
  c10::ScalarType dtype = c10::kFloat;
  std::string device_name;    // canonical: "cpu", "cuda:0", "mps"
  std::string dtype_name;     // canonical: "float32", "float16", "bfloat16"
  std::string device_reason;  // e.g. "auto: no CUDA device, no MPS -> cpu"
  std::string dtype_reason;   // e.g. "cpu: avx512_bf16 present -> bfloat16"
};

// Resolves the `device` and `dtype` settings against `hardware`.
//
// device: "auto" picks cuda:0 when a CUDA device is visible, else mps when available, else
// cpu. Explicit values are "cpu", "cuda" (= cuda:0), "cuda:<N>" and "mps".
// dtype: "auto" picks, per resolved device, bfloat16 on a CUDA device with native bf16 else
// float16; float16 on mps; bfloat16 on a CPU with avx512_bf16 or amx_bf16 else float32.
// Explicit values are "float32" (aliases "fp32", "float"), "float16" ("fp16", "half") and
// "bfloat16" ("bf16"); case does not matter.
//
// Throws std::invalid_argument naming the key and value for anything unknown or impossible:
// cuda on a build without CUDA or with no (or too few) devices, mps where it is unavailable,
// float16 on a CPU without float16 kernels, bfloat16 on a CUDA device without native bf16,
// bfloat16 on mps (libtorch 1.13's MPS backend has no bfloat16).
DeviceChoice select_device_dtype(const std::string& device, const std::string& dtype,
                                 const HardwareInfo& hardware);

// A resolved intra-op thread count with its reason.
struct ThreadChoice {
  int threads = 1;
  std::string reason;  // e.g. "auto: 8 physical cores"
};

// Resolves the `threads` setting: "auto" is hardware.physical_cores; otherwise a decimal
// count 1..1024. Throws std::invalid_argument naming the key and value otherwise.
ThreadChoice select_threads(const std::string& threads, const HardwareInfo& hardware);

// The BLAS this libtorch computes with, for the startup log: the BLAS_INFO of
// at::show_config() (e.g. "open" for OpenBLAS, "mkl") and, when a cblas_sgemm or sgemm_
// symbol is loaded, the file that defines it with symlinks resolved (on Debian the
// libblas.so.3 alternative, e.g. ".../openblas-openmp/libblas.so.3").
std::string blas_description();

// The one startup log line of a model, e.g.
// "model tiny-flux: device cpu (auto: no CUDA device, no MPS -> cpu), dtype float32 (cpu: no
// avx512_bf16 or amx_bf16 -> float32), threads 2 (auto: 2 physical cores), BLAS open
// (/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3)".
std::string startup_summary(const std::string& model, const DeviceChoice& choice,
                            const ThreadChoice& threads, const std::string& blas);

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_DEVICE_SELECTION_H_
