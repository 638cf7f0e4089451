// micro/rnn: GRU, LSTM and vanilla work counts by hand, every cell x pass x dtype passing its
// check, a longer and wider cell, and fp16 passed or skipped, never failed.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "core/registry.h"
#include "harness/runner.h"
#include "test_util.h"

namespace dlbench {
namespace {

using testing::expect_sane;
using testing::run_problem;
using testing::work_of;

TEST(Rnn, GruWorkCountsByHand) {
  // gru (3 gates) input=7 hidden=5 batch=3 timesteps=4 layers=2 bidirectional:
  // layer 0: 2*3*5*(7+5) = 360 FLOPs per direction, step and sequence; x 2 dirs x 4 steps = 2880.
  // layer 1 (in = 5*2 = 10): 2*3*5*(10+5) = 450; x 8 = 3600. Sum 6480, x batch 3 = 19440.
  // Parameters: layer 0 2*(15*12 + 2*15) = 420, layer 1 2*(15*15 + 30) = 510: 930.
  // Elements: 930 + input 4*3*7 = 84 + output 4*3*2*5 = 120 + h0 and h_n 2*(2*2*3*5) = 120
  // = 1254; fp32 5016 bytes, bf16 2508. bwd: 38880 FLOPs, 10032 bytes (fp32).
  const std::string shape =
      "micro/rnn cell=gru input=7 hidden=5 batch=3 timesteps=4 layers=2 bidirectional=true";
  WorkCounts fwd = work_of(shape + " pass=fwd dtype=fp32");
  EXPECT_DOUBLE_EQ(fwd.flops, 19440);
  EXPECT_DOUBLE_EQ(fwd.bytes, 5016);
  EXPECT_DOUBLE_EQ(fwd.samples, 3);
  EXPECT_EQ(fwd.sample_unit, "sequences");
  EXPECT_EQ(fwd.primary_metric(), "flops");
  WorkCounts bf16 = work_of(shape + " pass=fwd dtype=bf16");
  EXPECT_DOUBLE_EQ(bf16.bytes, 2508);
  EXPECT_EQ(bf16.dtype, "bf16");
  WorkCounts bwd = work_of(shape + " pass=bwd dtype=fp32");
  EXPECT_DOUBLE_EQ(bwd.flops, 38880);
  EXPECT_DOUBLE_EQ(bwd.bytes, 10032);
}

TEST(Rnn, LstmAndVanillaWorkCountsByHand) {
  // lstm (4 gates) input=3 hidden=2 batch=5 timesteps=7, 1 layer, 1 direction:
  // 2*4*2*(3+2) = 80 per step and sequence, x 7 x 5 = 2800 FLOPs.
  // Elements: weights 8*5 + 2*8 = 56, input 7*5*3 = 105, output 7*5*2 = 70, h0 c0 h_n c_n 4*10
  // = 40: 271, fp32 1084 bytes.
  WorkCounts lstm = work_of("micro/rnn cell=lstm input=3 hidden=2 batch=5 timesteps=7");
  EXPECT_DOUBLE_EQ(lstm.flops, 2800);
  EXPECT_DOUBLE_EQ(lstm.bytes, 1084);
  // rnn_relu (1 gate), same shape: 2*1*2*5 = 20 x 35 = 700 FLOPs. Elements: weights 2*5 + 4 = 14,
  // 105, 70, h0 and h_n 2*10 = 20: 209, fp32 836 bytes.
  WorkCounts relu = work_of("micro/rnn cell=rnn_relu input=3 hidden=2 batch=5 timesteps=7");
  EXPECT_DOUBLE_EQ(relu.flops, 700);
  EXPECT_DOUBLE_EQ(relu.bytes, 836);
}

TEST(Rnn, EveryCellPassAndDtypePassesItsCheck) {
  for (const char* cell : {"rnn_tanh", "rnn_relu", "lstm", "gru"}) {
    for (const char* pass : {"fwd", "bwd"}) {
      for (const char* dtype : {"fp32", "bf16"}) {
        for (const char* layout : {"layers=1 bidirectional=false", "layers=2 bidirectional=true"}) {
          expect_sane(
              run_problem(std::string("micro/rnn input=7 hidden=6 batch=3 timesteps=5 cell=") +
                          cell + " pass=" + pass + " dtype=" + dtype + " " + layout));
        }
      }
    }
  }
}

TEST(Rnn, LongerSequenceAndWiderCellPass) {
  // Errors compound through time: a longer sequence at a width nearer the defaults.
  for (const char* dtype : {"fp32", "bf16"}) {
    expect_sane(
        run_problem(std::string("micro/rnn cell=lstm input=64 hidden=96 batch=4 timesteps=30 "
                                "dtype=") +
                    dtype));
    expect_sane(
        run_problem(std::string("micro/rnn cell=gru input=64 hidden=96 batch=4 timesteps=30 "
                                "pass=bwd dtype=") +
                    dtype));
  }
}

TEST(Rnn, Fp16IsPassedOrSkippedNeverFailed) {
  for (const char* pass : {"fwd", "bwd"}) {
    Result r = run_problem(std::string("micro/rnn cell=lstm input=4 hidden=4 batch=2 timesteps=3 "
                                       "dtype=fp16 pass=") +
                           pass);
    EXPECT_NE(r.status, Status::kFailed) << r.reason;
    if (r.status == Status::kSkipped) {
      EXPECT_NE(r.reason.find("not supported"), std::string::npos) << r.reason;
    }
  }
}

}  // namespace
}  // namespace dlbench
