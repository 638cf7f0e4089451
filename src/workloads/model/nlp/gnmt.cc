// model/gnmt: GNMT (Wu et al., "Google's Neural Machine Translation System: Bridging the Gap
// between Human and Machine Translation", arXiv:1609.08144, 2016) as the MLPerf training
// reference `mlcommons/training` rnn_translator runs it (GNMT v2): a 4-layer LSTM encoder (the
// first layer bidirectional, residual connections from the third), a 4-layer LSTM decoder whose
// first layer's output queries a normalized Bahdanau attention and whose context is concatenated
// to the input of every later layer (residual from the third), hidden 1024, one 32320-token
// vocabulary (32000 BPE merges) with the embedding shared by encoder and decoder, label
// smoothing 0.1, Adam. Inference: greedy or beam-search decoding for a fixed number of steps.
// FLOPs: GnmtModel::analytic_flops, documented in docs/workloads/gnmt.md.
#include <fmt/core.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <tuple>
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
using LstmState = std::tuple<torch::Tensor, torch::Tensor>;

constexpr int64_t kFirstWord = 3;  // 0 PAD, 1 BOS, 2 EOS (the reference's PAD, BOS, EOS, UNK order
                                   // differs; the ids are arbitrary)
constexpr double kLabelSmoothing = 0.1;
constexpr double kLengthPenalty = 0.6;  // the reference's len_norm_factor (and constant 5)
constexpr double kInitRange = 0.1;  // the reference's uniform(-0.1, 0.1) for LSTMs and embedding

struct GnmtShape {
  int64_t vocab = 32320;
  int64_t hidden = 1024;
  int64_t layers = 4;  ///< encoder layers = decoder layers (at least 2)
  int64_t seq = 50;    ///< padded source and target length
  int64_t extra = 50;  ///< inference decodes seq + extra tokens
  double dropout = 0.2;

  int64_t decode_steps() const { return seq + extra; }
};

/// One step (or a whole sequence) of a one-layer unidirectional LSTM from a given state, counted
/// as counted(LSTM) counts it (docs/workloads/models.md): 2 x T x B x 4H x (I + H) FLOPs and the
/// operand bytes.
std::tuple<torch::Tensor, LstmState> lstm_from(torch::nn::LSTM& m, const torch::Tensor& x,
                                               const std::optional<LstmState>& state) {
  torch::Tensor input = x.to(torch::kFloat);
  auto result = state ? m->forward(input, *state) : m->forward(input);
  record_recurrent(m, x, std::get<0>(result));
  return {std::get<0>(result), std::get<1>(result)};
}

torch::nn::LSTM make_lstm(int64_t in, int64_t hidden, bool bidirectional) {
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(in, hidden).bidirectional(bidirectional));
  torch::NoGradGuard no_grad;
  for (torch::Tensor& p : lstm->parameters()) p.uniform_(-kInitRange, kInitRange);
  return lstm;
}

/// Normalized Bahdanau attention (the reference's BahdanauAttention(normalize=True)):
/// score(q, k) = g (v / |v|) . tanh(W_q q + W_k k + b), softmax over the valid keys, and the
/// context is the weighted sum of the keys (the encoder outputs).
struct BahdanauAttentionImpl : torch::nn::Module {
  explicit BahdanauAttentionImpl(int64_t hidden) {
    linear_q = register_module(
        "linear_q", torch::nn::Linear(torch::nn::LinearOptions(hidden, hidden).bias(false)));
    linear_k = register_module(
        "linear_k", torch::nn::Linear(torch::nn::LinearOptions(hidden, hidden).bias(false)));
    const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
    linear_att = register_parameter("linear_att", torch::empty({hidden}).uniform_(-bound, bound));
    normalize_scalar = register_parameter("normalize_scalar", torch::full({1}, bound));
    normalize_bias = register_parameter("normalize_bias", torch::zeros({hidden}));
  }

  /// W_k k for keys [B, S, H] (computed once per source sentence).
  torch::Tensor project_keys(const torch::Tensor& keys) { return counted(linear_k, keys); }

  /// query [B, T, H] over keys [B, S, H] with their projection; mask additive [B, 1, S].
  /// Returns the context [B, T, H].
  torch::Tensor forward(const torch::Tensor& query, const torch::Tensor& keys,
                        const torch::Tensor& projected_keys, const torch::Tensor& mask) {
    torch::Tensor q = counted(linear_q, query);
    torch::Tensor sum = torch::tanh(q.unsqueeze(2) + projected_keys.unsqueeze(1) + normalize_bias);
    torch::Tensor v = linear_att / linear_att.norm() * normalize_scalar;
    torch::Tensor scores = counted_matmul(sum, v.unsqueeze(-1)).squeeze(-1);  // [B, T, S]
    torch::Tensor weights = torch::softmax(scores.to(torch::kFloat) + mask, -1);
    return counted_matmul(weights, keys);
  }

  torch::nn::Linear linear_q{nullptr}, linear_k{nullptr};
  torch::Tensor linear_att, normalize_scalar, normalize_bias;
};
TORCH_MODULE(BahdanauAttention);

/// The GNMT v2 network of the MLPerf reference (seq2seq/models/gnmt.py, encoder.py,
/// decoder.py, attention.py).
struct GnmtImpl : torch::nn::Module {
  explicit GnmtImpl(const GnmtShape& s) : shape(s) {
    const int64_t h = s.hidden;
    embedding = register_module(
        "embedding", torch::nn::Embedding(
                         torch::nn::EmbeddingOptions(s.vocab, h).padding_idx(SpecialTokens{}.pad)));
    {
      torch::NoGradGuard no_grad;
      embedding->weight.uniform_(-kInitRange, kInitRange);
      embedding->weight[SpecialTokens{}.pad].zero_();
    }
    encoder.push_back(register_module("encoder0", make_lstm(h, h, true)));
    encoder.push_back(register_module("encoder1", make_lstm(2 * h, h, false)));
    for (int64_t i = 2; i < s.layers; ++i) {
      encoder.push_back(register_module("encoder" + std::to_string(i), make_lstm(h, h, false)));
    }
    attention_lstm = register_module("decoder0", make_lstm(h, h, false));
    attention = register_module("attention", BahdanauAttention(h));
    for (int64_t i = 1; i < s.layers; ++i) {
      decoder.push_back(register_module("decoder" + std::to_string(i), make_lstm(2 * h, h, false)));
    }
    classifier = register_module("classifier", torch::nn::Linear(h, s.vocab));
    dropout = register_module("dropout", torch::nn::Dropout(s.dropout));
  }

  /// src [B, S] -> encoder outputs [B, S, H].
  torch::Tensor encode(const torch::Tensor& src) {
    torch::Tensor x = embedding(src).transpose(0, 1);  // [S, B, H], time-major as the reference
    x = counted(encoder[0], dropout(x).to(torch::kFloat));
    x = counted(encoder[1], dropout(x));
    for (size_t i = 2; i < encoder.size(); ++i) {
      torch::Tensor residual = x;
      x = counted(encoder[i], dropout(x)) + residual;
    }
    return x.transpose(0, 1).contiguous();
  }

  /// Teacher-forced decoder over tgt [B, T] -> scores [T, B, V].
  torch::Tensor decode(const torch::Tensor& tgt, const torch::Tensor& keys,
                       const torch::Tensor& projected_keys, const torch::Tensor& mask) {
    torch::Tensor y = embedding(tgt).transpose(0, 1).to(torch::kFloat);  // [T, B, H]
    torch::Tensor a = counted(attention_lstm, y);
    torch::Tensor context =
        attention(a.transpose(0, 1), keys, projected_keys, mask).transpose(0, 1).to(torch::kFloat);
    torch::Tensor x = counted(decoder[0], torch::cat({dropout(a), context}, 2));
    for (size_t i = 1; i < decoder.size(); ++i) {
      torch::Tensor residual = x;
      x = counted(decoder[i], torch::cat({dropout(x), context}, 2)) + residual;
    }
    return counted(classifier, x);
  }

  /// One decoding step for tokens [B] with the per-layer states (empty: zeros) -> scores [B, V].
  torch::Tensor step(const torch::Tensor& tokens, const torch::Tensor& keys,
                     const torch::Tensor& projected_keys, const torch::Tensor& mask,
                     std::vector<std::optional<LstmState>>& states) {
    torch::Tensor y = embedding(tokens).unsqueeze(0);  // [1, B, H]
    auto [a, s0] = lstm_from(attention_lstm, y, states[0]);
    states[0] = s0;
    torch::Tensor context =
        attention(a.transpose(0, 1), keys, projected_keys, mask).transpose(0, 1).to(torch::kFloat);
    torch::Tensor x;
    for (size_t i = 0; i < decoder.size(); ++i) {
      torch::Tensor input = i == 0 ? a : x;
      auto [out, state] = lstm_from(decoder[i], torch::cat({input, context}, 2), states[i + 1]);
      states[i + 1] = state;
      x = i == 0 ? out : out + x;
    }
    return counted(classifier, x.squeeze(0));
  }

  GnmtShape shape;
  torch::nn::Embedding embedding{nullptr};
  std::vector<torch::nn::LSTM> encoder, decoder;
  torch::nn::LSTM attention_lstm{nullptr};
  BahdanauAttention attention{nullptr};
  torch::nn::Linear classifier{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(Gnmt);

class GnmtModel : public nlp::TranslationWorkload {
 public:
  static WorkloadInfo info() {
    return model_info(
        "model/gnmt",
        "GNMT v2 (Wu et al. 2016, the MLPerf rnn_translator reference): 4+4 LSTM layers, "
        "normalized Bahdanau attention, shared embedding, label smoothing, Adam; greedy or beam "
        "decoding",
        {ParamSpec::integer("vocab", 0, "shared vocabulary (0: preset: 64 / 8000 / 32320)", 0),
         ParamSpec::integer("hidden", 0, "LSTM and embedding width (0: preset: 32 / 256 / 1024)",
                            0),
         ParamSpec::integer("layers", 0, "encoder layers = decoder layers, >= 2 (0: preset: 4)", 0),
         ParamSpec::integer(
             "seq", 0, "padded source and target length in tokens (0: preset: 10 / 32 / 50)", 0),
         ParamSpec::integer("extra_len", 0,
                            "inference decodes seq + extra_len tokens (0: preset: 2 / 8 / 50)", 0),
         ParamSpec::choice("decode", "greedy", {"greedy", "beam"},
                           "inference search: greedy, or beam search with length penalty 0.6"),
         ParamSpec::integer("beam", 5, "beam size for decode=beam (the reference's 5)", 1)});
  }

  explicit GnmtModel(const Problem& problem) : TranslationWorkload(problem) {
    shape_.vocab = param_or("vocab", by_size<int64_t>(size_, 64, 8000, 32320));
    shape_.hidden = param_or("hidden", by_size<int64_t>(size_, 32, 256, 1024));
    shape_.layers = param_or("layers", 4);
    shape_.seq = param_or("seq", by_size<int64_t>(size_, 10, 32, 50));
    shape_.extra = param_or("extra_len", by_size<int64_t>(size_, 2, 8, 50));
    beam_ = beam_search_ ? problem.get_int("beam") : 1;
    if (shape_.layers < 2) throw Error("model/gnmt: layers must be at least 2");
    if (shape_.seq < 2) throw Error("model/gnmt: seq must be at least 2");
    if (shape_.vocab < kFirstWord + 2 || shape_.vocab < beam_) {
      throw Error("model/gnmt: vocab too small (needs 5 tokens and at least beam)");
    }
    generate_lengths(shape_.seq);
  }

  Flops analytic_flops() const override {
    const double h = static_cast<double>(shape_.hidden);
    const double s = static_cast<double>(shape_.seq);
    const double v = static_cast<double>(shape_.vocab);
    const double later = static_cast<double>(shape_.layers - 1);
    // LSTM: 2 x 4H x (I + H) per step and direction.
    const double encoder = 2 * s * 2 * 4 * h * (h + h) + 2 * s * 4 * h * (2 * h + h) +
                           static_cast<double>(shape_.layers - 2) * 2 * s * 4 * h * (h + h);
    auto decoder = [&](double t) {
      const double attention_lstm = 2 * t * 4 * h * (h + h);
      const double attention = 2 * t * h * h + 4 * t * s * h;  // W_q, scores, context
      const double layers = later * 2 * t * 4 * h * (2 * h + h);
      return attention_lstm + attention + layers + 2 * t * h * v;
    };
    const double keys = 2 * s * h * h;  // W_k, once per sentence
    Flops flops;
    // Each step runs the decoder on batch x beam rows (beam 1: greedy).
    flops.forward =
        encoder + keys +
        static_cast<double>(beam_) * static_cast<double>(shape_.decode_steps()) * decoder(1);
    flops.train = 3 * (encoder + keys + decoder(s));  // every counted input needs a gradient
    return flops;
  }

  ModelFacts model_facts() const override {
    ModelFacts f;
    f.summary = fmt::format("GNMT v2: {}+{} LSTM layers, hidden {}, vocab {} (shared), seq {}",
                            shape_.layers, shape_.layers, shape_.hidden, shape_.vocab, shape_.seq);
    f.sample_unit = token_unit();
    f.preset_batch = {4, 8, 128};
    f.optimizer = fmt::format("Adam, betas (0.9, 0.999), eps 1e-8, lr {:.3g}{}", learning_rate(),
                              size_ == Size::kTiny
                                  ? " (tiny: 4x the reference's 5e-4, to learn within 40 steps)"
                                  : " (the reference's 5e-4; no warm-up or decay)");
    f.published_parameters = PublishedCount{
        160671297, 0.0,
        "MLPerf GNMT (rnn_translator, vocab 32320, hidden 1024): 160,671,297, the figure and "
        "per-tensor shape list in NVIDIA's MLPerf GNMT distributed-optimizer test; equal to the "
        "layer-by-layer sum of the reference code (docs/workloads/gnmt.md)"};
    return f;
  }

 protected:
  std::vector<std::pair<std::string, std::string>> facts() const override {
    return {
        input_fact(),
        {"encoder",
         "embedding, bidirectional LSTM, LSTM (2H -> H), then LSTMs with residual "
         "connections; dropout 0.2 on every LSTM input"},
        {"decoder",
         "embedding, LSTM -> normalized Bahdanau attention over the encoder outputs; "
         "the context is concatenated to the input of every later LSTM (residual "
         "from the third); linear classifier"},
        {"loss", "cross entropy with label smoothing 0.1, padding ignored, mean over tokens"},
        {"inference",
         fmt::format("encoder once (W_k of the attention once), then {} steps (seq + {}, "
                     "no early stop at EOS) carrying the LSTM states; {}",
                     shape_.decode_steps(), shape_.extra,
                     beam_search_
                         ? fmt::format("beam search, beam {}, length penalty ((5+len)/6)^0.6, no "
                                       "coverage penalty",
                                       beam_)
                         : "greedy")},
        {"samples", fmt::format("tokens: {}; FLOPs / sample below are per sentence",
                                training_ ? "target tokens incl. EOS, padding excluded"
                                          : "generated positions (batch x decode steps)")}};
  }

  void build() override { model_ = net().register_module("gnmt", Gnmt(shape_)); }

  void make_batch() override {
    const int64_t s = shape_.seq;
    nlp::TranslationBatch pairs =
        nlp::translation_batch(lengths_, s, shape_.vocab, kFirstWord, SpecialTokens{});
    src_ = pairs.source.to(device());
    tgt_in_ = pairs.target_input.to(device());
    // [T, B], as the decoder's scores come out.
    labels_ = pairs.labels.transpose(0, 1).contiguous().to(device());
    mask_ = nlp::key_padding_mask(pairs.lengths, s).squeeze(1).to(device());
  }

  std::unique_ptr<torch::optim::Optimizer> make_optimizer() override {
    return std::make_unique<torch::optim::Adam>(net().parameters(),
                                                torch::optim::AdamOptions(learning_rate()));
  }

  torch::Tensor training_loss() override {
    torch::Tensor keys = model_->encode(src_);
    torch::Tensor projected = model_->attention->project_keys(keys);
    torch::Tensor scores = model_->decode(tgt_in_, keys, projected, mask_);
    return nlp::label_smoothed_cross_entropy(scores.view({-1, shape_.vocab}), labels_.view({-1}),
                                             kLabelSmoothing, SpecialTokens{}.pad);
  }

  torch::Tensor inference() override {
    torch::Tensor keys = model_->encode(src_);
    torch::Tensor projected = model_->attention->project_keys(keys);
    torch::Tensor mask = mask_;
    if (beam_search_) {
      // Hypotheses of sentence b are rows b*beam .. b*beam+beam-1.
      keys = keys.repeat_interleave(beam_, 0);
      projected = projected.repeat_interleave(beam_, 0);
      mask = mask.repeat_interleave(beam_, 0);
    }
    std::vector<std::optional<LstmState>> states(static_cast<size_t>(shape_.layers));
    auto next = [&](const torch::Tensor& prefix) {
      torch::Tensor last = prefix.select(1, prefix.size(1) - 1);
      return torch::log_softmax(model_->step(last, keys, projected, mask, states).to(torch::kFloat),
                                -1);
    };
    // Under beam search the LSTM states follow their hypotheses' parents ([1, rows, H] each).
    auto reorder = [&](const torch::Tensor& rows) {
      for (auto& state : states) {
        if (!state) continue;
        state = LstmState{std::get<0>(*state).index_select(1, rows),
                          std::get<1>(*state).index_select(1, rows)};
      }
    };
    nlp::BeamResult result =
        nlp::translate(next, batch(), beam_search_, beam_, shape_.decode_steps(), kLengthPenalty,
                       device(), reorder);
    decoded_ = result.tokens;
    return result.scores;
  }

 private:
  double learning_rate() const { return size_ == Size::kTiny ? 2e-3 : 5e-4; }
  int64_t decode_steps() const override { return shape_.decode_steps(); }

  GnmtShape shape_{};
  int64_t beam_ = 1;
  Gnmt model_{nullptr};
  torch::Tensor src_, tgt_in_, labels_, mask_, decoded_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(GnmtModel);

}  // namespace dlbench::model
