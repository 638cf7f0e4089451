// layer/resnet50: ResNet-50 v1.5 (torchvision's resnet50) layer by layer: 224x224 input, 7x7/2
// stem conv and 3x3/2 max pool, 3-4-6-3 bottleneck blocks (1x1, 3x3, 1x1 convs, each followed by
// batch norm) with the stride of a downsampling block on its 3x3 conv (v1.5; the v1 of He et
// al. 2015 strides the first 1x1), projection shortcuts (1x1 conv + batch norm) on the first
// block of each stage, residual add then ReLU, global average pool, fc. Layer names follow the
// Caffe release of ResNet-50 (res3b_branch2a...). See docs/workloads/layers.md.
#include "workloads/layer/network.h"

#include <string>

namespace dlbench::layer {
namespace {

void bottleneck(NetBuilder& b, const std::string& id, int64_t width, int64_t stride,
                bool projection) {
  const std::string res = "res" + id, bn = "bn" + id;
  const Shape in = b.shape();
  b.fork(res + "_input", 2);
  b.conv(res + "_branch2a", width, 1, 1, 1, 0);
  b.batchnorm(bn + "_branch2a");
  b.relu(res + "_branch2a_relu");
  b.conv(res + "_branch2b", width, 3, 3, stride, 1);
  b.batchnorm(bn + "_branch2b");
  b.relu(res + "_branch2b_relu");
  b.conv(res + "_branch2c", 4 * width, 1, 1, 1, 0);
  b.batchnorm(bn + "_branch2c");
  const Shape out = b.shape();
  if (projection) {
    b.set_shape(in);
    b.conv(res + "_branch1", 4 * width, 1, 1, stride, 0);
    b.batchnorm(bn + "_branch1");
  }
  b.add(res);
  b.relu(res + "_relu");
  b.set_shape(out);
}

class ResNet50 : public NetworkWorkload {
 public:
  using NetworkWorkload::NetworkWorkload;
  static WorkloadInfo info() {
    return network_info("layer/resnet50",
                        "ResNet-50 v1.5 (torchvision) layer by layer: 53 conv + batch norm, 16 "
                        "residual adds, 1 fc");
  }

 protected:
  NetworkSpec spec() const override {
    return {"ResNet-50 v1.5 (torchvision)",
            "He et al., arXiv:1512.03385, Table 1 (50-layer); torchvision models/resnet.py "
            "(stride on the 3x3 conv)",
            {3, 224, 224},
            "concat, dropout: none in the network"};
  }

  void build(NetBuilder& b) const override {
    b.conv("conv1", 64, 7, 7, 2, 3);  // 3x224x224 -> 64x112x112
    b.batchnorm("bn_conv1");
    b.relu("conv1_relu");
    b.maxpool("pool1", 3, 2, 1);  // -> 64x56x56
    struct Stage {
      int number, blocks;
      int64_t width, stride;
    };
    for (Stage stage :
         {Stage{2, 3, 64, 1}, Stage{3, 4, 128, 2}, Stage{4, 6, 256, 2}, Stage{5, 3, 512, 2}}) {
      for (int i = 0; i < stage.blocks; ++i) {
        std::string id = std::to_string(stage.number) + static_cast<char>('a' + i);
        bottleneck(b, id, stage.width, i == 0 ? stage.stride : 1, i == 0);
      }
    }
    b.avgpool("pool5", 7, 1, 0);  // 2048x7x7 -> 2048x1x1
    b.fc("fc1000", 1000);
    b.softmax("prob");
  }
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(ResNet50);

}  // namespace dlbench::layer
