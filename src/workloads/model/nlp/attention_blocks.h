// Shared pieces of the language models (model/transformer, model/bert, model/gnmt): multi-head
// attention with additive masks, post-LN Transformer encoder and decoder layers (Vaswani et al.
// 2017), sinusoidal positions, label-smoothed cross entropy, greedy and beam-search decoding
// with a fixed number of steps, and BERT's masked-LM token selection. Every product goes
// through counted(...) / counted_matmul, so the models' analytic FLOP formulas can be held to
// the runtime count. See docs/workloads/transformer.md and bert.md.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <utility>
#include <vector>

#include "workloads/model/model.h"

namespace dlbench::model::nlp {

/// The value additive masks put on positions that must get no attention: finite (a fully
/// masked row cannot make NaN) and far below any score, so softmax gives them exactly 0.
constexpr double kMaskedScore = -1e9;

/// Additive key-padding mask [B, 1, 1, keys]: 0 where key j < lengths[b], kMaskedScore after.
torch::Tensor key_padding_mask(const torch::Tensor& lengths, int64_t keys);

/// Additive causal mask [1, 1, length, length]: 0 where key j <= query i, kMaskedScore after.
torch::Tensor causal_mask(int64_t length, const torch::Device& device);

/// Sinusoidal positions of Vaswani et al. 2017 Section 3.5, [length, d_model]:
/// PE(p, 2i) = sin(p / 10000^(2i/d)), PE(p, 2i+1) = cos(p / 10000^(2i/d)).
torch::Tensor sinusoidal_positions(int64_t length, int64_t d_model);

/// Multi-head scaled dot-product attention (Vaswani et al. Section 3.2.2). Projections go through
/// counted(Linear), QK^T and weights x V through counted_matmul. `fused` keeps Q, K and V of
/// self-attention in one d x 3d Linear (K and V of cross-attention in one d x 2d Linear);
/// otherwise query, key and value are separate Linears (BERT's layout). FLOPs and parameters
/// are the same either way.
struct MultiheadAttentionImpl : torch::nn::Module {
  /// `cross`: queries and keys/values come from different sequences (decoder cross-attention).
  MultiheadAttentionImpl(int64_t d_model, int64_t heads, double attention_dropout, bool fused,
                         bool cross);

  /// query [B, Tq, D], memory [B, Tk, D] (self-attention: pass the query again), mask additive
  /// and broadcastable to [B, heads, Tq, Tk] (undefined: none). Returns [B, Tq, D].
  torch::Tensor forward(const torch::Tensor& query, const torch::Tensor& memory,
                        const torch::Tensor& mask);
  /// The output and the attention weights [B, heads, Tq, Tk] (after softmax, before dropout).
  std::pair<torch::Tensor, torch::Tensor> attend(const torch::Tensor& query,
                                                 const torch::Tensor& memory,
                                                 const torch::Tensor& mask);

  int64_t d_model, heads;
  bool fused, cross;
  torch::nn::Linear qkv{nullptr};                        ///< fused self-attention: Q, K, V
  torch::nn::Linear kv{nullptr};                         ///< fused cross-attention: K, V
  torch::nn::Linear q{nullptr}, k{nullptr}, v{nullptr};  ///< separate (q also in fused cross)
  torch::nn::Linear out{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(MultiheadAttention);

/// Settings of a Transformer layer.
struct LayerOptions {
  int64_t d_model = 512;
  int64_t heads = 8;
  int64_t ffn = 2048;
  double dropout = 0.1;            ///< on every sub-layer output (residual dropout)
  double attention_dropout = 0.0;  ///< on the attention weights (BERT: 0.1; the paper: none)
  bool gelu = false;               ///< GELU (BERT) instead of ReLU (the paper) in the FFN
  double norm_eps = 1e-5;
  bool fused_qkv = true;
};

/// Post-LN encoder layer: x = LN(x + drop(SelfAttn(x))); x = LN(x + drop(FFN(x))).
struct EncoderLayerImpl : torch::nn::Module {
  explicit EncoderLayerImpl(const LayerOptions& o);
  /// x [B, T, D], mask additive (key padding). Returns [B, T, D].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

  LayerOptions options;
  MultiheadAttention attention{nullptr};
  torch::nn::Linear ffn1{nullptr}, ffn2{nullptr};
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(EncoderLayer);

/// Post-LN decoder layer: masked self-attention, cross-attention over the encoder output, FFN,
/// each followed by dropout, the residual sum and LayerNorm.
struct DecoderLayerImpl : torch::nn::Module {
  explicit DecoderLayerImpl(const LayerOptions& o);
  /// x [B, T, D], memory [B, S, D]; self_mask (causal, + target padding) and memory_mask (source
  /// padding) additive. Returns [B, T, D].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& memory,
                        const torch::Tensor& self_mask, const torch::Tensor& memory_mask);

  LayerOptions options;
  MultiheadAttention self_attention{nullptr}, cross_attention{nullptr};
  torch::nn::Linear ffn1{nullptr}, ffn2{nullptr};
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr}, norm3{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(DecoderLayer);

/// Forward FLOPs of one post-LN encoder layer on n positions (2 per MAC): Q, K, V and output
/// projections 8 n d^2, QK^T and weights x V 4 n^2 d, FFN 4 n d f.
double encoder_layer_flops(double n, double d, double f);
/// Forward FLOPs of one decoder layer on m query positions over n memory positions:
/// self-attention 8 m d^2 + 4 m^2 d, cross-attention 4 m d^2 + 4 n d^2 + 4 m n d, FFN 4 m d f.
double decoder_layer_flops(double m, double n, double d, double f);

/// Cross entropy with label smoothing `smoothing`: the target distribution puts 1 - smoothing on
/// the label and smoothing / V on every class (V = logits.size(-1)), i.e. per position
/// (1 - smoothing) x NLL + smoothing x mean over classes of -log p. Positions whose target is
/// `ignore_index` (padding) count nowhere; the result is the mean over the others.
/// logits [N, V] (any float type; computed in fp32), targets [N] (int64).
torch::Tensor label_smoothed_cross_entropy(const torch::Tensor& logits,
                                           const torch::Tensor& targets, double smoothing,
                                           int64_t ignore_index);

/// Special tokens of the generated translation data.
struct SpecialTokens {
  int64_t pad = 0;
  int64_t bos = 1;
  int64_t eos = 2;
};

/// Content lengths (without EOS) of `batch` generated sentences, uniform in
/// [ceil((seq - 1) / 2), seq - 1], fixed by `seed` so that a step's token count is known before
/// setup.
std::vector<int64_t> sentence_lengths(int64_t batch, int64_t seq, uint64_t seed);

/// Target tokens a teacher-forced step predicts: every sentence's content and its EOS.
double target_tokens(const std::vector<int64_t>& lengths);

/// A generated translation batch on the CPU, [B, seq] int64 each, padded with PAD.
struct TranslationBatch {
  torch::Tensor source;        ///< Zipf tokens in [first_word, vocab), then EOS
  torch::Tensor target_input;  ///< BOS, then the target tokens
  torch::Tensor labels;        ///< the target tokens, then EOS
  torch::Tensor lengths;       ///< [B] real tokens per row (content + EOS)
};

/// Sentence pairs whose target is a fixed permutation of the source tokens (rank r -> rank
/// K - 1 - r): learnable, so training on a fixed batch lowers the loss.
TranslationBatch translation_batch(const std::vector<int64_t>& lengths, int64_t seq, int64_t vocab,
                                   int64_t first_word, const SpecialTokens& special = {});

/// Base of the translators (model/transformer, model/gnmt): the search choice (`decode`), the
/// generated sentences' lengths and the token accounting: a training step counts the target
/// tokens it predicts (content + EOS, padding excluded), an inference step the positions it
/// generates (batch x decode steps).
class TranslationWorkload : public ModelWorkload {
 public:
  explicit TranslationWorkload(const Problem& problem);
  WorkCounts work() const override;

 protected:
  /// Decoding steps per sentence in inference.
  virtual int64_t decode_steps() const = 0;
  /// The sample unit of model_facts(): target tokens in training, generated tokens in inference.
  std::string token_unit() const;
  /// Draws the sentence lengths of a batch padded to `seq` tokens (call once the batch is known).
  void generate_lengths(int64_t seq);
  /// Tokens one step processes (see the class comment).
  double tokens_per_step() const;
  /// The `describe` fact about the generated sentence pairs.
  std::pair<std::string, std::string> input_fact() const;

  bool beam_search_ = false;      ///< decode=beam
  std::vector<int64_t> lengths_;  ///< content lengths (without EOS) of the batch's sentences

 private:
  int64_t seq_ = 0;
};

/// A decoder step for the search: given the prefix [rows, t] of tokens generated so far (the
/// first column is BOS), the log-probabilities [rows, V] of the next token.
using NextTokenLogProbs = std::function<torch::Tensor(const torch::Tensor& prefix)>;

/// Greedy decoding for exactly `steps` steps (no early stop: a benchmark runs a fixed amount of
/// work). A row that has produced EOS continues with PAD. Returns the tokens [rows, steps]
/// without the BOS.
torch::Tensor greedy_decode(const NextTokenLogProbs& next, int64_t rows, int64_t steps,
                            const SpecialTokens& tokens, const torch::Device& device);

/// Result of a beam search.
struct BeamResult {
  torch::Tensor tokens;  ///< the best hypothesis per input [batch, steps] (without BOS)
  torch::Tensor scores;  ///< its log-probability divided by the length penalty [batch]
};

/// Beam search of `beam` hypotheses per input for exactly `steps` steps. The step function sees
/// batch x beam rows (input b's hypotheses at rows b*beam .. b*beam+beam-1, so the caller
/// repeats per-input state with repeat_interleave(beam)). Hypotheses are ranked by their summed
/// log-probability; one that produced EOS is finished: it extends only with PAD at no cost and
/// its length stops growing. At the end each input's best hypothesis maximises
/// log-probability / lp(length), lp = ((5 + length) / 6)^alpha (Wu et al. 2016, as used by
/// Vaswani et al. with alpha 0.6). `reorder` (optional) is told the selected parent rows
/// [batch x beam] after every step, for step functions that keep state.
BeamResult beam_search(const NextTokenLogProbs& next, int64_t batch, int64_t beam, int64_t steps,
                       double alpha, const SpecialTokens& tokens, const torch::Device& device,
                       const std::function<void(const torch::Tensor&)>& reorder = nullptr);

/// A translator's inference search: beam_search when `beam_search` (beam `beam`, length penalty
/// `alpha`, `reorder` as there), else greedy_decode, whose scores are the per-sentence sums of
/// the chosen tokens' log-probabilities. Tokens [batch, steps]; scores [batch].
BeamResult translate(const NextTokenLogProbs& next, int64_t batch, bool beam_search, int64_t beam,
                     int64_t steps, double alpha, const torch::Device& device,
                     const std::function<void(const torch::Tensor&)>& reorder = nullptr);

/// BERT's masked-LM inputs: which positions to predict and what the model reads there.
struct MaskedLm {
  torch::Tensor input_ids;  ///< [B, T] tokens after masking
  torch::Tensor positions;  ///< [B, P] predicted positions (padded with 0)
  torch::Tensor labels;     ///< [B, P] the original tokens there (padded with 0)
  torch::Tensor weights;    ///< [B, P] 1 for a real prediction, 0 for padding
};

/// Devlin et al. 2019 Section 3.1 / Appendix A.1, as google-research/bert's
/// create_pretraining_data.py does it: per sequence, round(candidates x probability) positions
/// (at least 1, at most max_predictions) are chosen at random among `candidates` (true where a
/// token may be masked: not [CLS], [SEP] or padding); each chosen token becomes `mask_id` with
/// probability 0.8, a random token in [first_random, vocab) with 0.1, and stays with 0.1.
/// tokens [B, T] int64 and candidates [B, T] bool on the CPU; uses torch's generator.
MaskedLm mask_tokens(const torch::Tensor& tokens, const torch::Tensor& candidates,
                     double probability, int64_t max_predictions, int64_t mask_id,
                     int64_t first_random, int64_t vocab);

/// Zipf-distributed token ids in [first, vocab) (rank r has weight 1 / r^exponent), shape
/// `shape`, int64 on the CPU, from torch's generator: generated text with a word-like skew.
torch::Tensor zipf_tokens(at::IntArrayRef shape, int64_t first, int64_t vocab,
                          double exponent = 1.1);

}  // namespace dlbench::model::nlp
