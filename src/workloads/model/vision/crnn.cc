// model/crnn: CRNN scene-text recognition (AI Matrix vision). Shi, Bai, Yao, "An End-to-End
// Trainable Neural Network for Image-based Sequence Recognition and Its Application to Scene Text
// Recognition", TPAMI 2017 (arXiv:1507.05717), Table 4: a 7-conv VGG-style feature extractor on
// 32 x W grayscale images, map-to-sequence, two bidirectional LSTMs of 256 units, CTC loss,
// ADADELTA (rho 0.9) training and best-path (greedy) CTC decoding at inference.
// FLOPs: crnn_flops below, documented in docs/workloads/crnn.md.
#include <fmt/core.h>
#include <torch/torch.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "nn/adadelta.h"
#include "nn/quality_metrics.h"
#include "workloads/common/image_sets.h"
#include "workloads/model/model.h"
#include "workloads/model/vision/ctc.h"

namespace dlbench::model {

std::vector<std::vector<int64_t>> ctc_greedy_decode(const torch::Tensor& scores, int64_t blank) {
  torch::Tensor best = scores.argmax(2).to(torch::kCPU).to(torch::kLong).contiguous();  // [T, B]
  const int64_t frames = best.size(0);
  const int64_t batch = best.size(1);
  auto a = best.accessor<int64_t, 2>();
  std::vector<std::vector<int64_t>> labels(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    int64_t previous = blank;
    for (int64_t t = 0; t < frames; ++t) {
      int64_t c = a[t][b];
      if (c != blank && c != previous) labels[static_cast<size_t>(b)].push_back(c);
      previous = c;
    }
  }
  return labels;
}

namespace {

constexpr int64_t kImageHeight = 32;  // the conv stack reduces exactly 32 rows to 1
constexpr int64_t kBlank = 0;         // CTC blank is class 0; characters are 1..classes-1

/// The shapes CRNN's layers see for a 32 x width input.
struct CrnnShape {
  int64_t width;    ///< conv widths: {w, 2w, 4w, 4w, 8w, 8w, 8w} (paper: w = 64)
  int64_t hidden;   ///< LSTM units per direction (paper: 256)
  int64_t classes;  ///< output classes including the blank (paper: 37)
  int64_t image_width;

  /// Frames of the output sequence: W/2, /2, then two (2x2, stride (2,1), pad (0,1)) pools that
  /// each add a column, and the final 2x2 valid conv that removes one: floor(W/4) + 1.
  int64_t frames() const { return image_width / 4 + 1; }
};

/// Analytic FLOPs of one sample (2 per MAC). `first` is conv1's share (it gets no data gradient).
struct CrnnFlops {
  double forward = 0;
  double first = 0;
};

CrnnFlops crnn_flops(const CrnnShape& s) {
  const double w = static_cast<double>(s.width);
  const double h = static_cast<double>(s.hidden);
  const double t = static_cast<double>(s.frames());
  const double w1 = static_cast<double>(s.image_width);      // after conv1, conv2 input /2
  const double w2 = static_cast<double>(s.image_width / 2);  // after pool1
  const double w3 = static_cast<double>(s.image_width / 4);  // after pool2
  const double w4 = w3 + 1;                                  // after pool3
  auto conv = [](double c_out, double hh, double ww, double c_in, double k) {
    return 2 * c_out * hh * ww * c_in * k * k;
  };
  CrnnFlops f;
  f.first = conv(w, 32, w1, 1, 3);
  double convs = f.first + conv(2 * w, 16, w2, w, 3) + conv(4 * w, 8, w3, 2 * w, 3) +
                 conv(4 * w, 8, w3, 4 * w, 3) + conv(8 * w, 4, w4, 4 * w, 3) +
                 conv(8 * w, 4, w4, 8 * w, 3) + conv(8 * w, 1, t, 8 * w, 2);
  // Bidirectional LSTM: 2 directions x 4 gates x hidden x (input + hidden) MACs per frame.
  auto blstm = [&](double in) { return 2 * t * 2 * 4 * h * (in + h); };
  double recurrent = blstm(8 * w) + 2 * t * (2 * h) * h +  // BiLSTM 1 + its 2h -> h projection
                     blstm(h) + 2 * t * (2 * h) * static_cast<double>(s.classes);
  f.forward = convs + recurrent;
  return f;
}

/// One bidirectional LSTM layer followed by the linear map of both directions' outputs (the
/// `BiRnnJoin` of the authors' Torch code): [T, B, in] -> [T, B, out].
struct BidirectionalLstmImpl : torch::nn::Module {
  BidirectionalLstmImpl(int64_t in, int64_t hidden, int64_t out)
      : lstm(register_module(
            "lstm", torch::nn::LSTM(torch::nn::LSTMOptions(in, hidden).bidirectional(true)))),
        embed(register_module("embed", torch::nn::Linear(2 * hidden, out))) {}

  torch::Tensor forward(const torch::Tensor& x) {
    // LibTorch 1.13 CPU autocast leaves the LSTM out of its cast lists: feed it fp32 so its
    // input matches its fp32 weights (the projection after it is autocast again).
    torch::Tensor y = counted(lstm, x.to(torch::kFloat));
    return counted(embed, y);
  }

  torch::nn::LSTM lstm;
  torch::nn::Linear embed;
};
TORCH_MODULE(BidirectionalLstm);

/// CRNN, Shi et al. Table 4.
struct CrnnImpl : torch::nn::Module {
  explicit CrnnImpl(const CrnnShape& s) {
    const int64_t w = s.width;
    const std::vector<int64_t> channels = {w, 2 * w, 4 * w, 4 * w, 8 * w, 8 * w, 8 * w};
    int64_t in = 1;
    for (size_t i = 0; i < channels.size(); ++i) {
      const bool last = i + 1 == channels.size();
      convs.push_back(register_module(
          "conv" + std::to_string(i + 1),
          torch::nn::Conv2d(
              torch::nn::Conv2dOptions(in, channels[i], last ? 2 : 3).padding(last ? 0 : 1))));
      in = channels[i];
    }
    bn5 = register_module("bn5", torch::nn::BatchNorm2d(channels[4]));
    bn6 = register_module("bn6", torch::nn::BatchNorm2d(channels[5]));
    rnn1 = register_module("rnn1", BidirectionalLstm(8 * w, s.hidden, s.hidden));
    rnn2 = register_module("rnn2", BidirectionalLstm(s.hidden, s.hidden, s.classes));
  }

  /// Images [B, 1, 32, W] -> per-frame class scores [T, B, classes].
  torch::Tensor forward(const torch::Tensor& images) {
    namespace F = torch::nn::functional;
    const auto square = F::MaxPool2dFuncOptions(2).stride(2);
    // The authors' code pools 2x2 with stride (2, 1) and one column of padding on each side:
    // height halves, width grows by one (the paper's "1 x 2" windows).
    const auto tall = F::MaxPool2dFuncOptions({2, 2}).stride({2, 1}).padding({0, 1});
    torch::Tensor x = torch::relu(counted(convs[0], images));
    x = F::max_pool2d(x, square);
    x = F::max_pool2d(torch::relu(counted(convs[1], x)), square);
    x = torch::relu(counted(convs[2], x));
    x = F::max_pool2d(torch::relu(counted(convs[3], x)), tall);
    x = torch::relu(bn5(counted(convs[4], x)));
    x = F::max_pool2d(torch::relu(bn6(counted(convs[5], x))), tall);
    x = torch::relu(counted(convs[6], x));  // [B, C, 1, T]
    // Map-to-sequence: each column is one frame.
    torch::Tensor sequence = x.squeeze(2).permute({2, 0, 1}).contiguous();  // [T, B, C]
    return rnn2(rnn1(sequence));
  }

  std::vector<torch::nn::Conv2d> convs;
  torch::nn::BatchNorm2d bn5{nullptr}, bn6{nullptr};
  BidirectionalLstm rnn1{nullptr}, rnn2{nullptr};
};
TORCH_MODULE(Crnn);

class CrnnModel : public ModelWorkload {
 public:
  static WorkloadInfo info() {
    return quality_model_info(
        "model/crnn",
        "CRNN text recognition (Shi et al. 2017): VGG-style convs, 2 BiLSTMs, CTC loss, "
        "ADADELTA training, greedy CTC decoding",
        {ParamSpec::integer("image_width", 0,
                            "input width in pixels, height is 32 (0: preset: 100 / 100 / 100)", 0),
         ParamSpec::integer("width", 0,
                            "channels of conv1; convs use 1,2,4,4,8,8,8 x width "
                            "(0: preset: 8 / 64 / 64)",
                            0),
         ParamSpec::integer("hidden", 0, "LSTM units per direction (0: preset: 32 / 256 / 256)", 0),
         ParamSpec::integer("classes", 0, "output classes including the CTC blank (0: preset: 37)",
                            0),
         ParamSpec::integer("max_label", 0,
                            "longest generated label (0: half the output frames; digit strings "
                            "of mode=quality or input=loader: 6)",
                            0),
         ParamSpec::choice("dataset", "mnist", {"mnist", "generated"},
                           "mode=quality / input=loader: text lines of real MNIST digits "
                           "(`dlbench data fetch mnist`) or of the generated 10-class patterns")});
  }

  explicit CrnnModel(const Problem& problem)
      : ModelWorkload(problem), dataset_(problem.get("dataset")) {
    shape_.image_width = param_or("image_width", 100);
    shape_.width = param_or("width", task_data_ ? by_size<int64_t>(size_, 8, 16, 64)
                                                : by_size<int64_t>(size_, 8, 64, 64));
    shape_.hidden = param_or("hidden", task_data_ ? by_size<int64_t>(size_, 32, 64, 256)
                                                  : by_size<int64_t>(size_, 32, 256, 256));
    // Digit strings: 10 digits and the CTC blank.
    shape_.classes = param_or("classes", task_data_ ? 11 : 37);
    if (task_data_ && shape_.classes != 11) {
      throw Error("model/crnn: digit strings have 10 characters and the blank: classes=11");
    }
    if (shape_.image_width < 8) throw Error("model/crnn: image_width must be at least 8");
    if (shape_.classes < 2) throw Error("model/crnn: classes must include the blank and one more");
    max_label_ = param_or("max_label", task_data_ ? std::min<int64_t>(6, shape_.frames() / 2)
                                                  : std::max<int64_t>(1, shape_.frames() / 2));
    // CTC needs a frame per label plus a blank between equal neighbours: 2L - 1 <= T is always
    // feasible.
    if (2 * max_label_ - 1 > shape_.frames()) {
      throw Error(
          fmt::format("model/crnn: max_label {} does not fit {} output frames for CTC "
                      "(need 2 max_label - 1 <= frames)",
                      max_label_, shape_.frames()));
    }
  }

  Flops analytic_flops() const override {
    CrnnFlops f = crnn_flops(shape_);
    return {f.forward, 3 * f.forward - f.first};
  }

  ModelFacts model_facts() const override {
    ModelFacts f;
    f.summary = fmt::format(
        "CRNN, 32x{} grayscale input, conv width {}, BiLSTM {} x 2, {} "
        "classes, {} frames",
        shape_.image_width, shape_.width, shape_.hidden, shape_.classes, shape_.frames());
    f.sample_unit = "text images";
    f.preset_batch = task_data_ ? PresetBatch{8, 32, 64} : PresetBatch{4, 8, 64};
    f.optimizer = "ADADELTA, rho 0.9, eps 1e-6, lr 1 (Shi et al. 2017; Zeiler 2012)";
    f.published_parameters = PublishedCount{
        8.3e6, 0.01,
        "Shi et al. 2017 (arXiv:1507.05717), model-size column of the method comparison: 8.3 M"};
    return f;
  }

 protected:
  std::vector<std::pair<std::string, std::string>> facts() const override {
    const long long w = shape_.width;
    return {
        {"input", fmt::format("1 x 32 x {}", shape_.image_width)},
        {"convolutions", fmt::format("3x3: {}, {}, {}, {}, {} (BN), {} (BN); 2x2: "
                                     "{}; max pools 2x2, 2x2, 2x2/(2,1), 2x2/(2,1)",
                                     w, 2 * w, 4 * w, 4 * w, 8 * w, 8 * w, 8 * w)},
        {"sequence", fmt::format("{} frames x {} features", shape_.frames(), 8 * w)},
        {"recurrent", fmt::format("2 bidirectional LSTMs, {} units, each followed by a linear "
                                  "map of both directions (to {}, then {} classes)",
                                  shape_.hidden, shape_.hidden, shape_.classes)},
        {"labels", task_data_ ? fmt::format("digit strings of length 1..{}, classes 1..10 = digits "
                                            "0..9 (0 = blank)",
                                            max_label_)
                              : fmt::format("random, length 1..{}, classes 1..{} (0 = blank)",
                                            max_label_, shape_.classes - 1)},
        {"loss", "CTC (mean over the batch of per-label-length-normalised losses)"},
        {"inference",
         "best-path (greedy) CTC decoding: argmax per frame, repeats collapsed, "
         "blanks dropped"}};
  }

  void build() override { crnn_ = net().register_module("crnn", Crnn(shape_)); }

  void make_batch() override {
    const int64_t b = batch();
    auto on_device = torch::device(device());
    images_ = to_format(torch::rand({b, 1, kImageHeight, shape_.image_width}, on_device) * 2 - 1);
    target_lengths_ = torch::randint(1, max_label_ + 1, {b}, torch::dtype(torch::kLong));
    // Padded targets [B, max_label]; entries past a sequence's length are ignored by CTC.
    targets_ = torch::randint(1, shape_.classes, {b, max_label_}, torch::dtype(torch::kLong));
    input_lengths_ = torch::full({b}, shape_.frames(), torch::dtype(torch::kLong));
    targets_ = targets_.to(device());
    target_lengths_ = target_lengths_.to(device());
    input_lengths_ = input_lengths_.to(device());
  }

  std::unique_ptr<torch::optim::Optimizer> make_optimizer() override {
    return std::make_unique<nn::Adadelta>(net().parameters(), nn::AdadeltaOptions(1.0).rho(0.9));
  }

  torch::Tensor training_loss() override {
    torch::Tensor log_probs = torch::log_softmax(crnn_->forward(images_).to(torch::kFloat), 2);
    return torch::ctc_loss(log_probs, targets_, input_lengths_, target_lengths_, kBlank,
                           at::Reduction::Mean, /*zero_infinity=*/true);
  }

  torch::Tensor inference() override {
    torch::Tensor log_probs = torch::log_softmax(crnn_->forward(images_).to(torch::kFloat), 2);
    decoded_ = ctc_greedy_decode(log_probs, kBlank);
    // The best path's log-probability per sequence: what the check scans for NaN/Inf.
    return std::get<0>(log_probs.max(2)).sum(0);
  }

  // --- Quality: reading digit strings written with real digits; sequence accuracy ---
  std::optional<QualitySpec> quality_spec() const override {
    QualitySpec spec;
    spec.task = "text recognition (digit strings)";
    spec.dataset = fmt::format(
        "32 x {} text lines of 1-{} {} digits (exact transcripts): {} train from the "
        "train digits, {} held out from the test digits",
        shape_.image_width, max_label_, dataset_ == "mnist" ? "MNIST" : "generated-pattern",
        lines(true), lines(false));
    spec.metric = "sequence_accuracy";
    spec.unit = "%";
    spec.higher_is_better = true;
    spec.target = by_size(size_, 30.0, 80.0, 97.0);
    spec.target_source =
        size_ == Size::kFull
            ? "dlbench: per-digit accuracy near MNIST's 99.5% makes a 1-6 digit string right "
              "about 97% of the time"
            : "dlbench's CPU bar for CRNN on digit strings (docs/workloads/crnn.md)";
    spec.eval_every_epochs = 0.5;
    spec.max_epochs = by_size(size_, 4.0, 10.0, 20.0);
    spec.eval_batch_size = 200;
    return spec;
  }

  std::pair<std::shared_ptr<const data::BatchSource>, std::shared_ptr<const data::BatchSource>>
  quality_data() override {
    auto digits = [&](bool train) {
      return dataset_ == "mnist" ? common::load_image_set("mnist", train)
                                 : common::generated_image_set(train ? 4096 : 1024, train, 0);
    };
    return {std::make_shared<common::DigitStringSource>(digits(true), shape_.image_width,
                                                        max_label_, lines(true), 1),
            std::make_shared<common::DigitStringSource>(digits(false), shape_.image_width,
                                                        max_label_, lines(false), 2)};
  }

  void use_batch(const data::Batch& batch) override {
    images_ = to_format(batch.tensors.at(0).to(device()));
    targets_ = batch.tensors.at(1).to(device());
    target_lengths_ = batch.tensors.at(2).to(device());
    input_lengths_ =
        torch::full({batch.size}, shape_.frames(), torch::dtype(torch::kLong).device(device()));
  }

  void begin_scoring() override { accuracy_ = nn::SequenceAccuracy(); }
  void score_batch(const data::Batch& batch) override {
    torch::Tensor scores = crnn_->forward(to_format(batch.tensors.at(0).to(device())));
    accuracy_.add(ctc_greedy_decode(scores.to(torch::kFloat), kBlank), batch.tensors.at(1),
                  batch.tensors.at(2));
  }
  double scored_quality() override { return accuracy_.value(); }

 private:
  /// Text lines per split.
  int64_t lines(bool train) const {
    return train ? by_size<int64_t>(size_, 512, 20000, 60000)
                 : by_size<int64_t>(size_, 200, 1000, 2000);
  }

  std::string dataset_;
  nn::SequenceAccuracy accuracy_;
  CrnnShape shape_{};
  int64_t max_label_ = 1;
  Crnn crnn_{nullptr};
  torch::Tensor images_, targets_, target_lengths_, input_lengths_;
  std::vector<std::vector<int64_t>> decoded_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(CrnnModel);

}  // namespace dlbench::model
