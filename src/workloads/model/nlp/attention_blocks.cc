// Shared pieces of the language models: attention, Transformer layers, positions, label
// smoothing, decoding and BERT masking. See attention.h and docs/workloads/transformer.md.
#include "workloads/model/nlp/attention_blocks.h"

#include <fmt/core.h>
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/strings.h"
#include "workloads/common/zipf.h"

namespace dlbench::model::nlp {

torch::Tensor key_padding_mask(const torch::Tensor& lengths, int64_t keys) {
  torch::Tensor positions = torch::arange(keys, lengths.options().dtype(torch::kLong));
  torch::Tensor padded = positions.unsqueeze(0) >= lengths.to(torch::kLong).unsqueeze(1);
  return torch::zeros(padded.sizes(), lengths.options().dtype(torch::kFloat))
      .masked_fill(padded, kMaskedScore)
      .view({lengths.size(0), 1, 1, keys});
}

torch::Tensor causal_mask(int64_t length, const torch::Device& device) {
  torch::Tensor future =
      torch::ones({length, length}, torch::dtype(torch::kBool).device(device)).triu(1);
  return torch::zeros({length, length}, torch::dtype(torch::kFloat).device(device))
      .masked_fill(future, kMaskedScore)
      .view({1, 1, length, length});
}

torch::Tensor sinusoidal_positions(int64_t length, int64_t d_model) {
  torch::Tensor position = torch::arange(length, torch::kFloat).unsqueeze(1);
  torch::Tensor even = torch::arange(0, d_model, 2, torch::kFloat);
  torch::Tensor angle = position * torch::exp(even * (-std::log(10000.0) / d_model));
  torch::Tensor pe = torch::zeros({length, d_model});
  pe.index_put_({torch::indexing::Slice(), torch::indexing::Slice(0, torch::indexing::None, 2)},
                torch::sin(angle));
  const int64_t odd = d_model / 2;
  pe.index_put_({torch::indexing::Slice(), torch::indexing::Slice(1, torch::indexing::None, 2)},
                torch::cos(angle).narrow(1, 0, odd));
  return pe;
}

// ---------------------------------------------------------------------------------------------

MultiheadAttentionImpl::MultiheadAttentionImpl(int64_t d_model_, int64_t heads_,
                                               double attention_dropout, bool fused_, bool cross_)
    : d_model(d_model_), heads(heads_), fused(fused_), cross(cross_) {
  if (d_model % heads != 0) throw Error("attention: d_model must be a multiple of heads");
  if (fused && !cross) {
    qkv = register_module("qkv", torch::nn::Linear(d_model, 3 * d_model));
  } else {
    q = register_module("q", torch::nn::Linear(d_model, d_model));
    if (fused) {
      kv = register_module("kv", torch::nn::Linear(d_model, 2 * d_model));
    } else {
      k = register_module("k", torch::nn::Linear(d_model, d_model));
      v = register_module("v", torch::nn::Linear(d_model, d_model));
    }
  }
  out = register_module("out", torch::nn::Linear(d_model, d_model));
  dropout = register_module("dropout", torch::nn::Dropout(attention_dropout));
}

std::pair<torch::Tensor, torch::Tensor> MultiheadAttentionImpl::attend(const torch::Tensor& query,
                                                                       const torch::Tensor& memory,
                                                                       const torch::Tensor& mask) {
  const int64_t batch = query.size(0);
  const int64_t tq = query.size(1);
  const int64_t tk = memory.size(1);
  const int64_t dh = d_model / heads;
  torch::Tensor qs, ks, vs;
  if (fused && !cross) {
    std::vector<torch::Tensor> parts = counted(qkv, query).chunk(3, -1);
    qs = parts[0], ks = parts[1], vs = parts[2];
  } else {
    qs = counted(q, query);
    if (fused) {
      std::vector<torch::Tensor> parts = counted(kv, memory).chunk(2, -1);
      ks = parts[0], vs = parts[1];
    } else {
      ks = counted(k, memory);
      vs = counted(v, memory);
    }
  }
  auto split = [&](const torch::Tensor& t, int64_t length) {
    return t.reshape({batch, length, heads, dh}).transpose(1, 2);  // [B, h, T, dh]
  };
  torch::Tensor scores = counted_matmul(split(qs, tq) * (1.0 / std::sqrt(static_cast<double>(dh))),
                                        split(ks, tk).transpose(-2, -1));  // [B, h, Tq, Tk]
  if (mask.defined()) scores = scores + mask;
  torch::Tensor weights = torch::softmax(scores.to(torch::kFloat), -1);
  torch::Tensor context = counted_matmul(dropout(weights), split(vs, tk));  // [B, h, Tq, dh]
  context = context.transpose(1, 2).reshape({batch, tq, d_model});
  return {counted(out, context), weights};
}

torch::Tensor MultiheadAttentionImpl::forward(const torch::Tensor& query,
                                              const torch::Tensor& memory,
                                              const torch::Tensor& mask) {
  return attend(query, memory, mask).first;
}

namespace {
torch::Tensor activation(const torch::Tensor& x, bool gelu) {
  return gelu ? torch::gelu(x) : torch::relu(x);
}
torch::nn::LayerNorm layer_norm(int64_t d, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(eps));
}
}  // namespace

EncoderLayerImpl::EncoderLayerImpl(const LayerOptions& o) : options(o) {
  attention = register_module(
      "attention", MultiheadAttention(o.d_model, o.heads, o.attention_dropout, o.fused_qkv, false));
  ffn1 = register_module("ffn1", torch::nn::Linear(o.d_model, o.ffn));
  ffn2 = register_module("ffn2", torch::nn::Linear(o.ffn, o.d_model));
  norm1 = register_module("norm1", layer_norm(o.d_model, o.norm_eps));
  norm2 = register_module("norm2", layer_norm(o.d_model, o.norm_eps));
  dropout = register_module("dropout", torch::nn::Dropout(o.dropout));
}

torch::Tensor EncoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  torch::Tensor h = norm1(x + dropout(attention(x, x, mask)));
  torch::Tensor f = counted(ffn2, activation(counted(ffn1, h), options.gelu));
  return norm2(h + dropout(f));
}

DecoderLayerImpl::DecoderLayerImpl(const LayerOptions& o) : options(o) {
  self_attention = register_module(
      "self_attention",
      MultiheadAttention(o.d_model, o.heads, o.attention_dropout, o.fused_qkv, false));
  cross_attention = register_module(
      "cross_attention",
      MultiheadAttention(o.d_model, o.heads, o.attention_dropout, o.fused_qkv, true));
  ffn1 = register_module("ffn1", torch::nn::Linear(o.d_model, o.ffn));
  ffn2 = register_module("ffn2", torch::nn::Linear(o.ffn, o.d_model));
  norm1 = register_module("norm1", layer_norm(o.d_model, o.norm_eps));
  norm2 = register_module("norm2", layer_norm(o.d_model, o.norm_eps));
  norm3 = register_module("norm3", layer_norm(o.d_model, o.norm_eps));
  dropout = register_module("dropout", torch::nn::Dropout(o.dropout));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& memory,
                                        const torch::Tensor& self_mask,
                                        const torch::Tensor& memory_mask) {
  torch::Tensor h = norm1(x + dropout(self_attention(x, x, self_mask)));
  h = norm2(h + dropout(cross_attention(h, memory, memory_mask)));
  torch::Tensor f = counted(ffn2, activation(counted(ffn1, h), options.gelu));
  return norm3(h + dropout(f));
}

double encoder_layer_flops(double n, double d, double f) {
  return 8 * n * d * d + 4 * n * n * d + 4 * n * d * f;
}

double decoder_layer_flops(double m, double n, double d, double f) {
  const double self = 8 * m * d * d + 4 * m * m * d;
  const double cross = 4 * m * d * d + 4 * n * d * d + 4 * m * n * d;
  return self + cross + 4 * m * d * f;
}

// ---------------------------------------------------------------------------------------------

torch::Tensor label_smoothed_cross_entropy(const torch::Tensor& logits,
                                           const torch::Tensor& targets, double smoothing,
                                           int64_t ignore_index) {
  torch::Tensor log_probs = torch::log_softmax(logits.to(torch::kFloat), -1);
  torch::Tensor keep = targets != ignore_index;
  torch::Tensor safe = targets.masked_fill(~keep, 0).unsqueeze(-1);
  torch::Tensor nll = -log_probs.gather(-1, safe).squeeze(-1);
  torch::Tensor uniform = -log_probs.mean(-1);
  torch::Tensor loss = (1 - smoothing) * nll + smoothing * uniform;
  torch::Tensor kept = keep.to(torch::kFloat);
  return (loss * kept).sum() / kept.sum().clamp_min(1);
}

torch::Tensor greedy_decode(const NextTokenLogProbs& next, int64_t rows, int64_t steps,
                            const SpecialTokens& tokens, const torch::Device& device) {
  auto long_options = torch::dtype(torch::kLong).device(device);
  torch::Tensor prefix = torch::full({rows, 1}, tokens.bos, long_options);
  torch::Tensor finished = torch::zeros({rows}, torch::dtype(torch::kBool).device(device));
  for (int64_t t = 0; t < steps; ++t) {
    torch::Tensor best = next(prefix).argmax(-1);
    best = best.masked_fill(finished, tokens.pad);
    finished = finished | (best == tokens.eos);
    prefix = torch::cat({prefix, best.unsqueeze(1)}, 1);
  }
  return prefix.narrow(1, 1, steps);
}

BeamResult beam_search(const NextTokenLogProbs& next, int64_t batch, int64_t beam, int64_t steps,
                       double alpha, const SpecialTokens& tokens, const torch::Device& device,
                       const std::function<void(const torch::Tensor&)>& reorder) {
  const int64_t rows = batch * beam;
  auto long_options = torch::dtype(torch::kLong).device(device);
  auto float_options = torch::dtype(torch::kFloat).device(device);
  torch::Tensor prefix = torch::full({rows, 1}, tokens.bos, long_options);
  // Only the first hypothesis of each input is alive at the start (they are all the same).
  torch::Tensor scores = torch::full({batch, beam}, kMaskedScore, float_options);
  scores.select(1, 0).fill_(0);
  torch::Tensor finished = torch::zeros({batch, beam}, torch::dtype(torch::kBool).device(device));
  torch::Tensor lengths = torch::zeros({batch, beam}, long_options);
  torch::Tensor base = (torch::arange(batch, long_options) * beam).unsqueeze(1);  // [B, 1]
  for (int64_t t = 0; t < steps; ++t) {
    torch::Tensor log_probs = next(prefix).to(torch::kFloat);  // [rows, V]
    const int64_t vocab = log_probs.size(1);
    if (vocab < beam) throw Error("beam_search: the vocabulary is smaller than the beam");
    // A finished hypothesis continues with PAD only, at no cost.
    torch::Tensor pad_only = torch::full({vocab}, kMaskedScore, float_options);
    pad_only[tokens.pad] = 0;
    log_probs = torch::where(finished.view({rows, 1}), pad_only.unsqueeze(0), log_probs);
    torch::Tensor candidates = (scores.view({rows, 1}) + log_probs).view({batch, beam * vocab});
    auto [top_scores, top_index] = candidates.topk(beam, -1);  // [B, beam]
    torch::Tensor parent = torch::div(top_index, vocab, "floor");
    torch::Tensor token = top_index.remainder(vocab);
    torch::Tensor parent_rows = (base + parent).view({rows});
    prefix = torch::cat({prefix.index_select(0, parent_rows), token.view({rows, 1})}, 1);
    torch::Tensor was_finished =
        finished.view({rows}).index_select(0, parent_rows).view({batch, beam});
    lengths = lengths.view({rows}).index_select(0, parent_rows).view({batch, beam}) +
              (~was_finished).to(torch::kLong);
    finished = was_finished | (token == tokens.eos);
    scores = top_scores;
    if (reorder) reorder(parent_rows);
  }
  torch::Tensor penalty = torch::pow((5.0 + lengths.to(torch::kFloat)) / 6.0, alpha);
  torch::Tensor normalized = scores / penalty;
  auto [best_score, best] = normalized.max(-1);
  torch::Tensor best_rows = base.squeeze(1) + best;
  return {prefix.index_select(0, best_rows).narrow(1, 1, steps), best_score};
}

// ---------------------------------------------------------------------------------------------

MaskedLm mask_tokens(const torch::Tensor& tokens, const torch::Tensor& candidates,
                     double probability, int64_t max_predictions, int64_t mask_id,
                     int64_t first_random, int64_t vocab) {
  const int64_t batch = tokens.size(0);
  MaskedLm m;
  m.input_ids = tokens.clone();
  m.positions = torch::zeros({batch, max_predictions}, torch::kLong);
  m.labels = torch::zeros({batch, max_predictions}, torch::kLong);
  m.weights = torch::zeros({batch, max_predictions}, torch::kFloat);
  for (int64_t b = 0; b < batch; ++b) {
    torch::Tensor where = candidates[b].nonzero().view({-1});
    const int64_t n = where.size(0);
    if (n == 0) continue;
    const int64_t chosen = std::min<int64_t>(
        max_predictions,
        std::max<int64_t>(
            1, static_cast<int64_t>(std::llround(static_cast<double>(n) * probability))));
    // Sorted positions, as the reference lists them.
    torch::Tensor picked =
        std::get<0>(where.index_select(0, torch::randperm(n).narrow(0, 0, chosen)).sort());
    torch::Tensor originals = tokens[b].index_select(0, picked);
    torch::Tensor draw = torch::rand({chosen});
    torch::Tensor random_tokens = torch::randint(first_random, vocab, {chosen}, torch::kLong);
    torch::Tensor replaced = torch::where(draw < 0.8, torch::full({chosen}, mask_id, torch::kLong),
                                          torch::where(draw < 0.9, random_tokens, originals));
    m.input_ids[b].index_put_({picked}, replaced);
    m.positions[b].narrow(0, 0, chosen).copy_(picked);
    m.labels[b].narrow(0, 0, chosen).copy_(originals);
    m.weights[b].narrow(0, 0, chosen).fill_(1);
  }
  return m;
}

BeamResult translate(const NextTokenLogProbs& next, int64_t batch, bool beam_search_mode,
                     int64_t beam, int64_t steps, double alpha, const torch::Device& device,
                     const std::function<void(const torch::Tensor&)>& reorder) {
  const SpecialTokens special;
  if (beam_search_mode) {
    return beam_search(next, batch, beam, steps, alpha, special, device, reorder);
  }
  std::vector<torch::Tensor> best_log_probs;
  auto recording = [&](const torch::Tensor& prefix) {
    torch::Tensor log_probs = next(prefix);
    best_log_probs.push_back(std::get<0>(log_probs.max(-1)));
    return log_probs;
  };
  BeamResult result;
  result.tokens = greedy_decode(recording, batch, steps, special, device);
  result.scores = torch::stack(best_log_probs, 1).sum(1);
  return result;
}

TranslationWorkload::TranslationWorkload(const Problem& problem)
    : ModelWorkload(problem), beam_search_(problem.get("decode") == "beam") {}

WorkCounts TranslationWorkload::work() const {
  WorkCounts w = ModelWorkload::work();
  w.samples = tokens_per_step();
  return w;
}

std::string TranslationWorkload::token_unit() const {
  return training_ ? "target tokens" : "generated tokens";
}

void TranslationWorkload::generate_lengths(int64_t seq) {
  seq_ = seq;
  lengths_ = sentence_lengths(batch(), seq, seed_ + 17);
}

double TranslationWorkload::tokens_per_step() const {
  if (!training_) return static_cast<double>(batch() * decode_steps());
  return target_tokens(lengths_);
}

std::pair<std::string, std::string> TranslationWorkload::input_fact() const {
  return {"input",
          fmt::format("source and target padded to {} tokens; content lengths {}..{} + EOS; "
                      "Zipf-distributed tokens; target = a fixed token permutation of the source",
                      seq_, *std::min_element(lengths_.begin(), lengths_.end()),
                      *std::max_element(lengths_.begin(), lengths_.end()))};
}

std::vector<int64_t> sentence_lengths(int64_t batch, int64_t seq, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int64_t longest = seq - 1;
  const int64_t shortest = std::max<int64_t>(1, (longest + 1) / 2);
  std::uniform_int_distribution<int64_t> length(shortest, longest);
  std::vector<int64_t> lengths;
  for (int64_t b = 0; b < batch; ++b) lengths.push_back(length(rng));
  return lengths;
}

double target_tokens(const std::vector<int64_t>& lengths) {
  double tokens = 0;
  for (int64_t n : lengths) tokens += static_cast<double>(n + 1);
  return tokens;
}

TranslationBatch translation_batch(const std::vector<int64_t>& lengths, int64_t seq, int64_t vocab,
                                   int64_t first_word, const SpecialTokens& special) {
  const int64_t b = static_cast<int64_t>(lengths.size());
  torch::Tensor content = zipf_tokens({b, seq}, first_word, vocab);
  torch::Tensor mapped = (vocab - 1) - (content - first_word);
  TranslationBatch batch;
  batch.source = torch::full({b, seq}, special.pad, torch::kLong);
  batch.target_input = torch::full({b, seq}, special.pad, torch::kLong);
  batch.labels = torch::full({b, seq}, special.pad, torch::kLong);
  std::vector<int64_t> real(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; ++i) {
    const int64_t n = lengths[static_cast<size_t>(i)];
    batch.source[i].narrow(0, 0, n).copy_(content[i].narrow(0, 0, n));
    batch.source[i][n] = special.eos;
    batch.target_input[i][0] = special.bos;
    batch.target_input[i].narrow(0, 1, n).copy_(mapped[i].narrow(0, 0, n));
    batch.labels[i].narrow(0, 0, n).copy_(mapped[i].narrow(0, 0, n));
    batch.labels[i][n] = special.eos;
    real[static_cast<size_t>(i)] = n + 1;
  }
  batch.lengths = torch::tensor(real, torch::kLong);
  return batch;
}

torch::Tensor zipf_tokens(at::IntArrayRef shape, int64_t first, int64_t vocab, double exponent) {
  const int64_t kinds = vocab - first;
  if (kinds < 1) throw Error("zipf_tokens: no regular tokens in the vocabulary");
  torch::Tensor draws = zipf_ranks(shape, kinds, exponent, torch::kCPU);
  return draws + first;
}

}  // namespace dlbench::model::nlp
