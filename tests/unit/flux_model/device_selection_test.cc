#include "model/device_selection.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace flx::flux {
namespace {

HardwareInfo plain_cpu() {
  HardwareInfo hardware;
  hardware.physical_cores = 4;
  hardware.logical_cpus = 8;
  return hardware;
}

HardwareInfo avx512_bf16_cpu() {
  HardwareInfo hardware = plain_cpu();
  hardware.cpu_avx512_bf16 = true;
  return hardware;
}

HardwareInfo amx_cpu() {
  HardwareInfo hardware = plain_cpu();
  hardware.cpu_amx_bf16 = true;
  return hardware;
}

HardwareInfo sapphire_rapids() {
  HardwareInfo hardware = avx512_bf16_cpu();
  hardware.cpu_amx_bf16 = true;
  return hardware;
}

HardwareInfo cpu_with_float16_kernels() {
  HardwareInfo hardware = plain_cpu();
  hardware.cpu_float16_kernels = true;
  return hardware;
}

HardwareInfo cuda_build_without_gpu() {
  HardwareInfo hardware = plain_cpu();
  hardware.cuda_built = true;
  return hardware;
}

// cuda:0 is an Ampere card (bf16), cuda:1 a Turing card (no bf16); cuda:2's capability is
// unknown.
HardwareInfo two_gpus() {
  HardwareInfo hardware = plain_cpu();
  hardware.cuda_built = true;
  hardware.cuda_device_count = 3;
  hardware.cuda_bf16 = {true, false};
  return hardware;
}

HardwareInfo mac() {
  HardwareInfo hardware = plain_cpu();
  hardware.mps_available = true;
  return hardware;
}

struct SelectionCase {
  const char* machine_name;
  HardwareInfo machine;
  std::string device;
  std::string dtype;
  std::string device_name;
  std::string dtype_name;
  std::string device_reason;
  std::string dtype_reason;
};

TEST(SelectDeviceDtype, ResolvesEveryBranch) {
  const SelectionCase cases[] = {
      {"plain cpu", plain_cpu(), "auto", "auto", "cpu", "float32",
       "auto: libtorch built without CUDA, no MPS -> cpu",
       "cpu: no avx512_bf16 or amx_bf16 -> float32"},
      {"avx512_bf16 cpu", avx512_bf16_cpu(), "auto", "auto", "cpu", "bfloat16",
       "auto: libtorch built without CUDA, no MPS -> cpu", "cpu: avx512_bf16 present -> bfloat16"},
      {"amx cpu", amx_cpu(), "cpu", "auto", "cpu", "bfloat16", "explicit",
       "cpu: amx_bf16 present -> bfloat16"},
      {"sapphire rapids", sapphire_rapids(), "auto", "auto", "cpu", "bfloat16",
       "auto: libtorch built without CUDA, no MPS -> cpu",
       "cpu: avx512_bf16 and amx_bf16 present -> bfloat16"},
      {"cuda build without gpu", cuda_build_without_gpu(), "auto", "auto", "cpu", "float32",
       "auto: no CUDA device, no MPS -> cpu", "cpu: no avx512_bf16 or amx_bf16 -> float32"},
      {"two gpus", two_gpus(), "auto", "auto", "cuda:0", "bfloat16",
       "auto: 3 CUDA device(s) -> cuda:0",
       "cuda:0: native bf16 (compute capability >= 8.0) -> bfloat16"},
      {"two gpus", two_gpus(), "cuda", "auto", "cuda:0", "bfloat16", "explicit",
       "cuda:0: native bf16 (compute capability >= 8.0) -> bfloat16"},
      {"two gpus", two_gpus(), "CUDA:1", "auto", "cuda:1", "float16", "explicit",
       "cuda:1: no native bf16 -> float16"},
      {"two gpus", two_gpus(), "cuda:2", "auto", "cuda:2", "float16", "explicit",
       "cuda:2: no native bf16 -> float16"},
      {"two gpus", two_gpus(), "cuda:1", "fp16", "cuda:1", "float16", "explicit", "explicit"},
      {"two gpus", two_gpus(), "cuda:0", "bf16", "cuda:0", "bfloat16", "explicit", "explicit"},
      {"two gpus", two_gpus(), "cpu", "auto", "cpu", "float32", "explicit",
       "cpu: no avx512_bf16 or amx_bf16 -> float32"},
      {"mac", mac(), "auto", "auto", "mps", "float16",
       "auto: libtorch built without CUDA, MPS available -> mps", "mps -> float16"},
      {"mac", mac(), "mps", "float32", "mps", "float32", "explicit", "explicit"},
      {"plain cpu", plain_cpu(), " Cpu ", "FP32", "cpu", "float32", "explicit", "explicit"},
      {"plain cpu", plain_cpu(), "cpu", "float", "cpu", "float32", "explicit", "explicit"},
      {"plain cpu", plain_cpu(), "cpu", "bfloat16", "cpu", "bfloat16", "explicit",
       "explicit (cpu has no avx512_bf16 or amx_bf16: bfloat16 is emulated)"},
      {"avx512_bf16 cpu", avx512_bf16_cpu(), "cpu", "bf16", "cpu", "bfloat16", "explicit",
       "explicit"},
      {"cpu with float16 kernels", cpu_with_float16_kernels(), "cpu", "half", "cpu", "float16",
       "explicit", "explicit"},
  };
  for (const SelectionCase& c : cases) {
    SCOPED_TRACE(std::string(c.machine_name) + ", device \"" + c.device + "\", dtype \"" + c.dtype +
                 "\"");
    const DeviceChoice choice = select_device_dtype(c.device, c.dtype, c.machine);
    EXPECT_EQ(choice.device_name, c.device_name);
    EXPECT_EQ(choice.device.str(), c.device_name);
    EXPECT_EQ(choice.dtype_name, c.dtype_name);
    EXPECT_EQ(c10::toString(choice.dtype), std::string(c.dtype_name == "float32"   ? "Float"
                                                       : c.dtype_name == "float16" ? "Half"
                                                                                   : "BFloat16"));
    EXPECT_EQ(choice.device_reason, c.device_reason);
    EXPECT_EQ(choice.dtype_reason, c.dtype_reason);
  }
}

struct ErrorCase {
  const char* machine_name;
  HardwareInfo machine;
  std::string device;
  std::string dtype;
  std::string message;
};

TEST(SelectDeviceDtype, RejectsUnknownAndImpossibleSettingsNamingThem) {
  const ErrorCase cases[] = {
      {"plain cpu", plain_cpu(), "gpu", "auto",
       "device \"gpu\" is not one of auto, cpu, cuda, cuda:<N>, mps"},
      {"two gpus", two_gpus(), "cuda:x", "auto",
       "device \"cuda:x\" is not one of auto, cpu, cuda, cuda:<N>, mps"},
      {"two gpus", two_gpus(), "cuda:-1", "auto",
       "device \"cuda:-1\" is not one of auto, cpu, cuda, cuda:<N>, mps"},
      {"plain cpu", plain_cpu(), "cuda", "auto",
       "device \"cuda\" needs CUDA, but this libtorch was built without CUDA; use cpu or auto"},
      {"plain cpu", plain_cpu(), "cuda:0", "float32",
       "device \"cuda:0\" needs CUDA, but this libtorch was built without CUDA; use cpu or auto"},
      {"cuda build without gpu", cuda_build_without_gpu(), "cuda", "auto",
       "device \"cuda\" needs a CUDA device, but none is visible"},
      {"two gpus", two_gpus(), "cuda:3", "auto",
       "device \"cuda:3\" names a CUDA device that does not exist: 3 visible (cuda:0..cuda:2)"},
      {"plain cpu", plain_cpu(), "mps", "auto",
       "device \"mps\" needs MPS, which this libtorch build or this machine does not offer; use "
       "cpu or auto"},
      {"plain cpu", plain_cpu(), "cpu", "float64",
       "dtype \"float64\" is not one of auto, float32 (fp32), float16 (fp16), bfloat16 (bf16)"},
      {"plain cpu", plain_cpu(), "cpu", "",
       "dtype \"\" is not one of auto, float32 (fp32), float16 (fp16), bfloat16 (bf16)"},
      {"plain cpu", plain_cpu(), "auto", "fp16",
       "dtype \"fp16\" is not possible on cpu: this libtorch lacks CPU float16 kernels for the "
       "networks' ops; use float32 or bfloat16"},
      {"two gpus", two_gpus(), "cuda:1", "bfloat16",
       "dtype \"bfloat16\" is not possible on cuda:1: the GPU has no native bf16 (compute "
       "capability < 8.0); use float16 or float32"},
      {"mac", mac(), "auto", "bf16",
       "dtype \"bf16\" is not possible on mps: libtorch 1.13's MPS backend has no bfloat16; use "
       "float16 or float32"},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(std::string(c.machine_name) + ", device \"" + c.device + "\", dtype \"" + c.dtype +
                 "\"");
    try {
      select_device_dtype(c.device, c.dtype, c.machine);
      ADD_FAILURE() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& error) {
      EXPECT_EQ(std::string(error.what()), c.message);
    }
  }
}

TEST(SelectThreads, AutoIsPhysicalCoresAndCountsAreChecked) {
  HardwareInfo hardware = plain_cpu();
  const ThreadChoice automatic = select_threads("auto", hardware);
  EXPECT_EQ(automatic.threads, 4);
  EXPECT_EQ(automatic.reason, "auto: 4 physical cores");
  EXPECT_EQ(select_threads("6", hardware).threads, 6);
  EXPECT_EQ(select_threads("6", hardware).reason, "explicit");
  EXPECT_EQ(select_threads("1024", hardware).threads, 1024);
  for (const std::string& bad :
       std::vector<std::string>{"0", "1025", "-2", "two", "", "1.5", "99999999999"}) {
    try {
      select_threads(bad, hardware);
      ADD_FAILURE() << "expected std::invalid_argument for \"" << bad << "\"";
    } catch (const std::invalid_argument& error) {
      EXPECT_EQ(std::string(error.what()),
                "threads \"" + bad + "\" must be auto or a count 1..1024");
    }
  }
}

class FakeSysfs : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("flx_fake_sysfs_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  void add_cpu(int cpu, int package, int core) {
    const std::filesystem::path topology = root_ / ("cpu" + std::to_string(cpu)) / "topology";
    std::filesystem::create_directories(topology);
    std::ofstream(topology / "physical_package_id") << package << "\n";
    std::ofstream(topology / "core_id") << core << "\n";
  }

  std::filesystem::path root_;
};

TEST_F(FakeSysfs, CountsDistinctPackageCorePairs) {
  // Two sockets, two cores each, two hyper-threads per core; core ids repeat across sockets.
  int cpu = 0;
  for (int thread = 0; thread < 2; ++thread) {
    for (int package = 0; package < 2; ++package) {
      for (int core = 0; core < 2; ++core) add_cpu(cpu++, package, core);
    }
  }
  EXPECT_EQ(count_physical_cores(root_.string(), {0, 1, 2, 3, 4, 5, 6, 7}), 4);
  EXPECT_EQ(count_physical_cores(root_.string(), {0, 4}), 1) << "hyper-thread siblings";
  EXPECT_EQ(count_physical_cores(root_.string(), {0, 2}), 2) << "same core id, other socket";
  EXPECT_EQ(count_physical_cores(root_.string(), {0, 4, 12}), 2)
      << "an unreadable CPU counts as its own core";
  EXPECT_EQ(count_physical_cores(root_.string(), {}), 1);
}

TEST(DetectHardware, DescribesThisMachineConsistently) {
  const HardwareInfo hardware = detect_hardware();
  EXPECT_GE(hardware.physical_cores, 1);
  EXPECT_GE(hardware.logical_cpus, hardware.physical_cores);
  EXPECT_GE(hardware.cuda_device_count, 0);
  EXPECT_LE(hardware.cuda_bf16.size(), static_cast<size_t>(hardware.cuda_device_count));
  if (!hardware.cuda_built) {
    EXPECT_EQ(hardware.cuda_device_count, 0);
  }
  EXPECT_EQ(hardware.cpu_float16_kernels, first_missing_kernel(c10::kHalf, c10::kCPU).empty());
  // Whatever this machine is, auto/auto resolves without throwing and to a device it has.
  const DeviceChoice choice = select_device_dtype("auto", "auto", hardware);
  EXPECT_EQ(choice.device.is_cuda(), hardware.cuda_device_count > 0);
}

TEST(FirstMissingKernel, FloatHasEveryKernelOnTheCpu) {
  EXPECT_EQ(first_missing_kernel(c10::kFloat, c10::kCPU), "");
  EXPECT_EQ(first_missing_kernel(c10::kBFloat16, c10::kCPU), "");
}

TEST(BlasDescription, NamesTheBlasOfTheBuild) {
  const std::string blas = blas_description();
  EXPECT_FALSE(blas.empty());
  EXPECT_NE(blas.find_first_not_of(" "), std::string::npos);
  EXPECT_EQ(blas.find('\n'), std::string::npos) << blas;
}

TEST(StartupSummary, PutsEveryResolvedValueAndReasonOnOneLine) {
  const DeviceChoice choice = select_device_dtype("auto", "auto", avx512_bf16_cpu());
  const ThreadChoice threads = select_threads("auto", avx512_bf16_cpu());
  EXPECT_EQ(startup_summary("schnell", choice, threads, "open (/usr/lib/libblas.so.3)"),
            "model schnell: device cpu (auto: libtorch built without CUDA, no MPS -> cpu), dtype "
            "bfloat16 (cpu: avx512_bf16 present -> bfloat16), threads 4 (auto: 4 physical "
            "cores), BLAS open (/usr/lib/libblas.so.3)");
}

// FLX_CPU_FEATURES stands in for CPUID so both dtype paths of `dtype: auto` are tested on any
// x86 CPU, whatever this one has.
TEST(CpuFeaturesOverride, ReplacesWhatCpuidSaid) {
  HardwareInfo hardware;
  hardware.cpu_avx512_bf16 = true;
  apply_cpu_features_override("none", hardware);
  EXPECT_FALSE(hardware.cpu_avx512_bf16);
  EXPECT_FALSE(hardware.cpu_amx_bf16);
  DeviceChoice choice = select_device_dtype("cpu", "auto", hardware);
  EXPECT_EQ(choice.dtype_name, "float32");
  EXPECT_EQ(choice.dtype_reason, "cpu: no avx512_bf16 or amx_bf16 (FLX_CPU_FEATURES=none) -> float32");

  apply_cpu_features_override("avx512_bf16", hardware);
  EXPECT_TRUE(hardware.cpu_avx512_bf16);
  EXPECT_FALSE(hardware.cpu_amx_bf16);
  choice = select_device_dtype("cpu", "auto", hardware);
  EXPECT_EQ(choice.dtype_name, "bfloat16");
  EXPECT_EQ(choice.dtype_reason, "cpu: avx512_bf16 (FLX_CPU_FEATURES=avx512_bf16) present -> bfloat16");

  apply_cpu_features_override("AMX_BF16,avx512_bf16", hardware);
  EXPECT_TRUE(hardware.cpu_avx512_bf16 && hardware.cpu_amx_bf16);
}

TEST(CpuFeaturesOverride, EmptyOrUnsetKeepsCpuid) {
  HardwareInfo hardware;
  hardware.cpu_amx_bf16 = true;
  apply_cpu_features_override(nullptr, hardware);
  apply_cpu_features_override("", hardware);
  EXPECT_TRUE(hardware.cpu_amx_bf16);
  EXPECT_EQ(hardware.cpu_features_source, "cpuid");
}

TEST(CpuFeaturesOverride, UnknownFeatureNamesTheVariable) {
  HardwareInfo hardware;
  try {
    apply_cpu_features_override("avx512_bf16,sse9", hardware);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("FLX_CPU_FEATURES='avx512_bf16,sse9'"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(hardware.cpu_features_source, "cpuid") << "a bad value changes nothing";
}

}  // namespace
}  // namespace flx::flux
