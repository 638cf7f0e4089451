// model/resnet50: ResNet-50 v1.5 image classification (AI Matrix vision, MLPerf Training,
// HPC AI500's image classification), also depth 18/34/101/152, trained with SGD + momentum on
// cross-entropy as He et al. (2015) do. FLOPs: resnet_flops (resnet.h); a training step is 3x
// forward less the stem's data gradient. See docs/workloads/resnet50.md.
#include <fmt/core.h>
#include <map>

#include "core/registry.h"
#include "core/strings.h"
#include "workloads/model/vision/resnet.h"

namespace dlbench::model {
namespace {

ResNetConfig resnet50_config(const Problem& problem) {
  ResNetConfig config;
  config.depth = problem.get_int("depth");
  config.width = preset_param(problem, "width", 16, 64, 64);
  config.classes = preset_param(problem, "classes", 10, 1000, 1000);
  return config;
}

class ResNetModel : public ResNetClassifier {
 public:
  static WorkloadInfo info() {
    return model_info(
        "model/resnet50",
        "ResNet-50 v1.5 image classification (depth 18/34/50/101/152), SGD momentum training",
        {ParamSpec::choice("depth", "50", {"18", "34", "50", "101", "152"},
                           "layers (He et al. 2015, Table 1)"),
         ParamSpec::integer("image", 0, "input height = width (0: preset: 32 / 128 / 224)", 0),
         ParamSpec::integer("width", 0, "stem channels (0: preset: 16 / 64 / 64)", 0),
         ParamSpec::integer("classes", 0, "classes (0: preset: 10 / 1000 / 1000)", 0)});
  }

  explicit ResNetModel(const Problem& problem)
      : ResNetClassifier(problem, resnet50_config(problem),
                         preset_param(problem, "image", 32, 128, 224)) {}

  ModelFacts model_facts() const override {
    ModelFacts f;
    f.summary = fmt::format("ResNet-{} v1.5, {}x{} RGB input, {} classes", config_.depth, image_,
                            image_, config_.classes);
    f.preset_batch = {2, 8, 256};
    f.optimizer = sgd_optimizer_name();
    // torchvision's model table (IMAGENET1K_V1 weights): 1000 classes, width 64.
    const std::map<int64_t, double> table = {
        {18, 11689512}, {34, 21797672}, {50, 25557032}, {101, 44549160}, {152, 60192808}};
    f.published_parameters =
        PublishedCount{table.at(config_.depth), 0.0005,
                       "torchvision.models.resnet" + std::to_string(config_.depth) +
                           " documentation; He et al. 2015 give 25.6 M for ResNet-50"};
    return f;
  }
};

DLBENCH_REGISTER_WORKLOAD(ResNetModel);

}  // namespace
}  // namespace dlbench::model
