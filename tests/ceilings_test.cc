// Theoretical ceilings: the FLOP/cycle table and the formulas.
#include <gtest/gtest.h>

#include "analysis/ceilings.h"

namespace dlbench {
namespace {

CpuInfo cpu_with(const std::string& vendor, std::vector<std::string> flags) {
  CpuInfo cpu;
  cpu.vendor = vendor;
  cpu.flags = std::move(flags);
  return cpu;
}

TEST(Ceilings, CpuFlopsPerCycleByIsa) {
  auto intel512 = cpu_with("GenuineIntel", {"sse2", "avx", "avx2", "fma", "avx512f"});
  EXPECT_EQ(cpu_flops_per_cycle(intel512, "fp32")->flops_per_cycle, 64);
  EXPECT_EQ(cpu_flops_per_cycle(intel512, "fp64")->flops_per_cycle, 32);
  EXPECT_EQ(cpu_flops_per_cycle(intel512, "bf16")->flops_per_cycle, 64);  // no native bf16

  auto zen4 = cpu_with("AuthenticAMD", {"avx2", "fma", "avx512f", "avx512_bf16"});
  EXPECT_EQ(cpu_flops_per_cycle(zen4, "fp32")->flops_per_cycle, 32);
  EXPECT_EQ(cpu_flops_per_cycle(zen4, "bf16")->flops_per_cycle, 64);

  auto haswell = cpu_with("GenuineIntel", {"sse2", "avx", "avx2", "fma"});
  EXPECT_EQ(cpu_flops_per_cycle(haswell, "fp32")->flops_per_cycle, 32);

  auto sapphire = cpu_with("GenuineIntel", {"avx2", "fma", "avx512f", "amx_bf16"});
  EXPECT_EQ(cpu_flops_per_cycle(sapphire, "bf16")->flops_per_cycle, 2048);

  EXPECT_FALSE(cpu_flops_per_cycle(haswell, "tf32"));  // a GPU-only dtype
  EXPECT_FALSE(cpu_flops_per_cycle(cpu_with("", {}), "fp32"));
}

TEST(Ceilings, OverrideAppliesEvenToUnknownCpus) {
  setenv("DLBENCH_CPU_FP32_FLOPS_PER_CYCLE", "48", 1);
  auto unknown = cpu_flops_per_cycle(cpu_with("", {}), "fp32");
  auto known = cpu_flops_per_cycle(cpu_with("GenuineIntel", {"avx2", "fma"}), "fp64");
  unsetenv("DLBENCH_CPU_FP32_FLOPS_PER_CYCLE");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->flops_per_cycle, 48);
  EXPECT_EQ(known->flops_per_cycle, 24);
}

TEST(Ceilings, GpuRatesMatchPublishedPeaks) {
  // H100 SXM: 132 SMs x 4096 bf16 FLOP/clock x 1.83 GHz = 989.4 TFLOP/s dense (datasheet).
  EXPECT_NEAR(132 * *gpu_flops_per_clock_per_sm(9, 0, "bf16") * 1.83e9, 989.4e12, 0.5e12);
  // A100: 108 SMs x 2048 x 1.41 GHz = 312 TFLOP/s bf16; 19.5 TFLOP/s fp32.
  EXPECT_NEAR(108 * *gpu_flops_per_clock_per_sm(8, 0, "bf16") * 1.41e9, 312e12, 0.5e12);
  EXPECT_NEAR(108 * *gpu_flops_per_clock_per_sm(8, 0, "fp32") * 1.41e9, 19.5e12, 0.1e12);
  // V100: 80 SMs x 1024 x 1.53 GHz = 125 TFLOP/s fp16; no bf16.
  EXPECT_NEAR(80 * *gpu_flops_per_clock_per_sm(7, 0, "fp16") * 1.53e9, 125.3e12, 0.5e12);
  EXPECT_FALSE(gpu_flops_per_clock_per_sm(7, 0, "bf16"));
  EXPECT_FALSE(gpu_flops_per_clock_per_sm(1, 0, "fp32"));
}

TEST(Ceilings, CpuCeilingScalesWithThreadsUpToCores) {
  const CpuInfo& cpu = cpu_info();
  auto one = compute_ceiling("cpu", "fp32", 1);
  auto many = compute_ceiling("cpu", "fp32", 4096);
  if (!one) GTEST_SKIP() << "no known FLOP/cycle for this CPU";
  ASSERT_TRUE(many);
  EXPECT_NEAR(many->value / one->value, cpu.physical_cores, 1e-9);
  EXPECT_EQ(one->source, "theoretical");
  EXPECT_FALSE(bandwidth_ceiling("cpu"));
}

TEST(Ceilings, MeasuredClockIsPlausible) {
  double hz = measure_cpu_clock_hz();
#if defined(__x86_64__)
  EXPECT_GT(hz, 0.3e9);
  EXPECT_LT(hz, 8e9);
#else
  EXPECT_EQ(hz, 0);
#endif
}

}  // namespace
}  // namespace dlbench
