// The layer benchmarks (layer/alexnet, layer/vgg16, layer/googlenet, layer/resnet50): their parts
// have the real networks' structure and shapes. The parts are inspected, never resolved, so
// these tests do not depend on the micro workloads the parts name.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/registry.h"
#include "workloads/layer/network.h"

namespace dlbench {
namespace {

using layer::NetworkWorkload;

std::unique_ptr<Workload> make(const std::string& text) {
  return Registry::instance().create(Registry::instance().resolve(Problem::parse(text)));
}

std::vector<Part> parts_of(const std::string& text) { return make(text)->parts(); }

std::vector<Part> unmerged_of(const std::string& text) {
  auto workload = make(text);
  auto* network = dynamic_cast<NetworkWorkload*>(workload.get());
  EXPECT_NE(network, nullptr) << text;
  return network ? network->unmerged_parts() : std::vector<Part>{};
}

int64_t param(const Part& part, const std::string& key) {
  return std::stoll(part.problem.params.at(key));
}

/// Sum of counts of the parts of a kind (and pass, unless empty).
double count(const std::vector<Part>& parts, const std::string& kind,
             const std::string& pass = "fwd") {
  double total = 0;
  for (const Part& p : parts) {
    if (p.kind == kind && (pass.empty() || p.pass == pass)) total += p.count;
  }
  return total;
}

double count_norm(const std::vector<Part>& parts, const std::string& type) {
  double total = 0;
  for (const Part& p : parts) {
    if (p.kind == "norm" && p.pass == "fwd" && p.problem.params.at("type") == type) {
      total += p.count;
    }
  }
  return total;
}

const Part& find(const std::vector<Part>& parts, const std::string& name,
                 const std::string& pass = "fwd") {
  for (const Part& p : parts) {
    if ((p.name == name || p.name.rfind(name + " +", 0) == 0) && p.pass == pass) return p;
  }
  throw Error("no part " + name + " " + pass);
}

int64_t out_size(int64_t size, int64_t window, int64_t stride, int64_t pad) {
  return (size + 2 * pad - window) / stride + 1;
}

/// Forward multiply-accumulates of the conv and fc parts: conv n k p q (c / groups) r s, fc m n k.
double forward_macs(const std::vector<Part>& parts) {
  double macs = 0;
  for (const Part& p : parts) {
    if (p.pass != "fwd") continue;
    if (p.kind == "conv") {
      int64_t pp = out_size(param(p, "h"), param(p, "r"), param(p, "stride"), param(p, "pad"));
      int64_t q = out_size(param(p, "w"), param(p, "s"), param(p, "stride"), param(p, "pad"));
      macs += p.count * static_cast<double>(param(p, "n")) * param(p, "k") * pp * q *
              (param(p, "c") / param(p, "groups")) * param(p, "r") * param(p, "s");
    } else if (p.kind == "fc") {
      macs += p.count * static_cast<double>(param(p, "m")) * param(p, "n") * param(p, "k");
    }
  }
  return macs;
}

const char* const kNetworks[] = {"layer/alexnet", "layer/vgg16", "layer/googlenet",
                                 "layer/resnet50"};

TEST(LayerNetworks, AreRegisteredAsLayerComposites) {
  for (const char* name : kNetworks) {
    const WorkloadInfo& info = Registry::instance().info(name);
    EXPECT_EQ(info.category, "layer") << name;
    Problem p = Registry::instance().resolve(Problem::parse(name));
    EXPECT_EQ(p.get("batch"), "16");
    EXPECT_EQ(p.get("pass"), "fwd");
    EXPECT_EQ(p.get("dtype"), "fp32");
    EXPECT_EQ(p.get("layout"), "nchw");
  }
}

TEST(LayerNetworks, RejectBadParameters) {
  for (const char* bad : {"batch=0", "pass=bwd", "dtype=fp64", "layout=chwn", "m=3"}) {
    EXPECT_THROW(Registry::instance().resolve(Problem::parse(std::string("layer/vgg16 ") + bad)),
                 Error)
        << bad;
  }
}

TEST(ResNet50, ForwardStructure) {
  std::vector<Part> parts = parts_of("layer/resnet50 batch=2");
  // 1 stem conv + 16 blocks x 3 + 4 projection shortcuts = 53, each followed by a batch norm.
  EXPECT_DOUBLE_EQ(count(parts, "conv"), 53);
  EXPECT_DOUBLE_EQ(count_norm(parts, "batch"), 53);
  EXPECT_DOUBLE_EQ(count(parts, "elementwise"), 16);  // residual adds
  EXPECT_DOUBLE_EQ(count(parts, "activation"), 1 + 16 * 3);
  EXPECT_DOUBLE_EQ(count(parts, "pool"), 2);
  EXPECT_DOUBLE_EQ(count(parts, "fc"), 1);
  EXPECT_DOUBLE_EQ(count(parts, "concat"), 0);

  // v1.5: a downsampling block strides its 3x3 conv, not its first 1x1.
  EXPECT_EQ(param(find(parts, "res3a_branch2a"), "stride"), 1);
  EXPECT_EQ(param(find(parts, "res3a_branch2b"), "stride"), 2);
  EXPECT_EQ(param(find(parts, "res3a_branch1"), "stride"), 2);
  // res2a's projection (64 -> 256, 1x1, stride 1 at 56x56) has the shape of the branch2c of
  // res2a, res2b and res2c: one part counted 4 times.
  EXPECT_EQ(find(parts, "res2a_branch2c").name, "res2a_branch2c +3 more");
  EXPECT_DOUBLE_EQ(find(parts, "res2a_branch2c").count, 4);
  EXPECT_EQ(param(find(parts, "res2a_branch2c"), "c"), 64);

  // The last conv gives 2048 x 7 x 7, which the average pool reduces.
  // v1.5 strides the 3x3 conv, so res5a..res5c_branch2c are one part (512 -> 2048 at 7x7).
  const Part& last = find(parts, "res5a_branch2c");
  EXPECT_DOUBLE_EQ(last.count, 3);
  EXPECT_EQ(param(last, "k"), 2048);
  EXPECT_EQ(out_size(param(last, "h"), 1, 1, 0), 7);
  const Part& pool = find(parts, "pool5");
  EXPECT_EQ(param(pool, "c"), 2048);
  EXPECT_EQ(param(pool, "h"), 7);
  EXPECT_EQ(param(pool, "w"), 7);
  EXPECT_EQ(pool.problem.params.at("type"), "avg");

  const Part& fc = find(parts, "fc1000");
  EXPECT_EQ(fc.problem.workload, "micro/gemm");
  EXPECT_EQ(param(fc, "m"), 2);
  EXPECT_EQ(param(fc, "n"), 1000);
  EXPECT_EQ(param(fc, "k"), 2048);
  EXPECT_EQ(fc.problem.params.at("transa"), "n");
  EXPECT_EQ(fc.problem.params.at("transb"), "t");
  const Part& prob = find(parts, "prob");
  EXPECT_EQ(param(prob, "rows"), 2);
  EXPECT_EQ(param(prob, "cols"), 1000);

  // res4b..res4f are identical blocks: their 3x3 conv is one part counted 5 times.
  const Part& repeated = find(parts, "res4b_branch2b");
  EXPECT_EQ(repeated.name, "res4b_branch2b +4 more");
  EXPECT_DOUBLE_EQ(repeated.count, 5);
}

TEST(Vgg16, ForwardStructure) {
  std::vector<Part> parts = parts_of("layer/vgg16 batch=2");
  EXPECT_DOUBLE_EQ(count(parts, "conv"), 13);
  EXPECT_DOUBLE_EQ(count(parts, "fc"), 3);
  EXPECT_DOUBLE_EQ(count(parts, "pool"), 5);
  EXPECT_DOUBLE_EQ(count(parts, "activation"), 15);
  EXPECT_DOUBLE_EQ(count(parts, "norm"), 0);
  EXPECT_EQ(param(find(parts, "fc6"), "k"), 512 * 7 * 7);
  EXPECT_EQ(param(find(parts, "conv5_1"), "h"), 14);
  EXPECT_EQ(param(find(parts, "conv1_2"), "c"), 64);
}

TEST(AlexNet, ForwardStructure) {
  std::vector<Part> parts = parts_of("layer/alexnet batch=2");
  EXPECT_DOUBLE_EQ(count(parts, "conv"), 5);
  EXPECT_DOUBLE_EQ(count(parts, "fc"), 3);
  EXPECT_DOUBLE_EQ(count_norm(parts, "lrn"), 2);
  EXPECT_DOUBLE_EQ(count(parts, "pool"), 3);
  EXPECT_EQ(param(find(parts, "norm1"), "size"), 5);
  EXPECT_EQ(param(find(parts, "norm1"), "h"), 55);
  EXPECT_EQ(param(find(parts, "conv2"), "groups"), 2);
  EXPECT_EQ(param(find(parts, "conv2"), "h"), 27);
  EXPECT_EQ(param(find(parts, "conv3"), "groups"), 1);
  EXPECT_EQ(param(find(parts, "fc6"), "k"), 256 * 6 * 6);
}

TEST(GoogLeNet, ForwardStructure) {
  std::vector<Part> parts = parts_of("layer/googlenet batch=2");
  // Stem: conv1, conv2/3x3_reduce, conv2/3x3; 9 Inception modules of 6 convs each
  // (1x1, 3x3_reduce, 3x3, 5x5_reduce, 5x5, pool_proj): 3 + 54 = 57.
  EXPECT_DOUBLE_EQ(count(parts, "conv"), 57);
  EXPECT_DOUBLE_EQ(count(parts, "concat"), 9);
  EXPECT_DOUBLE_EQ(count_norm(parts, "lrn"), 2);
  EXPECT_DOUBLE_EQ(count(parts, "fc"), 1);
  // The ceil-mode pools reproduced with pad 1: 112 -> 56 -> 28 -> 14 -> 7.
  EXPECT_EQ(param(find(parts, "conv2/3x3_reduce"), "h"), 56);
  EXPECT_EQ(param(find(parts, "inception_3a/1x1"), "h"), 28);
  EXPECT_EQ(param(find(parts, "inception_4a/1x1"), "h"), 14);
  EXPECT_EQ(param(find(parts, "inception_5a/1x1"), "h"), 7);
  // Inception input channels: the sums of the previous module's branches.
  EXPECT_EQ(param(find(parts, "inception_3b/1x1"), "c"), 64 + 128 + 32 + 32);
  EXPECT_EQ(param(find(parts, "inception_4a/1x1"), "c"), 128 + 192 + 96 + 64);
  EXPECT_EQ(param(find(parts, "inception_5a/1x1"), "c"), 256 + 320 + 128 + 128);
  // Final 1024 x 7 x 7.
  const Part& pool = find(parts, "pool5/7x7_s1");
  EXPECT_EQ(param(pool, "c"), 1024);
  EXPECT_EQ(param(pool, "h"), 7);
  EXPECT_EQ(param(find(parts, "loss3/classifier"), "k"), 1024);
  // The 5b concat copies 2 x 1024 x 7 x 7 elements.
  EXPECT_EQ(param(find(parts, "inception_5b/output"), "n"), 2 * 1024 * 7 * 7);
}

// Forward multiply-accumulates at batch 1 (conv + fc only) against published figures:
// - ResNet-50 v1.5: 4.089 GMACs, torchvision ResNet50_Weights "_ops" (the "GFLOPS" column of
//   the torchvision model table counts multiply-adds); +-3%.
// - VGG-16: 15.47 GMACs, torchvision VGG16_Weights "_ops"; +-3%.
// - AlexNet (Caffe bvlc_alexnet, 227x227, grouped): 724 M MACs, Sze et al., "Efficient
//   Processing of Deep Neural Networks: A Tutorial and Survey", Proc. IEEE 2017, Table III
//   (convnet-burden lists 727 MFLOPs for alexnet 227x227); +-10%.
// - GoogLeNet: "1.5 billion multiply-adds" (Szegedy et al. 2014, section 1); Sze et al. give
//   1.43 G; +-10%.
TEST(LayerNetworks, ForwardMacsMatchPublishedFigures) {
  struct Case {
    const char* network;
    double published, tolerance;
  };
  for (Case c : {Case{"layer/resnet50", 4.089e9, 0.03}, Case{"layer/vgg16", 15.47e9, 0.03},
                 Case{"layer/alexnet", 0.724e9, 0.10}, Case{"layer/googlenet", 1.5e9, 0.10}}) {
    double macs = forward_macs(parts_of(std::string(c.network) + " batch=1"));
    EXPECT_NEAR(macs / c.published, 1.0, c.tolerance) << c.network << ": " << macs;
    // Linear in the batch.
    EXPECT_DOUBLE_EQ(forward_macs(parts_of(std::string(c.network) + " batch=3")), 3 * macs);
  }
}

TEST(LayerNetworks, FwdBwdAddsTheBackwardParts) {
  struct Case {
    const char* network;
    const char* first_conv;
    double convs, fcs, forks;
  };
  for (Case c : {Case{"layer/alexnet", "conv1", 5, 3, 0}, Case{"layer/vgg16", "conv1_1", 13, 3, 0},
                 Case{"layer/googlenet", "conv1/7x7_s2", 57, 1, 9 * 3},
                 Case{"layer/resnet50", "conv1", 53, 1, 16}}) {
    SCOPED_TRACE(c.network);
    std::vector<Part> fwd = parts_of(std::string(c.network) + " batch=2");
    std::vector<Part> parts = parts_of(std::string(c.network) + " batch=2 pass=fwdbwd");
    EXPECT_DOUBLE_EQ(count(parts, "conv", "fwd"), c.convs);
    EXPECT_DOUBLE_EQ(count(parts, "conv", "bwd_weight"), c.convs);
    EXPECT_DOUBLE_EQ(count(parts, "conv", "bwd_data"), c.convs - 1);  // not for the image
    EXPECT_THROW(find(parts, c.first_conv, "bwd_data"), Error);
    EXPECT_EQ(find(parts, c.first_conv, "bwd_weight").problem.params.at("pass"), "bwd_weight");
    EXPECT_DOUBLE_EQ(count(parts, "fc", "bwd_data"), c.fcs);
    EXPECT_DOUBLE_EQ(count(parts, "fc", "bwd_weight"), c.fcs);
    for (const char* kind : {"pool", "norm", "activation", "softmax"}) {
      EXPECT_DOUBLE_EQ(count(parts, kind, "bwd"), count(fwd, kind, "fwd")) << kind;
    }
    // Residual adds and concats have no backward part; forks sum their consumers' gradients.
    EXPECT_DOUBLE_EQ(count(parts, "elementwise", "bwd"), c.forks);
    EXPECT_DOUBLE_EQ(count(parts, "concat", ""), count(fwd, "concat", "fwd"));
    // Every part's problem carries the pass of the part (gemm and the element-wise ones have
    // no pass parameter).
    for (const Part& p : parts) {
      auto it = p.problem.params.find("pass");
      if (it != p.problem.params.end()) {
        EXPECT_EQ(it->second, p.pass) << p.name;
      }
    }
    // Forward parts come first, then the backward ones.
    bool seen_backward = false;
    for (const Part& p : parts) {
      if (p.pass != "fwd") seen_backward = true;
      if (seen_backward) {
        EXPECT_NE(p.pass, "fwd") << p.name;
      }
    }
  }
}

TEST(ResNet50, FcBackwardGemms) {
  std::vector<Part> parts = parts_of("layer/resnet50 batch=2 pass=fwdbwd");
  const Part& grad_input = find(parts, "fc1000", "bwd_data");  // [2,1000] x W[1000,2048]
  EXPECT_EQ(param(grad_input, "m"), 2);
  EXPECT_EQ(param(grad_input, "n"), 2048);
  EXPECT_EQ(param(grad_input, "k"), 1000);
  EXPECT_EQ(grad_input.problem.params.at("transa"), "n");
  EXPECT_EQ(grad_input.problem.params.at("transb"), "n");
  const Part& grad_weight = find(parts, "fc1000", "bwd_weight");  // grad_y^T x
  EXPECT_EQ(param(grad_weight, "m"), 1000);
  EXPECT_EQ(param(grad_weight, "n"), 2048);
  EXPECT_EQ(param(grad_weight, "k"), 2);
  EXPECT_EQ(grad_weight.problem.params.at("transa"), "t");
  EXPECT_EQ(grad_weight.problem.params.at("transb"), "n");
  // Batch norm uses batch statistics in a training step, running ones for inference.
  EXPECT_EQ(find(parts, "bn_conv1").problem.params.at("train"), "true");
  EXPECT_EQ(find(parts_of("layer/resnet50 batch=2"), "bn_conv1").problem.params.at("train"),
            "false");
}

TEST(LayerNetworks, MergedCountsAddUpToTheLayerPasses) {
  for (const char* network : kNetworks) {
    for (const char* pass : {"fwd", "fwdbwd"}) {
      std::string text = std::string(network) + " batch=2 pass=" + pass;
      std::vector<Part> merged = parts_of(text);
      std::vector<Part> all = unmerged_of(text);
      double total = 0;
      std::map<std::string, double> per_kind_merged, per_kind_all;
      for (const Part& p : merged) {
        total += p.count;
        per_kind_merged[p.kind + p.pass] += p.count;
      }
      for (const Part& p : all) {
        EXPECT_DOUBLE_EQ(p.count, 1);
        per_kind_all[p.kind + p.pass] += 1;
      }
      EXPECT_DOUBLE_EQ(total, static_cast<double>(all.size())) << text;
      EXPECT_EQ(per_kind_merged, per_kind_all) << text;
      EXPECT_LE(merged.size(), all.size());
      // Merged parts are distinct.
      for (size_t i = 0; i < merged.size(); ++i) {
        for (size_t j = i + 1; j < merged.size(); ++j) {
          EXPECT_FALSE(merged[i].problem == merged[j].problem && merged[i].pass == merged[j].pass)
              << merged[i].name << " / " << merged[j].name;
        }
      }
    }
  }
  // ResNet-50 repeats blocks: far fewer parts than layers.
  EXPECT_LT(parts_of("layer/resnet50").size(), unmerged_of("layer/resnet50").size() / 2);
}

TEST(LayerNetworks, MergeKeepsFirstNameAndOrder) {
  auto part = [](const char* name, const char* problem, const char* pass) {
    Part p;
    p.name = name;
    p.kind = "conv";
    p.problem = Problem::parse(problem);
    p.pass = pass;
    return p;
  };
  std::vector<Part> merged =
      layer::merge_parts({part("a", "micro/conv n=1", "fwd"), part("b", "micro/conv n=2", "fwd"),
                          part("c", "micro/conv n=1", "fwd"), part("d", "micro/conv n=1", "bwd"),
                          part("e", "micro/conv n=1", "fwd")});
  ASSERT_EQ(merged.size(), 3u);
  EXPECT_EQ(merged[0].name, "a +2 more");
  EXPECT_DOUBLE_EQ(merged[0].count, 3);
  EXPECT_EQ(merged[1].name, "b");
  EXPECT_DOUBLE_EQ(merged[1].count, 1);
  EXPECT_EQ(merged[2].name, "d");
  EXPECT_EQ(merged[2].pass, "bwd");
}

TEST(LayerNetworks, ParametersPropagateToEveryPart) {
  for (const char* network : kNetworks) {
    std::string text =
        std::string(network) + " batch=3 pass=fwdbwd dtype=bf16 layout=nhwc threads=1 seed=7";
    for (const Part& p : parts_of(text)) {
      SCOPED_TRACE(std::string(network) + " " + p.name);
      const auto& params = p.problem.params;
      EXPECT_EQ(params.at("dtype"), "bf16");
      EXPECT_EQ(params.at("seed"), "7");
      EXPECT_EQ(params.at("threads"), "1");
      EXPECT_EQ(params.at("device"), "cpu");
      bool spatial = p.kind == "conv" || p.kind == "pool";
      EXPECT_EQ(params.count("layout"), spatial ? 1u : 0u);
      if (spatial) {
        EXPECT_EQ(params.at("layout"), "nhwc");
      }
      if (spatial || p.kind == "norm") {
        EXPECT_EQ(param(p, "n"), 3);
      }
      if (p.kind == "activation" || p.kind == "elementwise") {
        EXPECT_EQ(param(p, "elements") % 3, 0);
      }
      if (p.kind == "softmax") {
        EXPECT_EQ(param(p, "rows"), 3);
      }
      if (p.kind == "fc") {
        EXPECT_EQ(param(p, p.pass == "bwd_weight" ? "k" : "m"), 3);
      }
    }
  }
}

TEST(LayerNetworks, WorkloadsAndKindsAreTheAgreedOnes) {
  const std::map<std::string, std::string> workload_of = {{"conv", "micro/conv"},
                                                          {"fc", "micro/gemm"},
                                                          {"pool", "micro/pool"},
                                                          {"norm", "micro/norm"},
                                                          {"activation", "micro/activation"},
                                                          {"softmax", "micro/softmax"},
                                                          {"elementwise", "micro/elementwise"},
                                                          {"concat", "micro/stream"}};
  for (const char* network : kNetworks) {
    auto workload = make(std::string(network) + " pass=fwdbwd");
    for (const Part& p : workload->parts()) {
      ASSERT_TRUE(workload_of.count(p.kind)) << p.kind;
      EXPECT_EQ(p.problem.workload, workload_of.at(p.kind)) << p.name;
    }
  }
}

TEST(LayerNetworks, DescribeCountsLayersAndParts) {
  auto workload = make("layer/resnet50 batch=2");
  Description d = workload->describe();
  EXPECT_NE(d.summary.find("ResNet-50"), std::string::npos);
  EXPECT_NE(d.summary.find("53 conv"), std::string::npos) << d.summary;
  std::map<std::string, std::string> facts(d.facts.begin(), d.facts.end());
  EXPECT_EQ(facts.at("parts").substr(0, facts.at("parts").find(' ')),
            std::to_string(workload->parts().size()));
  EXPECT_TRUE(facts.count("distinct problems"));
  EXPECT_NE(facts.at("parts by kind").find("conv fwd 53"), std::string::npos)
      << facts.at("parts by kind");
  auto* network = dynamic_cast<NetworkWorkload*>(workload.get());
  ASSERT_NE(network, nullptr);
  EXPECT_DOUBLE_EQ(network->samples(), 2);
  EXPECT_EQ(network->sample_unit(), "images");
  EXPECT_EQ(network->dtype(), "fp32");
}

}  // namespace
}  // namespace dlbench
