// model/ewa: extreme weather analytics, the object-detection benchmark of HPC AI500 (Jiang et
// al., "HPC AI500: A Benchmark Suite for HPC AI Systems", Bench 2018): Faster R-CNN on the
// ExtremeWeather dataset (Racah et al., "ExtremeWeather: A large-scale climate dataset for
// semi-supervised detection, localization, and understanding of extreme weather events", NIPS
// 2017): 16-channel 768 x 1152 climate fields, 4 event classes. The network is model/faster_rcnn's
// (faster_rcnn.h) with 16 input channels. FLOPs: see docs/workloads/ewa.md.
#include "core/registry.h"
#include "workloads/model/vision/faster_rcnn.h"

namespace dlbench::model {
namespace {

class EwaModel : public FasterRcnnModel {
 public:
  static FasterRcnnSpec spec() {
    FasterRcnnSpec s = scaled_down_spec();
    s.name = "model/ewa";
    s.title = "Extreme weather analytics: Faster R-CNN R-50-C4";
    s.input_kind = "climate fields";
    s.sample_unit = "fields";
    s.classes_note =
        "ExtremeWeather: tropical depression, tropical cyclone, extratropical cyclone, "
        "atmospheric river + background";
    s.preset_source =
        "HPC AI500 extreme weather analytics: the ExtremeWeather fields at full resolution "
        "(16 x 768 x 1152), 4 classes; Detectron R-50-C4 training settings (1 image per GPU, "
        "12000/2000 and 6000/1000 proposals, 512 RoIs)";
    s.in_channels = 16;
    for (FasterRcnnPreset* p : {&s.tiny, &s.small, &s.full}) p->classes = 4;
    s.tiny.height = 64;
    s.tiny.width = 96;
    // More RPN candidates before NMS than model/faster_rcnn's tiny preset.
    s.tiny.pre_nms_train = 96;
    s.tiny.pre_nms_test = 96;
    s.small.height = 192;
    s.small.width = 288;
    s.full.height = 768;
    s.full.width = 1152;
    return s;
  }
  static WorkloadInfo info() {
    return model_info(spec().name,
                      "HPC AI500 extreme weather analytics: Faster R-CNN (R-50-C4) on 16-channel "
                      "768x1152 climate fields, 4 event classes",
                      faster_rcnn_params(spec()));
  }
  explicit EwaModel(const Problem& problem) : FasterRcnnModel(problem, spec()) {}
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(EwaModel);

}  // namespace dlbench::model
