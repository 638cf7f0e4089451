// The roofline chart: which results become points (and why the others do not), the roofs each
// point is judged against, and the SVG text (well formed, escaped, labelled, readable labels).
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <vector>

#include "core/error.h"
#include "core/result.h"
#include "report/roofline.h"

namespace dlbench {
namespace {

using nlohmann::json;

Result make_result(const std::string& problem, const std::string& device, double flops_per_step,
                   double bytes_per_step, double achieved_flops, const std::string& dtype) {
  Result r;
  r.problem = problem;
  r.workload = problem.substr(0, problem.find(' '));
  r.params = {{"device", device}, {"dtype", dtype}, {"seed", "0"}, {"threads", "2"}};
  r.work.flops = flops_per_step;
  r.work.bytes = bytes_per_step;
  r.work.dtype = dtype;
  if (achieved_flops > 0) r.set_metric("flops", achieved_flops, "FLOP/s", "higher");
  return r;
}

Ceiling theoretical(double value) { return {value, "theoretical", "cores x FLOP/cycle x clock"}; }

// 1: STREAM triad fp64, n = 1e6: 2e6 FLOP, 24e6 B, AI = 1/12 = 0.0833 FLOP/B; 2.5 GFLOP/s.
//    Its repro carries '<' and '&' to test escaping.
// 2: GEMM fp32 1024^3: 2 x 1024^3 = 2147483648 FLOP, 3 x 1024^2 x 4 = 12582912 B,
//    AI = 170.667 FLOP/B; 188 GFLOP/s.
// 3: a PASSED result with FLOPs but no bytes counted.
// 4: a FAILED GEMM.
// 5: a GEMM on cuda:0, AI = 2e9 / 2e7 = 100 FLOP/B.
// The context carries measured ceilings for the CPU: fp32 200 GFLOP/s, 32 GB/s.
ResultsDocument sample_document() {
  ResultsDocument doc;
  doc.context = {{"host", {{"hostname", "testhost"}}},
                 {"cpu", {{"model", "Test CPU 9000"}, {"physical_cores", 2}}},
                 {"cuda", {{"devices", json::array({{{"index", 0}, {"name", "Test GPU"}}})}}},
                 {"timestamp", "2026-01-01T00:00:00Z"}};
  doc.context["measured_ceilings"] = {
      {"cpu",
       {{"threads", 2},
        {"compute",
         {{"fp32", {{"flops", 200e9}, {"source", "measured"}, {"basis", "GEMM 4096^3"}}}}},
        {"bandwidth",
         {{"bytes_per_s", 32e9}, {"source", "measured"}, {"basis", "STREAM triad"}}}}}};

  Result stream = make_result(
      "micro/stream device=cpu dtype=fp64 kernel=triad n=1000000 seed=0 tag=<x&y> threads=2", "cpu",
      2e6, 24e6, 2.5e9, "fp64");
  stream.compute_ceiling = theoretical(117e9);
  stream.bound = Bound{Verdict::kMemory, "93% of the bandwidth roof"};
  doc.results.push_back(stream);

  Result gemm = make_result("micro/gemm device=cpu dtype=fp32 k=1024 m=1024 n=1024 seed=0", "cpu",
                            2147483648.0, 12582912.0, 188e9, "fp32");
  gemm.compute_ceiling = theoretical(234e9);
  gemm.bound = Bound{Verdict::kCompute, "94% of the compute roof"};
  doc.results.push_back(gemm);

  doc.results.push_back(make_result("micro/noby device=cpu", "cpu", 1e6, 0, 1e9, "fp32"));

  Result failed = make_result("micro/gemm device=cpu dtype=fp32 k=8 m=8 n=8 seed=0", "cpu", 1024,
                              768, 0, "fp32");
  failed.status = Status::kFailed;
  failed.reason = "correctness check failed: error 1 exceeds tolerance 1e-4";
  doc.results.push_back(failed);

  Result gpu = make_result("micro/gemm device=cuda:0 dtype=bf16 k=1000 m=1000 n=1000 seed=0",
                           "cuda:0", 2e9, 2e7, 400e12, "bf16");
  gpu.compute_ceiling = theoretical(989e12);
  gpu.bandwidth_ceiling = Ceiling{3.35e12, "theoretical", "2 x clock x bus"};
  doc.results.push_back(gpu);
  return doc;
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

/// Checks that tags nest and close, and that every '&' starts one of XML's five entities.
void expect_well_formed(const std::string& svg) {
  ASSERT_EQ(svg.rfind("<svg", 0), 0u) << svg.substr(0, 80);
  EXPECT_EQ(count(svg, "<svg"), 1u);
  EXPECT_EQ(count(svg, "</svg>"), 1u);
  std::vector<std::string> open;
  for (size_t at = svg.find('<'); at != std::string::npos; at = svg.find('<', at + 1)) {
    size_t end = svg.find('>', at);
    ASSERT_NE(end, std::string::npos) << "unclosed tag at " << at;
    std::string tag = svg.substr(at + 1, end - at - 1);
    ASSERT_EQ(tag.find('<'), std::string::npos) << "'<' inside a tag: " << tag;
    if (tag.back() == '/') continue;  // self-closing
    if (tag.front() == '/') {
      ASSERT_FALSE(open.empty()) << "</" << tag << "> closes nothing";
      EXPECT_EQ(open.back(), tag.substr(1)) << "at " << at;
      open.pop_back();
    } else {
      open.push_back(tag.substr(0, tag.find_first_of(" \n")));
    }
  }
  EXPECT_TRUE(open.empty()) << open.size() << " unclosed, first " << open.front();
  std::regex entity("^&(amp|lt|gt|quot|apos);");
  for (size_t at = svg.find('&'); at != std::string::npos; at = svg.find('&', at + 1)) {
    EXPECT_TRUE(std::regex_search(svg.substr(at, 8), entity)) << svg.substr(at, 20);
  }
}

/// The <line> element whose tooltip starts with `label`.
std::string roof_element(const std::string& svg, const std::string& label) {
  size_t title = svg.find("<title>" + label);
  if (title == std::string::npos) return "";
  size_t start = svg.rfind("<line", title);
  return svg.substr(start, title - start);
}

struct Label {
  double x, y;
  std::string text;
};

/// The point labels (bold, centred numbers) of a chart.
std::vector<Label> point_labels(const std::string& svg) {
  std::regex pattern(
      "<text x=\"([0-9.]+)\" y=\"([0-9.]+)\" font-size=\"11\" font-weight=\"bold\" "
      "text-anchor=\"middle\"[^>]*>([0-9]+)</text>");
  std::vector<Label> labels;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), pattern);
       it != std::sregex_iterator(); ++it) {
    labels.push_back({std::stod((*it)[1]), std::stod((*it)[2]), (*it)[3]});
  }
  return labels;
}

TEST(RooflinePoints, PlacesCountedPassedResultsAndSaysWhyOthersAreLeftOut) {
  std::vector<RooflinePoint> points = roofline_points(sample_document(), "");
  ASSERT_EQ(points.size(), 5u);
  for (size_t i = 0; i < points.size(); ++i) EXPECT_EQ(points[i].index, i + 1);

  EXPECT_TRUE(points[0].plotted) << points[0].excluded;
  EXPECT_NEAR(points[0].intensity, 0.083333, 1e-5);
  EXPECT_DOUBLE_EQ(points[0].flops, 2.5e9);
  EXPECT_EQ(points[0].verdict, "memory");
  EXPECT_EQ(points[0].device, "cpu");

  EXPECT_TRUE(points[1].plotted) << points[1].excluded;
  EXPECT_NEAR(points[1].intensity, 170.667, 1e-3);
  EXPECT_EQ(points[1].verdict, "compute");

  EXPECT_FALSE(points[2].plotted);
  EXPECT_EQ(points[2].excluded, "no bytes counted (FLOPs only)");
  EXPECT_FALSE(points[3].plotted);
  EXPECT_EQ(points[3].excluded,
            "status FAILED: correctness check failed: error 1 exceeds tolerance 1e-4");
  EXPECT_FALSE(points[4].plotted);
  EXPECT_EQ(points[4].excluded, "ran on cuda:0; this chart shows cpu");
}

TEST(RooflinePoints, MeasuredContextCeilingsWinOverTheResultsOwn) {
  std::vector<RooflinePoint> points = roofline_points(sample_document(), "");
  // GEMM fp32: measured 200 GFLOP/s roof; 170.667 x 32 GB/s = 5461 GFLOP/s is far above it.
  ASSERT_TRUE(points[1].compute);
  EXPECT_EQ(points[1].compute->source, "measured");
  EXPECT_DOUBLE_EQ(points[1].compute->value, 200e9);
  EXPECT_EQ(points[1].limit, "compute");
  EXPECT_NEAR(points[1].pct_of_roof, 94.0, 1e-9);  // 188 / 200
  // STREAM fp64: no measured fp64 compute ceiling, so the result's theoretical 117 GFLOP/s;
  // the memory roof 32e9 / 12 = 2.667 GFLOP/s is lower and applies: 2.5 / 2.667 = 93.75%.
  ASSERT_TRUE(points[0].compute);
  EXPECT_EQ(points[0].compute->source, "theoretical");
  ASSERT_TRUE(points[0].bandwidth);
  EXPECT_EQ(points[0].bandwidth->source, "measured");
  EXPECT_EQ(points[0].limit, "memory");
  EXPECT_NEAR(points[0].attainable, 32e9 / 12, 1);
  EXPECT_NEAR(points[0].pct_of_roof, 93.75, 1e-9);
}

TEST(RooflinePoints, WithoutMeasuredCeilingsTheResultsOwnAreUsed) {
  ResultsDocument doc = sample_document();
  doc.context.erase("measured_ceilings");
  std::vector<RooflinePoint> points = roofline_points(doc, "");
  ASSERT_TRUE(points[1].compute);
  EXPECT_EQ(points[1].compute->source, "theoretical");
  EXPECT_DOUBLE_EQ(points[1].compute->value, 234e9);
  EXPECT_FALSE(points[0].bandwidth);
  EXPECT_EQ(points[0].limit, "compute");  // no bandwidth roof known: only the compute roof
}

TEST(RooflinePoints, DeviceFilterPicksTheOtherDevice) {
  std::vector<RooflinePoint> points = roofline_points(sample_document(), "cuda:0");
  EXPECT_TRUE(points[4].plotted) << points[4].excluded;
  EXPECT_DOUBLE_EQ(points[4].intensity, 100);
  EXPECT_EQ(points[0].excluded, "ran on cpu; this chart shows cuda:0");
  // 100 FLOP/B x 3.35 TB/s = 335 TFLOP/s is below the 989 TFLOP/s roof: memory roof applies.
  EXPECT_EQ(points[4].limit, "memory");
  EXPECT_NEAR(points[4].attainable, 335e12, 1e3);
}

TEST(RooflineSvg, IsWellFormedEscapedAndLabelled) {
  RooflineOptions options;
  options.source = "results/test.json";
  std::string svg = roofline_svg(sample_document(), options);
  expect_well_formed(svg);
  EXPECT_NE(svg.find("Roofline: testhost | Test CPU 9000 (2 cores)"), std::string::npos);
  EXPECT_NE(svg.find("fp32 measured 200 GFLOP/s"), std::string::npos);
  EXPECT_NE(svg.find("fp32 theoretical 234 GFLOP/s"), std::string::npos);
  EXPECT_NE(svg.find("fp64 theoretical 117 GFLOP/s"), std::string::npos);
  EXPECT_NE(svg.find("bandwidth measured 32.0 GB/s"), std::string::npos);
  EXPECT_NE(svg.find("2 of 5 results plotted"), std::string::npos);
  // Axis decades in SI.
  for (const char* tick : {">1 G<", ">10 G<", ">100 G<", ">0.01<", ">1000<"}) {
    EXPECT_NE(svg.find(tick), std::string::npos) << tick;
  }
  // The repro with '<' and '&' is escaped everywhere (table and tooltip).
  EXPECT_EQ(svg.find("<x&y>"), std::string::npos);
  EXPECT_GE(count(svg, "tag=&lt;x&amp;y&gt;"), 2u);
  // Not-plotted results are listed with their reason.
  EXPECT_NE(svg.find("not plotted"), std::string::npos);
  EXPECT_NE(svg.find("no bytes counted (FLOPs only)"), std::string::npos);
  EXPECT_NE(svg.find("status FAILED: correctness check failed"), std::string::npos);
  EXPECT_NE(svg.find("ran on cuda:0; this chart shows cpu"), std::string::npos);
  // Point labels 1 and 2, nothing else.
  std::vector<Label> labels = point_labels(svg);
  ASSERT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels[0].text, "1");
  EXPECT_EQ(labels[1].text, "2");
}

TEST(RooflineSvg, MeasuredRoofsAreSolidTheoreticalOnesDashed) {
  std::string svg = roofline_svg(sample_document());
  std::string measured = roof_element(svg, "fp32 measured 200 GFLOP/s");
  std::string bandwidth = roof_element(svg, "bandwidth measured 32.0 GB/s");
  std::string theoretical = roof_element(svg, "fp32 theoretical 234 GFLOP/s");
  ASSERT_FALSE(measured.empty());
  ASSERT_FALSE(bandwidth.empty());
  ASSERT_FALSE(theoretical.empty());
  EXPECT_EQ(measured.find("stroke-dasharray"), std::string::npos) << measured;
  EXPECT_EQ(bandwidth.find("stroke-dasharray"), std::string::npos) << bandwidth;
  EXPECT_NE(theoretical.find("stroke-dasharray"), std::string::npos) << theoretical;
  // The ceiling basis travels in the tooltip.
  EXPECT_NE(svg.find("fp32 measured 200 GFLOP/s: GEMM 4096^3"), std::string::npos);
}

TEST(RooflineSvg, TitleOverrideAndOtherDevice) {
  RooflineOptions options;
  options.title = "GPU & friends";
  options.device = "cuda:0";
  std::string svg = roofline_svg(sample_document(), options);
  expect_well_formed(svg);
  EXPECT_NE(svg.find("GPU &amp; friends"), std::string::npos);
  EXPECT_NE(svg.find("bf16 theoretical 989 TFLOP/s"), std::string::npos);
  EXPECT_NE(svg.find("bandwidth theoretical 3.35 TB/s"), std::string::npos);
  EXPECT_NE(svg.find("1 of 5 results plotted"), std::string::npos);
  options.title.clear();
  EXPECT_NE(roofline_svg(sample_document(), options).find("Test GPU (cuda:0)"), std::string::npos);
}

TEST(RooflineSvg, NothingToPlotIsAnError) {
  ResultsDocument doc = sample_document();
  doc.results = {doc.results[2], doc.results[3]};  // no bytes; FAILED
  RooflineOptions options;
  options.source = "results/x.json";
  try {
    roofline_svg(doc, options);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "no result in results/x.json has both FLOPs and bytes counted: nothing to "
                 "place on a roofline");
  }
  options.device = "cuda:7";
  try {
    roofline_svg(sample_document(), options);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("on device cuda:7"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ran on: cpu, cuda:0"), std::string::npos) << e.what();
  }
}

TEST(RooflineSvg, RendersTheCommittedExampleWithLegibleLabels) {
  const std::string path = DLBENCH_SOURCE_DIR "/docs/examples/quick-epyc-2core-2026-11-21.json";
  std::string svg = roofline_svg_file(path);
  expect_well_formed(svg);
  std::ofstream("/tmp/roofline-example.svg") << svg;

  std::vector<RooflinePoint> points = roofline_points(ResultsDocument::load(path), "");
  size_t plotted = 0;
  for (const auto& p : points) plotted += p.plotted;
  EXPECT_EQ(plotted, 12u);  // all 13 PASSED; STREAM copy (#9) counts no FLOPs
  EXPECT_EQ(points[8].excluded, "no FLOPs counted (bytes only)");
  EXPECT_NE(svg.find("Roofline: vm | AMD EPYC (2 cores)"), std::string::npos);
  EXPECT_NE(svg.find("fp32 theoretical 234 GFLOP/s"), std::string::npos);
  EXPECT_NE(svg.find("bf16 theoretical 468 GFLOP/s"), std::string::npos);
  EXPECT_NE(svg.find("fp64 theoretical 117 GFLOP/s"), std::string::npos);

  // Every point has its number, and no two numbers overlap (estimated glyph boxes: 11 px bold
  // digits are at most ~7.3 px wide and ~8 px tall).
  std::vector<Label> labels = point_labels(svg);
  ASSERT_EQ(labels.size(), 12u);
  for (size_t i = 0; i < labels.size(); ++i) {
    for (size_t j = i + 1; j < labels.size(); ++j) {
      double half_widths = 3.65 * (labels[i].text.size() + labels[j].text.size());
      bool apart = std::fabs(labels[i].x - labels[j].x) >= half_widths ||
                   std::fabs(labels[i].y - labels[j].y) >= 8;
      EXPECT_TRUE(apart) << "labels " << labels[i].text << " and " << labels[j].text << " overlap";
    }
  }
}

TEST(RooflineSvg, ExampleWithMeasuredCeilingsDrawsTheSlopeAndRidges) {
  ResultsDocument doc =
      ResultsDocument::load(DLBENCH_SOURCE_DIR "/docs/examples/quick-epyc-2core-2026-11-21.json");
  // Ceilings as `dlbench peak` would record them (figures made up for the test), and verdicts.
  doc.context["measured_ceilings"] = {
      {"cpu",
       {{"threads", 2},
        {"compute",
         {{"fp32", {{"flops", 205e9}, {"source", "measured"}, {"basis", "GEMM"}}},
          {"fp64", {{"flops", 95e9}, {"source", "measured"}, {"basis", "GEMM"}}},
          {"bf16", {{"flops", 420e9}, {"source", "measured"}, {"basis", "GEMM"}}}}},
        {"bandwidth", {{"bytes_per_s", 34e9}, {"source", "measured"}, {"basis", "triad"}}}}}};
  for (size_t i = 0; i < doc.results.size(); ++i) {
    doc.results[i].bound = Bound{i < 6   ? Verdict::kCompute
                                 : i < 8 ? Verdict::kLatency
                                         : Verdict::kMemory,
                                 ""};
  }
  std::string svg = roofline_svg(doc);
  expect_well_formed(svg);
  std::ofstream("/tmp/roofline-example-measured.svg") << svg;
  EXPECT_NE(svg.find("bandwidth measured 34.0 GB/s"), std::string::npos);
  EXPECT_NE(svg.find("fp32 measured 205 GFLOP/s"), std::string::npos);
  EXPECT_NE(svg.find("fp32 theoretical 234 GFLOP/s"), std::string::npos);
  // STREAM triad fp64 (#12): 1/12 FLOP/B x 34 GB/s = 2.833 GFLOP/s roof; 2.814 achieved = 99.3%.
  std::vector<RooflinePoint> points = roofline_points(doc, "");
  EXPECT_EQ(points[11].limit, "memory");
  EXPECT_NEAR(points[11].pct_of_roof, 99.3, 0.1);
  EXPECT_EQ(point_labels(svg).size(), 12u);
}

}  // namespace
}  // namespace dlbench
