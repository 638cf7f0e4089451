// CUDA device: CUDA-event timers and the caching allocator's peak-memory statistics.
// Compiled only when LibTorch was built with CUDA (see CMakeLists.txt).
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <fmt/core.h>
#include <torch/torch.h>

#include "core/device.h"

namespace dlbench {
namespace {

class CudaTimer : public DeviceTimer {
 public:
  CudaTimer() : start_(cudaEventDefault), stop_(cudaEventDefault) {}
  void start() override { start_.record(at::cuda::getCurrentCUDAStream()); }
  void stop() override { stop_.record(at::cuda::getCurrentCUDAStream()); }
  double elapsed_seconds() override { return start_.elapsed_time(stop_) * 1e-3; }

 private:
  at::cuda::CUDAEvent start_, stop_;
};

class CudaDevice : public Device {
 public:
  explicit CudaDevice(int index) : index_(index) { c10::cuda::set_device(index); }
  std::string name() const override { return "cuda:" + std::to_string(index_); }
  c10::Device torch_device() const override {
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index_));
  }
  bool is_accelerator() const override { return true; }
  void synchronize() override { torch::cuda::synchronize(index_); }
  std::unique_ptr<DeviceTimer> make_timer() override { return std::make_unique<CudaTimer>(); }
  void reset_peak_memory() override {
    c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(index_));
  }
  std::optional<double> peak_memory_bytes() override {
    auto stats =
        c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(index_));
    return static_cast<double>(stats.allocated_bytes[0].peak);  // index 0: StatType::AGGREGATE
  }

 private:
  int index_;
};

}  // namespace

std::unique_ptr<Device> make_cuda_device(int index) { return std::make_unique<CudaDevice>(index); }

}  // namespace dlbench

// ---- CUDA parts of the system context (declared in system_info.h) ----
#include <dlfcn.h>

#include "core/strings.h"
#include "core/system_info.h"

namespace dlbench {

std::vector<GpuInfo> gpu_info() {
  std::vector<GpuInfo> out;
  if (!torch::cuda::is_available()) return out;
  int count = static_cast<int>(torch::cuda::device_count());
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp* prop = at::cuda::getDeviceProperties(i);
    GpuInfo gpu;
    gpu.index = i;
    gpu.name = prop->name;
    gpu.cc_major = prop->major;
    gpu.cc_minor = prop->minor;
    gpu.multiprocessors = prop->multiProcessorCount;
    gpu.memory_bus_bits = prop->memoryBusWidth;
    gpu.memory_bytes = static_cast<double>(prop->totalGlobalMem);
    gpu.l2_bytes = static_cast<double>(prop->l2CacheSize);
    // CUDA 13 removed clockRate/memoryClockRate from cudaDeviceProp; attributes still work.
    int khz = 0;
    if (cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, i) == cudaSuccess) {
      gpu.sm_clock_hz = khz * 1e3;
    }
    if (cudaDeviceGetAttribute(&khz, cudaDevAttrMemoryClockRate, i) == cudaSuccess) {
      gpu.memory_clock_hz = khz * 1e3;
    }
    out.push_back(gpu);
  }
  return out;
}

nlohmann::json cuda_versions() {
  nlohmann::json out;
  out["available"] = torch::cuda::is_available();
  if (!torch::cuda::is_available()) out["reason"] = "no CUDA device visible";
  int version = 0;
  if (cudaDriverGetVersion(&version) == cudaSuccess) {
    out["driver_api"] = fmt::format("{}.{}", version / 1000, (version % 1000) / 10);
  }
  if (cudaRuntimeGetVersion(&version) == cudaSuccess) {
    out["runtime"] = fmt::format("{}.{}", version / 1000, (version % 1000) / 10);
  }
  if (torch::cuda::cudnn_is_available()) {
    long cudnn = at::detail::getCUDAHooks().versionCuDNN();
    out["cudnn"] = std::to_string(cudnn);
  }
  using NcclVersionFn = int (*)(int*);
  if (auto nccl = reinterpret_cast<NcclVersionFn>(dlsym(RTLD_DEFAULT, "ncclGetVersion"))) {
    int v = 0;
    if (nccl(&v) == 0) out["nccl"] = std::to_string(v);
  }
  return out;
}

}  // namespace dlbench
