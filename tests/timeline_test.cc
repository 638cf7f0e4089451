// The timeline of a measurement (core/timeline.h): what the loader and the gradient reducer
// record, and the totals the harness derives from.
#include "core/timeline.h"

#include <gtest/gtest.h>

#include <chrono>

namespace dlbench {
namespace {

using std::chrono::milliseconds;

TEST(Timeline, CommunicationBusyTimeIsTheUnionOfTheCalls) {
  Timeline timeline;
  timeline.describe_comm("gloo");
  const Timeline::Clock::time_point t0 = Timeline::now();
  // Calls in the order they started: [0, 10] and [5, 15] overlap, [20, 30] stands alone.
  timeline.comm_call(t0, t0 + milliseconds(10), 100);
  timeline.comm_call(t0 + milliseconds(5), t0 + milliseconds(15), 200);
  timeline.comm_call(t0 + milliseconds(20), t0 + milliseconds(30), 300);
  timeline.comm_exposed(t0 + milliseconds(25), t0 + milliseconds(30));
  TimelineTotals totals = timeline.totals();
  EXPECT_NEAR(totals.comm_busy_s, 0.025, 1e-9);  // 15 ms + 10 ms
  EXPECT_NEAR(totals.comm_exposed_s, 0.005, 1e-9);
  EXPECT_EQ(totals.comm_calls, 3);
  EXPECT_EQ(totals.comm_steps, 1);
  EXPECT_DOUBLE_EQ(totals.comm_bytes, 600);
  EXPECT_EQ(totals.comm_backend, "gloo");
}

TEST(Timeline, StartingMeasurementForgetsIntervalsButKeepsShapes) {
  Timeline timeline;
  timeline.describe_input(4, 2);
  timeline.emulated_compute(0.015);
  const Timeline::Clock::time_point t0 = Timeline::now();
  timeline.input_wait(t0, t0 + milliseconds(7));
  timeline.input_batch(32, 0.02);
  timeline.comm_call(t0, t0 + milliseconds(10), 100);
  timeline.start_measurement();
  TimelineTotals totals = timeline.totals();
  EXPECT_TRUE(totals.has_input);
  EXPECT_EQ(totals.input_workers, 4);
  EXPECT_EQ(totals.input_prefetch, 2);
  EXPECT_DOUBLE_EQ(totals.emulated_compute_s, 0.015);
  EXPECT_EQ(totals.batches, 0);
  EXPECT_DOUBLE_EQ(totals.samples, 0);
  EXPECT_DOUBLE_EQ(totals.input_wait_s, 0);
  EXPECT_DOUBLE_EQ(totals.input_load_s, 0);
  EXPECT_DOUBLE_EQ(totals.comm_busy_s, 0);
  // An interval that ended before the last one started still counts after a restart.
  timeline.comm_call(t0, t0 + milliseconds(4), 1);
  EXPECT_NEAR(timeline.totals().comm_busy_s, 0.004, 1e-9);
}

TEST(Timeline, InputTotalsSumWaitsBatchesAndTheirLoadTimes) {
  Timeline timeline;
  const Timeline::Clock::time_point t0 = Timeline::now();
  timeline.input_wait(t0, t0 + milliseconds(3));
  timeline.input_batch(16, 0.010);
  timeline.input_wait(t0 + milliseconds(5), t0 + milliseconds(6));
  timeline.input_batch(16, 0.012);
  TimelineTotals totals = timeline.totals();
  EXPECT_EQ(totals.batches, 2);
  EXPECT_DOUBLE_EQ(totals.samples, 32);
  EXPECT_NEAR(totals.input_wait_s, 0.004, 1e-9);
  EXPECT_NEAR(totals.input_load_s, 0.022, 1e-12);
}

}  // namespace
}  // namespace dlbench
