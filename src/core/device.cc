#include "core/device.h"

#include <fmt/core.h>
#include <torch/torch.h>

#include "core/error.h"
#include "core/strings.h"

namespace dlbench {

#ifdef DLBENCH_WITH_CUDA
// Defined in device_cuda.cc, compiled only when LibTorch has CUDA.
std::unique_ptr<Device> make_cuda_device(int index);
#endif

namespace {

class CpuDevice : public Device {
 public:
  std::string name() const override { return "cpu"; }
  c10::Device torch_device() const override { return c10::Device(c10::kCPU); }
  bool is_accelerator() const override { return false; }
  void synchronize() override {}
  std::unique_ptr<DeviceTimer> make_timer() override { return nullptr; }
  void reset_peak_memory() override {}
  std::optional<double> peak_memory_bytes() override { return std::nullopt; }
};

}  // namespace

bool cuda_available() {
#ifdef DLBENCH_WITH_CUDA
  return torch::cuda::is_available();
#else
  return false;
#endif
}

std::unique_ptr<Device> Device::create(const std::string& spec) {
  if (spec == "cpu") return std::make_unique<CpuDevice>();
  if (spec == "cuda" || starts_with(spec, "cuda:")) {
    int index = 0;
    if (spec.size() > 5) {
      auto parsed = parse_int(spec.substr(5));
      if (!parsed || *parsed < 0) throw Error("bad device '" + spec + "': expected cuda:N");
      index = static_cast<int>(*parsed);
    }
#ifdef DLBENCH_WITH_CUDA
    if (!torch::cuda::is_available()) {
      throw Unsupported("CUDA device requested but no CUDA device is visible");
    }
    if (index >= static_cast<int>(torch::cuda::device_count())) {
      throw Unsupported(fmt::format("device cuda:{} requested but only {} CUDA device(s) visible",
                                    index, static_cast<int>(torch::cuda::device_count())));
    }
    return make_cuda_device(index);
#else
    (void)index;
    throw Unsupported(
        "CUDA device requested but this dlbench was built against a LibTorch without CUDA "
        "(rebuild against a CUDA LibTorch: see README, 'GPU build')");
#endif
  }
  throw Error("unknown device '" + spec + "': expected cpu, cuda or cuda:N");
}

}  // namespace dlbench
