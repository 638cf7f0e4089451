// layer/alexnet: AlexNet (Krizhevsky, Sutskever, Hinton 2012) layer by layer, as in Caffe's
// bvlc_alexnet: 227x227 input, 96-256-384-384-256 filters, the two-GPU grouping (groups=2 on
// conv2, conv4, conv5), LRN after relu1 and relu2, 3x3/2 max pools, fc6-fc8. Dropout is not
// modelled. See docs/workloads/layers.md.
#include "workloads/layer/network.h"

namespace dlbench::layer {
namespace {

class AlexNet : public NetworkWorkload {
 public:
  using NetworkWorkload::NetworkWorkload;
  static WorkloadInfo info() {
    return network_info("layer/alexnet",
                        "AlexNet (original, with LRN and grouped convs) layer by layer: 5 conv, "
                        "3 fc");
  }

 protected:
  NetworkSpec spec() const override {
    return {"AlexNet (Krizhevsky 2012, Caffe bvlc_alexnet)",
            "Krizhevsky et al., NIPS 2012; Caffe models/bvlc_alexnet/deploy.prototxt",
            {3, 227, 227},
            "dropout (after fc6, fc7), biases, concat: none"};
  }

  void build(NetBuilder& b) const override {
    b.conv("conv1", 96, 11, 11, 4, 0);  // 3x227x227 -> 96x55x55
    b.relu("relu1");
    b.lrn("norm1", 5);
    b.maxpool("pool1", 3, 2, 0);          // -> 96x27x27
    b.conv("conv2", 256, 5, 5, 1, 2, 2);  // -> 256x27x27
    b.relu("relu2");
    b.lrn("norm2", 5);
    b.maxpool("pool2", 3, 2, 0);  // -> 256x13x13
    b.conv("conv3", 384, 3, 3, 1, 1);
    b.relu("relu3");
    b.conv("conv4", 384, 3, 3, 1, 1, 2);
    b.relu("relu4");
    b.conv("conv5", 256, 3, 3, 1, 1, 2);
    b.relu("relu5");
    b.maxpool("pool5", 3, 2, 0);  // -> 256x6x6 = 9216
    b.fc("fc6", 4096);
    b.relu("relu6");
    b.fc("fc7", 4096);
    b.relu("relu7");
    b.fc("fc8", 1000);
    b.softmax("prob");
  }
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(AlexNet);

}  // namespace dlbench::layer
