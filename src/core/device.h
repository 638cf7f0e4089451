// The device abstraction: where a workload's tensors live, how to wait for them, how to time
// them and how much memory they took. CPU always; CUDA when LibTorch was built with it.
#pragma once

#include <c10/core/Device.h>

#include <memory>
#include <optional>
#include <string>

namespace dlbench {

/// Times device work with device-side events (CUDA events). Start and stop are enqueued on the
/// current stream; `elapsed_seconds` is valid after the device has been synchronised.
class DeviceTimer {
 public:
  virtual ~DeviceTimer() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  virtual double elapsed_seconds() = 0;
};

/// A compute device. Created from a spec string: "cpu", "cuda" or "cuda:N".
class Device {
 public:
  virtual ~Device() = default;

  /// Creates the device; throws Unsupported when it is not available in this build or machine,
  /// Error when the spec is malformed.
  static std::unique_ptr<Device> create(const std::string& spec);

  /// "cpu" or "cuda:N".
  virtual std::string name() const = 0;
  /// The LibTorch device to place tensors on.
  virtual c10::Device torch_device() const = 0;
  /// True for accelerators (asynchronous execution, device timers).
  virtual bool is_accelerator() const = 0;
  /// Waits for all queued work on the device.
  virtual void synchronize() = 0;
  /// A device-side timer, or nullptr where the host clock is the only clock (CPU).
  virtual std::unique_ptr<DeviceTimer> make_timer() = 0;
  /// Resets the device's peak-allocated counter (no-op on CPU).
  virtual void reset_peak_memory() = 0;
  /// Peak bytes allocated on the device since the last reset; nullopt on CPU.
  virtual std::optional<double> peak_memory_bytes() = 0;
};

/// True when this binary was built with CUDA support and a CUDA device is visible.
bool cuda_available();

}  // namespace dlbench
