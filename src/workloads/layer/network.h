// Layer benchmarks (AI Matrix's "layer-based" level): a real network described layer by layer
// with its real shapes, as parts (problems of the micro workloads) that the harness measures one
// by one and sums. See docs/workloads/layers.md.
//
// NetBuilder tracks the activation shape (c, h, w) of one image and appends layers; a network
// file (alexnet.cc, vgg16.cc, googlenet.cc, resnet50.cc) only lists its layers. NetworkWorkload
// is the shared composite: parameters batch, pass (fwd|fwdbwd), dtype, layout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/registry.h"
#include "core/workload.h"

namespace dlbench::layer {

/// The activation shape of one image: channels, height, width.
struct Shape {
  int64_t c = 0, h = 0, w = 0;
  int64_t elements() const { return c * h * w; }
};

/// What every part inherits from the composite's problem.
struct NetOptions {
  int64_t batch = 16;
  bool backward = false;  ///< pass=fwdbwd: a training step (forward + backward)
  std::string dtype = "fp32";
  std::string layout = "nchw";
  /// The common parameters (device, threads, seed), copied into every part's problem.
  std::vector<std::pair<std::string, std::string>> common;
};

/// Appends the layers of a network and turns them into parts.
///
/// Forward parts come in layer order. With options.backward, the backward parts follow in
/// reverse layer order (the order a training step runs them):
///   conv -> micro/conv pass=bwd_data + pass=bwd_weight (no bwd_data for a layer whose input
///           needs no gradient: the first weighted layer, whose input is the image);
///   fc   -> micro/gemm grad_input (m=batch n=in k=out) + grad_weight (m=out n=in k=batch,
///           transa=t);
///   pool, norm, activation, softmax -> their micro workload with pass=bwd;
///   add (residual) -> none: its gradient passes through unchanged;
///   concat -> none: its gradient is a set of channel slices (views);
///   fork (a tensor read by several layers) -> (consumers - 1) micro/elementwise op=add that
///           sum the gradients arriving from the consumers.
class NetBuilder {
 public:
  NetBuilder(NetOptions options, Shape input);

  const Shape& shape() const { return shape_; }
  /// Restarts from `shape` (an Inception branch starts from the block's input).
  void set_shape(const Shape& shape) { shape_ = shape; }

  /// k filters of r x s, square stride and padding, groups. Output: floor((h + 2 pad - r) /
  /// stride) + 1, like every framework's convolution.
  void conv(const std::string& name, int64_t k, int64_t r, int64_t s, int64_t stride, int64_t pad,
            int64_t groups = 1);
  void relu(const std::string& name);
  /// Square window, stride and padding; output floor((h + 2 pad - kernel) / stride) + 1
  /// (micro/pool floors: a network that pools with ceil_mode gets the pad that gives the same
  /// output size, see googlenet.cc).
  void maxpool(const std::string& name, int64_t kernel, int64_t stride, int64_t pad);
  void avgpool(const std::string& name, int64_t kernel, int64_t stride, int64_t pad);
  /// Batch norm: inference statistics (train=false) for pass=fwd, batch statistics
  /// (train=true) for pass=fwdbwd.
  void batchnorm(const std::string& name);
  /// Local response normalisation across `size` channels.
  void lrn(const std::string& name, int64_t size);
  /// Fully connected: flattens the activation (c h w inputs) to `out` outputs.
  void fc(const std::string& name, int64_t out);
  /// Residual add of two tensors of the current shape.
  void add(const std::string& name);
  /// The current activation is read by `consumers` layers (a ResNet block input: 2; an
  /// Inception block input: 4). No forward part; backward: the gradient sum.
  void fork(const std::string& name, int consumers);
  /// Concatenates branch outputs along channels (they must agree on h and w); modelled as one
  /// copy of the output (micro/stream kernel=copy), as torch.cat / Caffe's Concat do.
  void concat(const std::string& name, const std::vector<Shape>& branches);
  /// Softmax over the classes (the current c h w) of each image.
  void softmax(const std::string& name);

  /// Forward layers by kind ("conv" -> 13), in the order kinds first appear.
  const std::vector<std::pair<std::string, int>>& layer_counts() const { return layer_counts_; }

  /// The parts after the last layer: forward parts then the backward parts in reverse order.
  std::vector<Part> finish() const;

 private:
  struct Layer {
    std::vector<Part> forward, backward;
  };
  Problem problem(const std::string& workload,
                  std::vector<std::pair<std::string, std::string>> params) const;
  Part part(const std::string& name, const std::string& kind, Problem problem,
            const std::string& pass) const;
  void add_layer(const std::string& kind, Layer layer);
  void pool(const std::string& name, const std::string& type, int64_t kernel, int64_t stride,
            int64_t pad);

  NetOptions options_;
  Shape shape_;
  bool input_needs_grad_ = false;  ///< false until the first weighted layer
  std::vector<Layer> layers_;
  std::vector<std::pair<std::string, int>> layer_counts_;
};

/// Merges parts with the same problem string and pass into one part whose count is the sum,
/// named after the first ("res3b_branch2a +2 more"), in order of first appearance.
std::vector<Part> merge_parts(const std::vector<Part>& parts);

/// The network a composite describes.
struct NetworkSpec {
  std::string title;   ///< "ResNet-50 v1.5"
  std::string source;  ///< where the layer list comes from
  Shape input;         ///< one image
  std::string notes;   ///< what is left out
};

/// The shared composite of the layer/... workloads.
class NetworkWorkload : public CompositeWorkload {
 public:
  explicit NetworkWorkload(const Problem& problem);

  /// The WorkloadInfo of a network composite: category "layer", params batch, pass, dtype,
  /// layout.
  static WorkloadInfo network_info(const std::string& name, const std::string& description);

  double samples() const override { return static_cast<double>(options_.batch); }
  std::string sample_unit() const override { return "images"; }
  std::string dtype() const override { return options_.dtype; }
  std::vector<Part> parts() const override { return merge_parts(unmerged_parts()); }
  Description describe() const override;

  /// Every layer pass as its own part (count 1), before merging.
  std::vector<Part> unmerged_parts() const;

 protected:
  virtual NetworkSpec spec() const = 0;
  virtual void build(NetBuilder& builder) const = 0;

 private:
  NetBuilder built() const;
  NetOptions options_;
};

}  // namespace dlbench::layer
