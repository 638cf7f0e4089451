// model/transformer: the Transformer of Vaswani, Shazeer, Parmar, Uszkoreit, Jones, Gomez,
// Kaiser, Polosukhin, "Attention Is All You Need", NeurIPS 2017 (arXiv:1706.03762), base model
// for translation: 6 + 6 post-LN layers, d_model 512, 8 heads, FFN 2048, dropout 0.1, one shared
// source/target vocabulary (37000 BPE tokens in the paper's EN-DE) whose embedding is also the
// pre-softmax projection, label smoothing 0.1, Adam (0.9, 0.98, 1e-9). Training is teacher-forced
// on generated padded pairs; inference encodes once and decodes autoregressively (greedy or beam
// search with length penalty 0.6) for a fixed number of steps.
// FLOPs: TransformerModel::analytic_flops, documented in docs/workloads/transformer.md.
#include <fmt/core.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "workloads/model/model.h"
#include "workloads/model/nlp/attention_blocks.h"

namespace dlbench::model {
namespace {

using nlp::SpecialTokens;

constexpr int64_t kFirstWord = 3;  // 0 PAD, 1 BOS, 2 EOS, then the BPE tokens
constexpr double kLabelSmoothing = 0.1;
constexpr double kLengthPenalty = 0.6;
constexpr double kWarmupSteps = 4000;

/// The configuration of one problem.
struct TransformerShape {
  int64_t vocab = 37000;
  int64_t d_model = 512;
  int64_t heads = 8;
  int64_t ffn = 2048;
  int64_t layers = 6;  ///< encoder layers = decoder layers
  int64_t seq = 64;    ///< padded source length = padded target length
  int64_t extra = 50;  ///< inference decodes seq + extra tokens
  int64_t beam = 1;    ///< 1: greedy
  double dropout = 0.1;

  int64_t decode_steps() const { return seq + extra; }
};

/// The encoder-decoder with one shared embedding (also the output projection).
struct TransformerImpl : torch::nn::Module {
  explicit TransformerImpl(const TransformerShape& s) : shape(s) {
    embedding = register_module(
        "embedding",
        torch::nn::Embedding(
            torch::nn::EmbeddingOptions(s.vocab, s.d_model).padding_idx(SpecialTokens{}.pad)));
    {
      // Shared input/output embeddings start at N(0, d^-1/2) (tensor2tensor, fairseq), so the
      // logits of the tied projection start near unit scale.
      torch::NoGradGuard no_grad;
      embedding->weight.normal_(0, std::pow(static_cast<double>(s.d_model), -0.5));
      embedding->weight[SpecialTokens{}.pad].zero_();
    }
    nlp::LayerOptions o;
    o.d_model = s.d_model;
    o.heads = s.heads;
    o.ffn = s.ffn;
    o.dropout = s.dropout;
    o.fused_qkv = true;
    for (int64_t i = 0; i < s.layers; ++i) {
      encoder.push_back(register_module("encoder" + std::to_string(i), nlp::EncoderLayer(o)));
      decoder.push_back(register_module("decoder" + std::to_string(i), nlp::DecoderLayer(o)));
    }
    dropout = register_module("dropout", torch::nn::Dropout(s.dropout));
    positions = register_buffer(
        "positions", nlp::sinusoidal_positions(std::max(s.seq, s.decode_steps() + 1), s.d_model));
  }

  /// Token embeddings x sqrt(d) plus positions, then dropout: [B, T] -> [B, T, D].
  torch::Tensor embed(const torch::Tensor& tokens) {
    const int64_t length = tokens.size(1);
    torch::Tensor x = embedding(tokens) * std::sqrt(static_cast<double>(shape.d_model));
    return dropout(x + positions.narrow(0, 0, length).unsqueeze(0));
  }

  /// src [B, S], its padding mask -> memory [B, S, D].
  torch::Tensor encode(const torch::Tensor& src, const torch::Tensor& src_mask) {
    torch::Tensor x = embed(src);
    for (auto& layer : encoder) x = layer(x, src_mask);
    return x;
  }

  /// Decoder input [B, T] over memory -> hidden states [B, T, D].
  torch::Tensor decode(const torch::Tensor& tgt, const torch::Tensor& memory,
                       const torch::Tensor& self_mask, const torch::Tensor& memory_mask) {
    torch::Tensor x = embed(tgt);
    for (auto& layer : decoder) x = layer(x, memory, self_mask, memory_mask);
    return x;
  }

  /// The pre-softmax projection with the shared embedding matrix: [.., D] -> [.., V].
  torch::Tensor logits(const torch::Tensor& hidden) {
    return counted_matmul(hidden, embedding->weight.t());
  }

  TransformerShape shape;
  torch::nn::Embedding embedding{nullptr};
  std::vector<nlp::EncoderLayer> encoder;
  std::vector<nlp::DecoderLayer> decoder;
  torch::nn::Dropout dropout{nullptr};
  torch::Tensor positions;
};
TORCH_MODULE(Transformer);

class TransformerModel : public nlp::TranslationWorkload {
 public:
  static WorkloadInfo info() {
    return model_info(
        "model/transformer",
        "Transformer base (Vaswani et al. 2017) for translation: 6+6 post-LN layers, shared "
        "tied embedding, label smoothing, Adam; greedy or beam-search decoding",
        {ParamSpec::integer("vocab", 0, "shared vocabulary (0: preset: 64 / 8000 / 37000)", 0),
         ParamSpec::integer("d_model", 0, "model width (0: preset: 32 / 256 / 512)", 0),
         ParamSpec::integer("heads", 0, "attention heads (0: preset: 4 / 4 / 8)", 0),
         ParamSpec::integer("ffn", 0, "feed-forward width (0: preset: 64 / 1024 / 2048)", 0),
         ParamSpec::integer("layers", 0, "encoder layers = decoder layers (0: preset: 2 / 3 / 6)",
                            0),
         ParamSpec::integer(
             "seq", 0, "padded source and target length in tokens (0: preset: 10 / 32 / 64)", 0),
         ParamSpec::integer("extra_len", 0,
                            "inference decodes seq + extra_len tokens (0: preset: 2 / 8 / 50)", 0),
         ParamSpec::choice("decode", "greedy", {"greedy", "beam"},
                           "inference search: greedy, or beam search with length penalty 0.6"),
         ParamSpec::integer("beam", 4, "beam size for decode=beam (the paper: 4)", 1)});
  }

  explicit TransformerModel(const Problem& problem) : TranslationWorkload(problem) {
    shape_.vocab = param_or("vocab", by_size<int64_t>(size_, 64, 8000, 37000));
    shape_.d_model = param_or("d_model", by_size<int64_t>(size_, 32, 256, 512));
    shape_.heads = param_or("heads", by_size<int64_t>(size_, 4, 4, 8));
    shape_.ffn = param_or("ffn", by_size<int64_t>(size_, 64, 1024, 2048));
    shape_.layers = param_or("layers", by_size<int64_t>(size_, 2, 3, 6));
    shape_.seq = param_or("seq", by_size<int64_t>(size_, 10, 32, 64));
    shape_.extra = param_or("extra_len", by_size<int64_t>(size_, 2, 8, 50));
    shape_.beam = beam_search_ ? problem.get_int("beam") : 1;
    if (shape_.d_model % shape_.heads != 0) {
      throw Error("model/transformer: d_model must be a multiple of heads");
    }
    if (shape_.seq < 2) throw Error("model/transformer: seq must be at least 2");
    if (shape_.vocab < kFirstWord + 2 || shape_.vocab < shape_.beam) {
      throw Error("model/transformer: vocab too small (needs 5 tokens and at least beam)");
    }
    generate_lengths(shape_.seq);
  }

  Flops analytic_flops() const override {
    const double d = static_cast<double>(shape_.d_model);
    const double f = static_cast<double>(shape_.ffn);
    const double v = static_cast<double>(shape_.vocab);
    const double s = static_cast<double>(shape_.seq);
    const double layers = static_cast<double>(shape_.layers);
    const double encoder = layers * nlp::encoder_layer_flops(s, d, f);
    // Decoding re-runs the decoder over the whole prefix (m = 1 .. steps tokens) for each of the
    // beam's hypotheses and projects only the last position onto the vocabulary.
    double decoding = 0;
    for (int64_t m = 1; m <= shape_.decode_steps(); ++m) {
      decoding += layers * nlp::decoder_layer_flops(static_cast<double>(m), s, d, f) + 2 * d * v;
    }
    Flops flops;
    flops.forward = encoder + static_cast<double>(shape_.beam) * decoding;
    // Teacher forcing: one decoder pass over the padded target, every position projected. All
    // counted layers get data and weight gradients (the embedding output needs a gradient).
    const double teacher = encoder + layers * nlp::decoder_layer_flops(s, s, d, f) + 2 * s * d * v;
    flops.train = 3 * teacher;
    return flops;
  }

  ModelFacts model_facts() const override {
    ModelFacts f;
    f.summary = fmt::format(
        "Transformer {}+{} layers, d_model {}, {} heads, FFN {}, vocab {} (tied), "
        "seq {}, {}",
        shape_.layers, shape_.layers, shape_.d_model, shape_.heads, shape_.ffn, shape_.vocab,
        shape_.seq, beam_search_ ? fmt::format("beam {}", shape_.beam) : "greedy");
    f.sample_unit = token_unit();
    f.preset_batch = {4, 8, 64};
    f.optimizer = fmt::format(
        "Adam, betas (0.9, 0.98), eps 1e-9, lr {:.3g} = d_model^-0.5 x 4000^-0.5 (the peak of the "
        "paper's warm-up schedule; constant)",
        learning_rate());
    f.published_parameters = PublishedCount{
        65e6, 0.04,
        "Vaswani et al. 2017, Table 3 (base): 65 M, rounded; with the 37000-token vocabulary "
        "shared by both embeddings and the output projection the network has 63.08 M "
        "(docs/workloads/transformer.md)"};
    return f;
  }

 protected:
  std::vector<std::pair<std::string, std::string>> facts() const override {
    return {input_fact(),
            {"layers",
             "post-LN: x = LN(x + dropout(sublayer(x))); ReLU FFN; sinusoidal positions; "
             "embeddings x sqrt(d_model); dropout 0.1 on sub-layer outputs and embeddings"},
            {"vocabulary", fmt::format("{} shared by source and target; the embedding is also the "
                                       "pre-softmax projection (no bias)",
                                       shape_.vocab)},
            {"loss", "cross entropy with label smoothing 0.1, padding ignored, mean over tokens"},
            {"inference",
             fmt::format("encoder once, then {} decode steps (seq + {}, no early stop at EOS), the "
                         "decoder re-run over the whole prefix each step (no KV cache); {}",
                         shape_.decode_steps(), shape_.extra,
                         beam_search_
                             ? fmt::format("beam search, beam {}, length penalty ((5+len)/6)^0.6",
                                           shape_.beam)
                             : "greedy")},
            {"samples", fmt::format("tokens: {}; FLOPs / sample below are per sentence",
                                    training_ ? "target tokens incl. EOS, padding excluded"
                                              : "generated positions (batch x decode steps)")},
            {"tokens per step", fmt::format("{:.0f}", tokens_per_step())}};
  }

  void build() override { model_ = net().register_module("transformer", Transformer(shape_)); }

  void make_batch() override {
    const int64_t s = shape_.seq;
    nlp::TranslationBatch pairs =
        nlp::translation_batch(lengths_, s, shape_.vocab, kFirstWord, SpecialTokens{});
    src_ = pairs.source.to(device());
    tgt_in_ = pairs.target_input.to(device());
    labels_ = pairs.labels.to(device());
    src_mask_ = nlp::key_padding_mask(pairs.lengths, s).to(device());
    tgt_mask_ =
        (nlp::causal_mask(s, torch::kCPU) + nlp::key_padding_mask(pairs.lengths, s)).to(device());
  }

  std::unique_ptr<torch::optim::Optimizer> make_optimizer() override {
    return std::make_unique<torch::optim::Adam>(
        net().parameters(),
        torch::optim::AdamOptions(learning_rate()).betas({0.9, 0.98}).eps(1e-9));
  }

  torch::Tensor training_loss() override {
    torch::Tensor memory = model_->encode(src_, src_mask_);
    torch::Tensor hidden = model_->decode(tgt_in_, memory, tgt_mask_, src_mask_);
    torch::Tensor logits = model_->logits(hidden);
    return nlp::label_smoothed_cross_entropy(logits.view({-1, shape_.vocab}), labels_.view({-1}),
                                             kLabelSmoothing, SpecialTokens{}.pad);
  }

  torch::Tensor inference() override {
    const int64_t k = shape_.beam;
    torch::Tensor memory = model_->encode(src_, src_mask_);
    torch::Tensor memory_mask = src_mask_;
    if (beam_search_) {
      memory = memory.repeat_interleave(k, 0);
      memory_mask = memory_mask.repeat_interleave(k, 0);
    }
    auto next = [&](const torch::Tensor& prefix) {
      const int64_t m = prefix.size(1);
      torch::Tensor hidden =
          model_->decode(prefix, memory, nlp::causal_mask(m, device()), memory_mask);
      torch::Tensor last = hidden.narrow(1, m - 1, 1);
      return torch::log_softmax(model_->logits(last).squeeze(1).to(torch::kFloat), -1);
    };
    // Scores (what the check scans for NaN/Inf): the best hypothesis' penalised log-probability
    // (beam) or the sum of the chosen tokens' log-probabilities (greedy).
    nlp::BeamResult result = nlp::translate(next, batch(), beam_search_, k, shape_.decode_steps(),
                                            kLengthPenalty, device());
    decoded_ = result.tokens;
    return result.scores;
  }

 private:
  double learning_rate() const {
    return std::pow(static_cast<double>(shape_.d_model), -0.5) * std::pow(kWarmupSteps, -0.5);
  }
  int64_t decode_steps() const override { return shape_.decode_steps(); }

  TransformerShape shape_{};
  Transformer model_{nullptr};
  torch::Tensor src_, tgt_in_, labels_, src_mask_, tgt_mask_, decoded_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(TransformerModel);

}  // namespace dlbench::model
