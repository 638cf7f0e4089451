// model/bert: BERT of Devlin, Chang, Lee, Toutanova, "BERT: Pre-training of Deep Bidirectional
// Transformers for Language Understanding", NAACL 2019 (arXiv:1810.04805): a post-LN Transformer
// encoder (base: 12 layers, 768 wide, 12 heads, FFN 3072; large: 24, 1024, 16, 4096), WordPiece
// vocabulary 30522, 512 learned positions, 2 token types, GELU, LayerNorm eps 1e-12. Training is
// pre-training: masked LM (15% of the tokens, predicted through a dense + GELU + LayerNorm
// transform and the tied word-embedding decoder with a bias) plus next-sentence prediction
// (pooler + 2-way classifier), AdamW with weight decay 0.01. Inference is the encoder and pooler.
// FLOPs: BertModel::analytic_flops, documented in docs/workloads/bert.md.
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

// WordPiece ids of bert-base-uncased's vocab.txt: [PAD] 0, [CLS] 101, [SEP] 102, [MASK] 103,
// words from 999 on. Small vocabularies of the presets keep the first five ids for these.
struct BertTokens {
  int64_t pad = 0, cls = 1, sep = 2, mask = 3, first_word = 4;
};
constexpr double kMaskProbability = 0.15;
constexpr double kNormEps = 1e-12;

struct BertShape {
  int64_t vocab = 30522;
  int64_t hidden = 768;
  int64_t layers = 12;
  int64_t heads = 12;
  int64_t ffn = 3072;
  int64_t seq = 128;
  int64_t max_positions = 512;
  int64_t type_vocab = 2;
  double dropout = 0.1;

  /// Masked positions per sequence, padded: ceil(0.15 x seq) (20 at seq 128, 77 at 512, the
  /// google-research/bert max_predictions_per_seq of 20 and ~76-80).
  int64_t max_predictions() const {
    return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(kMaskProbability * seq - 1e-9)));
  }
};

/// The encoder with its pooler and the two pre-training heads.
struct BertImpl : torch::nn::Module {
  explicit BertImpl(const BertShape& s) : shape(s) {
    word = register_module(
        "word_embeddings",
        torch::nn::Embedding(torch::nn::EmbeddingOptions(s.vocab, s.hidden).padding_idx(0)));
    position =
        register_module("position_embeddings", torch::nn::Embedding(s.max_positions, s.hidden));
    token_type =
        register_module("token_type_embeddings", torch::nn::Embedding(s.type_vocab, s.hidden));
    embedding_norm = register_module(
        "embedding_norm",
        torch::nn::LayerNorm(torch::nn::LayerNormOptions({s.hidden}).eps(kNormEps)));
    dropout = register_module("dropout", torch::nn::Dropout(s.dropout));
    nlp::LayerOptions o;
    o.d_model = s.hidden;
    o.heads = s.heads;
    o.ffn = s.ffn;
    o.dropout = s.dropout;
    o.attention_dropout = s.dropout;
    o.gelu = true;
    o.norm_eps = kNormEps;
    o.fused_qkv = false;
    for (int64_t i = 0; i < s.layers; ++i) {
      layers.push_back(register_module("layer" + std::to_string(i), nlp::EncoderLayer(o)));
    }
    pooler = register_module("pooler", torch::nn::Linear(s.hidden, s.hidden));
    mlm_transform = register_module("mlm_transform", torch::nn::Linear(s.hidden, s.hidden));
    mlm_norm = register_module(
        "mlm_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({s.hidden}).eps(kNormEps)));
    mlm_bias = register_parameter("mlm_bias", torch::zeros({s.vocab}));
    nsp = register_module("nsp", torch::nn::Linear(s.hidden, 2));
    // BERT's initializer: truncated normal, std 0.02, for every weight matrix and embedding.
    torch::NoGradGuard no_grad;
    for (auto& p : named_parameters()) {
      if (p.value().dim() == 2) p.value().normal_(0, 0.02).clamp_(-0.04, 0.04);
      const std::string& name = p.key();
      if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0 &&
          name.find("norm") == std::string::npos) {
        p.value().zero_();
      }
    }
    word->weight[0].zero_();
  }

  /// tokens, segments [B, T], key-padding mask -> sequence output [B, T, H].
  torch::Tensor encode(const torch::Tensor& tokens, const torch::Tensor& segments,
                       const torch::Tensor& mask) {
    const int64_t length = tokens.size(1);
    torch::Tensor positions = torch::arange(length, tokens.options());
    torch::Tensor x = word(tokens) + position(positions).unsqueeze(0) + token_type(segments);
    x = dropout(embedding_norm(x));
    for (auto& layer : layers) x = layer(x, mask);
    return x;
  }

  /// tanh(dense([CLS] state)): [B, T, H] -> [B, H].
  torch::Tensor pool(const torch::Tensor& sequence) {
    return torch::tanh(counted(pooler, sequence.select(1, 0)));
  }

  /// Masked-LM scores at the gathered states [B, P, H] -> [B, P, V]: dense + GELU + LayerNorm,
  /// then the word embeddings (tied) and the output bias.
  torch::Tensor masked_lm(const torch::Tensor& gathered) {
    // LibTorch 1.13's CPU autocast has no LayerNorm rule: feed it fp32 like its weights.
    torch::Tensor h = mlm_norm(torch::gelu(counted(mlm_transform, gathered)).to(torch::kFloat));
    return counted_matmul(h, word->weight.t()) + mlm_bias;
  }

  BertShape shape;
  torch::nn::Embedding word{nullptr}, position{nullptr}, token_type{nullptr};
  torch::nn::LayerNorm embedding_norm{nullptr}, mlm_norm{nullptr};
  torch::nn::Dropout dropout{nullptr};
  std::vector<nlp::EncoderLayer> layers;
  torch::nn::Linear pooler{nullptr}, mlm_transform{nullptr}, nsp{nullptr};
  torch::Tensor mlm_bias;
};
TORCH_MODULE(Bert);

class BertModel : public ModelWorkload {
 public:
  static WorkloadInfo info() {
    return model_info(
        "model/bert",
        "BERT (Devlin et al. 2019) pre-training: post-LN Transformer encoder, masked LM + next "
        "sentence prediction, AdamW; inference = encoder + pooler",
        {ParamSpec::choice("variant", "base", {"base", "large"},
                           "full preset: base (12 x 768, 12 heads) or large (24 x 1024, 16 heads)"),
         ParamSpec::integer("seq", 0, "sequence length in tokens (0: preset: 16 / 64 / 128)", 0),
         ParamSpec::integer("vocab", 0, "WordPiece vocabulary (0: preset: 128 / 8000 / 30522)", 0),
         ParamSpec::integer("hidden", 0, "hidden width (0: preset: 32 / 256 / variant's)", 0),
         ParamSpec::integer("layers", 0, "encoder layers (0: preset: 2 / 4 / variant's)", 0),
         ParamSpec::integer("heads", 0, "attention heads (0: preset: 2 / 4 / variant's)", 0),
         ParamSpec::integer("ffn", 0, "feed-forward width (0: preset: 4 x hidden)", 0)});
  }

  explicit BertModel(const Problem& problem) : ModelWorkload(problem) {
    large_ = problem.get("variant") == "large";
    shape_.vocab = param_or("vocab", by_size<int64_t>(size_, 128, 8000, 30522));
    shape_.hidden = param_or("hidden", by_size<int64_t>(size_, 32, 256, large_ ? 1024 : 768));
    shape_.layers = param_or("layers", by_size<int64_t>(size_, 2, 4, large_ ? 24 : 12));
    shape_.heads = param_or("heads", by_size<int64_t>(size_, 2, 4, large_ ? 16 : 12));
    shape_.ffn = param_or("ffn", 4 * shape_.hidden);
    shape_.seq = param_or("seq", by_size<int64_t>(size_, 16, 64, 128));
    if (shape_.hidden % shape_.heads != 0) {
      throw Error("model/bert: hidden must be a multiple of heads");
    }
    if (shape_.seq < 5) throw Error("model/bert: seq must be at least 5 ([CLS] A [SEP] B [SEP])");
    if (shape_.seq > shape_.max_positions) {
      throw Error("model/bert: seq must be at most 512 (the learned positions)");
    }
    if (shape_.vocab <= BertTokens{}.first_word) throw Error("model/bert: vocab too small");
  }

  Flops analytic_flops() const override {
    const double h = static_cast<double>(shape_.hidden);
    const double n = static_cast<double>(shape_.seq);
    const double p = static_cast<double>(shape_.max_predictions());
    const double encoder = static_cast<double>(shape_.layers) *
                           nlp::encoder_layer_flops(n, h, static_cast<double>(shape_.ffn));
    const double pooler = 2 * h * h;
    // Pre-training heads: the masked-LM transform and tied decoder at the P gathered positions,
    // and the 2-way next-sentence classifier on the pooled output.
    const double heads = 2 * p * h * h + 2 * p * h * static_cast<double>(shape_.vocab) + 2 * h * 2;
    Flops flops;
    flops.forward = encoder + pooler;
    flops.train = 3 * (encoder + pooler + heads);  // every counted input needs a gradient
    return flops;
  }

  ModelFacts model_facts() const override {
    ModelFacts f;
    f.summary = fmt::format("BERT-{}: {} layers, hidden {}, {} heads, FFN {}, vocab {}, seq {}",
                            size_ == Size::kFull ? (large_ ? "large" : "base") : size_name(size_),
                            shape_.layers, shape_.hidden, shape_.heads, shape_.ffn, shape_.vocab,
                            shape_.seq);
    f.sample_unit = "tokens";
    f.preset_batch = {4, 8, 32};
    f.optimizer = fmt::format(
        "AdamW (Adam with decoupled weight decay 0.01, not on biases and LayerNorm), betas (0.9, "
        "0.999), eps 1e-6, lr {:.3g}{}",
        learning_rate(),
        size_ == Size::kTiny ? " (tiny: 10x the paper's 1e-4, to learn within 40 steps)"
                             : " (the paper's peak; no warm-up or decay)");
    f.published_parameters =
        large_ ? PublishedCount{340e6, 0.02,
                                "Devlin et al. 2019 Section 3: BERT-large 340 M (rounded); exact: "
                                "335,141,888 encoder + pooler (HF bert-large-uncased) + 1,084,220 "
                                "in the pre-training heads"}
               : PublishedCount{110e6, 0.01,
                                "Devlin et al. 2019 Section 3: BERT-base 110 M (rounded); exact: "
                                "109,482,240 encoder + pooler (HF bert-base-uncased) + 624,188 in "
                                "the pre-training heads"};
    return f;
  }

  WorkCounts work() const override {
    WorkCounts w = ModelWorkload::work();
    w.samples = static_cast<double>(batch() * shape_.seq);
    return w;
  }

 protected:
  std::vector<std::pair<std::string, std::string>> facts() const override {
    return {
        {"input",
         fmt::format("[CLS] A [SEP] B [SEP], padded to {} tokens (10% shorter, as "
                     "short_seq_prob 0.1); token types 0/1; Zipf-distributed WordPiece ids",
                     shape_.seq)},
        {"layers",
         "post-LN encoder layers, GELU FFN, LayerNorm eps 1e-12, dropout 0.1 (hidden "
         "and attention), learned positions (512) and 2 token types"},
        {"masked LM", fmt::format("15% of the non-special tokens (80% [MASK], 10% random, 10% "
                                  "kept), at most {} per sequence; dense + GELU + LayerNorm, tied "
                                  "word-embedding decoder with bias",
                                  shape_.max_predictions())},
        {"next sentence", "pooler (dense + tanh on [CLS]) + 2-way classifier; 50% IsNext"},
        {"loss", "masked-LM cross entropy (mean over real predictions) + NSP cross entropy"},
        {"inference", "encoder + pooler (sequence output and pooled [CLS])"},
        {"samples",
         "tokens: batch x seq (every position, padding included); FLOPs / sample "
         "below are per sequence"}};
  }

  void build() override { model_ = net().register_module("bert", Bert(shape_)); }

  void make_batch() override {
    const int64_t b = batch();
    const int64_t t = shape_.seq;
    const BertTokens special;
    torch::Tensor tokens = torch::full({b, t}, special.pad, torch::kLong);
    torch::Tensor segments = torch::zeros({b, t}, torch::kLong);
    torch::Tensor candidates = torch::zeros({b, t}, torch::kBool);
    std::vector<int64_t> lengths(static_cast<size_t>(b));
    torch::Tensor words = nlp::zipf_tokens({b, t}, special.first_word, shape_.vocab);
    torch::Tensor short_draw = torch::rand({b});
    for (int64_t i = 0; i < b; ++i) {
      // 10% of the sequences are shorter (google-research/bert short_seq_prob = 0.1).
      int64_t length = t;
      if (short_draw[i].item<double>() < 0.1) {
        length = torch::randint(5, t + 1, {1}).item<int64_t>();
      }
      const int64_t words_a = torch::randint(1, length - 3 + 1, {1}).item<int64_t>();
      const int64_t words_b = length - 3 - words_a;
      tokens[i][0] = special.cls;
      tokens[i].narrow(0, 1, words_a).copy_(words[i].narrow(0, 1, words_a));
      candidates[i].narrow(0, 1, words_a).fill_(true);
      tokens[i][1 + words_a] = special.sep;
      if (words_b > 0) {
        tokens[i].narrow(0, 2 + words_a, words_b).copy_(words[i].narrow(0, 2 + words_a, words_b));
        candidates[i].narrow(0, 2 + words_a, words_b).fill_(true);
      }
      tokens[i][length - 1] = special.sep;
      segments[i].narrow(0, 2 + words_a, length - 2 - words_a).fill_(1);
      lengths[static_cast<size_t>(i)] = length;
    }
    nlp::MaskedLm m =
        nlp::mask_tokens(tokens, candidates, kMaskProbability, shape_.max_predictions(),
                         special.mask, special.first_word, shape_.vocab);
    input_ids_ = m.input_ids.to(device());
    segments_ = segments.to(device());
    mask_ = nlp::key_padding_mask(torch::tensor(lengths, torch::kLong), t).to(device());
    mlm_positions_ = m.positions.to(device());
    mlm_labels_ = m.labels.to(device());
    mlm_weights_ = m.weights.to(device());
    nsp_labels_ = torch::randint(0, 2, {b}, torch::kLong).to(device());
  }

  std::unique_ptr<torch::optim::Optimizer> make_optimizer() override {
    // google-research/bert optimization.py: no weight decay on LayerNorm and biases.
    std::vector<torch::Tensor> decay, no_decay;
    for (auto& p : net().named_parameters()) {
      const std::string& name = p.key();
      bool exempt = p.value().dim() < 2 || name.find("norm") != std::string::npos;
      (exempt ? no_decay : decay).push_back(p.value());
    }
    auto options = torch::optim::AdamWOptions(learning_rate()).betas({0.9, 0.999}).eps(1e-6);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                                   torch::optim::AdamWOptions(options).weight_decay(0.01)));
    groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(
                                      torch::optim::AdamWOptions(options).weight_decay(0.0)));
    return std::make_unique<torch::optim::AdamW>(std::move(groups), options);
  }

  torch::Tensor training_loss() override {
    torch::Tensor sequence = model_->encode(input_ids_, segments_, mask_);
    torch::Tensor pooled = model_->pool(sequence);
    const int64_t predictions = mlm_positions_.size(1);
    torch::Tensor index = mlm_positions_.unsqueeze(-1).expand({-1, predictions, shape_.hidden});
    torch::Tensor gathered = sequence.gather(1, index);  // [B, P, H]
    torch::Tensor scores = model_->masked_lm(gathered).to(torch::kFloat);
    torch::Tensor log_probs = torch::log_softmax(scores, -1);
    torch::Tensor nll = -log_probs.gather(-1, mlm_labels_.unsqueeze(-1)).squeeze(-1);
    torch::Tensor mlm = (nll * mlm_weights_).sum() / (mlm_weights_.sum() + 1e-5);
    torch::Tensor nsp_scores = counted(model_->nsp, pooled).to(torch::kFloat);
    torch::Tensor nsp = torch::nn::functional::cross_entropy(nsp_scores, nsp_labels_);
    return mlm + nsp;
  }

  torch::Tensor inference() override {
    torch::Tensor sequence = model_->encode(input_ids_, segments_, mask_);
    torch::Tensor pooled = model_->pool(sequence);
    // Both outputs in one tensor for the check: the pooled vectors and the sequence sums.
    return torch::cat({pooled.to(torch::kFloat), sequence.to(torch::kFloat).sum(1)}, 1);
  }

 private:
  double learning_rate() const { return size_ == Size::kTiny ? 1e-3 : 1e-4; }

  BertShape shape_{};
  bool large_ = false;
  Bert model_{nullptr};
  torch::Tensor input_ids_, segments_, mask_, mlm_positions_, mlm_labels_, mlm_weights_,
      nsp_labels_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(BertModel);

}  // namespace dlbench::model
