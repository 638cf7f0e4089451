// layer/googlenet: GoogLeNet / Inception v1 (Szegedy et al. 2014, Table 1) layer by layer, as in
// Caffe's bvlc_googlenet: 224x224 input, the stem with its two LRNs, nine Inception modules with
// 1x1 / 3x3 / 5x5 / pool-projection branches, average pool, one fc. The auxiliary classifiers
// (training only) and dropout are not modelled. See docs/workloads/layers.md.
//
// Pool shapes: Caffe (and torchvision's ceil_mode=True) round the stride-2 max pools' output
// size up; micro/pool rounds down. With pad=1, floor((h + 2 - 3) / 2) + 1 equals
// ceil((h - 3) / 2) + 1 for every stem/reduction pool here (112->56, 56->28, 28->14, 14->7): the
// same number of 3x3 windows, the first one shifted by a pixel.
#include "workloads/layer/network.h"

#include <string>

namespace dlbench::layer {
namespace {

struct Inception {
  const char* name;
  int64_t b1, b3_reduce, b3, b5_reduce, b5, pool_proj;
};

void inception(NetBuilder& b, const Inception& m) {
  const std::string p = std::string("inception_") + m.name + "/";
  const Shape in = b.shape();
  b.fork(p + "input", 4);
  std::vector<Shape> outs;
  b.conv(p + "1x1", m.b1, 1, 1, 1, 0);
  b.relu(p + "relu_1x1");
  outs.push_back(b.shape());
  b.set_shape(in);
  b.conv(p + "3x3_reduce", m.b3_reduce, 1, 1, 1, 0);
  b.relu(p + "relu_3x3_reduce");
  b.conv(p + "3x3", m.b3, 3, 3, 1, 1);
  b.relu(p + "relu_3x3");
  outs.push_back(b.shape());
  b.set_shape(in);
  b.conv(p + "5x5_reduce", m.b5_reduce, 1, 1, 1, 0);
  b.relu(p + "relu_5x5_reduce");
  b.conv(p + "5x5", m.b5, 5, 5, 1, 2);
  b.relu(p + "relu_5x5");
  outs.push_back(b.shape());
  b.set_shape(in);
  b.maxpool(p + "pool", 3, 1, 1);
  b.conv(p + "pool_proj", m.pool_proj, 1, 1, 1, 0);
  b.relu(p + "relu_pool_proj");
  outs.push_back(b.shape());
  b.concat(p + "output", outs);
}

class GoogLeNet : public NetworkWorkload {
 public:
  using NetworkWorkload::NetworkWorkload;
  static WorkloadInfo info() {
    return network_info("layer/googlenet",
                        "GoogLeNet / Inception v1 layer by layer: 57 conv in a stem and 9 "
                        "Inception modules, 1 fc");
  }

 protected:
  NetworkSpec spec() const override {
    return {"GoogLeNet (Inception v1)",
            "Szegedy et al., arXiv:1409.4842, Table 1; Caffe models/bvlc_googlenet",
            {3, 224, 224},
            "auxiliary classifiers, dropout, biases; stride-2 max pools use pad 1 instead of "
            "ceil mode (same output sizes)"};
  }

  void build(NetBuilder& b) const override {
    b.conv("conv1/7x7_s2", 64, 7, 7, 2, 3);  // 3x224x224 -> 64x112x112
    b.relu("conv1/relu_7x7");
    b.maxpool("pool1/3x3_s2", 3, 2, 1);  // -> 56x56
    b.lrn("pool1/norm1", 5);
    b.conv("conv2/3x3_reduce", 64, 1, 1, 1, 0);
    b.relu("conv2/relu_3x3_reduce");
    b.conv("conv2/3x3", 192, 3, 3, 1, 1);
    b.relu("conv2/relu_3x3");
    b.lrn("conv2/norm2", 5);
    b.maxpool("pool2/3x3_s2", 3, 2, 1);                 // -> 192x28x28
    inception(b, {"3a", 64, 96, 128, 16, 32, 32});      // -> 256
    inception(b, {"3b", 128, 128, 192, 32, 96, 64});    // -> 480
    b.maxpool("pool3/3x3_s2", 3, 2, 1);                 // -> 14x14
    inception(b, {"4a", 192, 96, 208, 16, 48, 64});     // -> 512
    inception(b, {"4b", 160, 112, 224, 24, 64, 64});    // -> 512
    inception(b, {"4c", 128, 128, 256, 24, 64, 64});    // -> 512
    inception(b, {"4d", 112, 144, 288, 32, 64, 64});    // -> 528
    inception(b, {"4e", 256, 160, 320, 32, 128, 128});  // -> 832
    b.maxpool("pool4/3x3_s2", 3, 2, 1);                 // -> 7x7
    inception(b, {"5a", 256, 160, 320, 32, 128, 128});  // -> 832
    inception(b, {"5b", 384, 192, 384, 48, 128, 128});  // -> 1024x7x7
    b.avgpool("pool5/7x7_s1", 7, 1, 0);                 // -> 1024x1x1
    b.fc("loss3/classifier", 1000);
    b.softmax("prob");
  }
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(GoogLeNet);

}  // namespace dlbench::layer
