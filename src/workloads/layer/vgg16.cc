// layer/vgg16: VGG-16 (Simonyan & Zisserman 2014, configuration D) layer by layer: 224x224
// input, 13 3x3 convs in five stages of 64-128-256-512-512 filters, 2x2/2 max pools, fc6-fc8.
// Dropout is not modelled. See docs/workloads/layers.md.
#include "workloads/layer/network.h"

#include <string>

namespace dlbench::layer {
namespace {

class Vgg16 : public NetworkWorkload {
 public:
  using NetworkWorkload::NetworkWorkload;
  static WorkloadInfo info() {
    return network_info("layer/vgg16", "VGG-16 (configuration D) layer by layer: 13 conv, 3 fc");
  }

 protected:
  NetworkSpec spec() const override {
    return {"VGG-16 (configuration D)",
            "Simonyan & Zisserman, arXiv:1409.1556, Table 1 column D (= torchvision vgg16 "
            "without its identity adaptive pool)",
            {3, 224, 224},
            "dropout (after fc6, fc7), biases, concat: none"};
  }

  void build(NetBuilder& b) const override {
    const int stages[5][2] = {{64, 2}, {128, 2}, {256, 3}, {512, 3}, {512, 3}};
    for (int stage = 0; stage < 5; ++stage) {
      for (int i = 1; i <= stages[stage][1]; ++i) {
        std::string id = std::to_string(stage + 1) + "_" + std::to_string(i);
        b.conv("conv" + id, stages[stage][0], 3, 3, 1, 1);
        b.relu("relu" + id);
      }
      b.maxpool("pool" + std::to_string(stage + 1), 2, 2, 0);  // 224 -> 112 -> ... -> 7
    }
    b.fc("fc6", 4096);  // 512x7x7 = 25088 inputs
    b.relu("relu6");
    b.fc("fc7", 4096);
    b.relu("relu7");
    b.fc("fc8", 1000);
    b.softmax("prob");
  }
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(Vgg16);

}  // namespace dlbench::layer
