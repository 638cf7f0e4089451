#include "core/timeline.h"

#include <algorithm>

namespace dlbench {

namespace {

double seconds_between(Timeline::Clock::time_point start, Timeline::Clock::time_point end) {
  return std::max(0.0, std::chrono::duration<double>(end - start).count());
}

}  // namespace

void Timeline::describe_input(int workers, int prefetch) {
  std::lock_guard<std::mutex> lock(mutex_);
  totals_.has_input = true;
  totals_.input_workers = workers;
  totals_.input_prefetch = prefetch;
}

void Timeline::input_wait(Clock::time_point start, Clock::time_point end) {
  std::lock_guard<std::mutex> lock(mutex_);
  totals_.has_input = true;
  totals_.input_wait_s += seconds_between(start, end);
}

void Timeline::input_batch(double samples, double load_seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  totals_.has_input = true;
  totals_.batches += 1;
  totals_.samples += samples;
  totals_.input_load_s += std::max(0.0, load_seconds);
}

void Timeline::emulated_compute(double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  totals_.emulated_compute_s = seconds;
}

void Timeline::describe_comm(const std::string& backend) {
  std::lock_guard<std::mutex> lock(mutex_);
  totals_.comm_backend = backend;
}

void Timeline::comm_call(Clock::time_point start, Clock::time_point end, double bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  end = std::max(start, end);
  // Calls arrive in the order they started: the part of this one after the union so far.
  totals_.comm_busy_s += seconds_between(std::max(start, comm_covered_until_), end);
  comm_covered_until_ = std::max(comm_covered_until_, end);
  totals_.comm_calls += 1;
  totals_.comm_bytes += bytes;
}

void Timeline::comm_exposed(Clock::time_point start, Clock::time_point end) {
  std::lock_guard<std::mutex> lock(mutex_);
  totals_.comm_exposed_s += seconds_between(start, end);
  totals_.comm_steps += 1;
}

void Timeline::start_measurement() {
  std::lock_guard<std::mutex> lock(mutex_);
  TimelineTotals fresh;
  fresh.has_input = totals_.has_input;
  fresh.input_workers = totals_.input_workers;
  fresh.input_prefetch = totals_.input_prefetch;
  fresh.emulated_compute_s = totals_.emulated_compute_s;
  fresh.comm_backend = totals_.comm_backend;
  totals_ = fresh;
  comm_covered_until_ = Clock::time_point{};
}

TimelineTotals Timeline::totals() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return totals_;
}

}  // namespace dlbench
