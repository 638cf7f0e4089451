// model/gpt's network: a decoder-only language model in the Llama form (Touvron et al. 2023):
// pre-norm RMSNorm, rotary position embeddings (Su et al., RoFormer), SwiGLU feed-forward
// (Shazeer 2020), grouped-query attention (Ainslie et al. 2023), no biases, causal. Declared here
// so the tests can check the parts (RoPE, RMSNorm, GQA, the KV cache) against references; defined
// in gpt.cc with the workload. FLOPs: docs/workloads/gpt.md.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace dlbench::model {

/// The shape of the network (TinyLlama-1.1B's values by default).
struct GptConfig {
  int64_t layers = 22;        ///< decoder layers
  int64_t d_model = 2048;     ///< hidden size
  int64_t heads = 32;         ///< query heads
  int64_t kv_heads = 4;       ///< key/value heads (heads: multi-head; 1: multi-query)
  int64_t ffn = 5632;         ///< SwiGLU inner size
  int64_t vocab = 32000;      ///< vocabulary
  int64_t max_len = 2048;     ///< positions the rotary tables (and a KV cache) hold
  bool tied = false;          ///< output head shares the embedding matrix
  double rope_theta = 10000;  ///< rotary base
  double norm_eps = 1e-5;     ///< RMSNorm epsilon

  int64_t head_dim() const { return d_model / heads; }
  /// Query heads per key/value head.
  int64_t group() const { return heads / kv_heads; }
};

/// Root-mean-square normalisation (Zhang & Sennrich 2019): x / sqrt(mean(x^2) + eps) * weight,
/// over the last dimension, computed in fp32.
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;  ///< per-channel gain, initialised to 1

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

/// Rotary tables: cos and sin of position x frequency, [max_len, head_dim / 2] (fp32), frequency
/// i = theta^(-2i / head_dim).
struct RotaryTables {
  torch::Tensor cos, sin;
};
RotaryTables rotary_tables(int64_t max_len, int64_t head_dim, double theta);

/// Rotary position embedding of x [..., T, head_dim] whose rows sit at positions start..start+T-1:
/// each pair (2i, 2i+1) is rotated by the angle position x frequency i (RoFormer eq. 34, the
/// pairing of Meta's Llama code). Returns x's dtype.
torch::Tensor apply_rotary(const torch::Tensor& x, const RotaryTables& tables, int64_t start);

/// One layer's preallocated KV cache, each [batch, kv_heads, max_len, head_dim], written in place.
struct KvCache {
  torch::Tensor keys, values;
};

/// Grouped-query causal self-attention: `heads` query heads share `kv_heads` key/value heads
/// (query head h uses key/value head h / group), rotary embedding on queries and keys, no biases.
class GqaAttentionImpl : public torch::nn::Module {
 public:
  explicit GqaAttentionImpl(const GptConfig& config);
  /// x [B, T, d] at positions start..start+T-1. With a cache, writes this chunk's keys and values
  /// at those positions and attends over positions 0..start+T-1; without one (start = 0), over
  /// the chunk itself. `mask` [T, start+T] is added to the scores (undefined: no mask).
  /// QK^T and PV are full matrix products (counted as such); the causal mask is additive.
  torch::Tensor forward(const torch::Tensor& x, const RotaryTables& rope, int64_t start,
                        KvCache* cache, const torch::Tensor& mask);

  torch::nn::Linear wq{nullptr}, wk{nullptr}, wv{nullptr}, wo{nullptr};

 private:
  GptConfig config_;
};
TORCH_MODULE(GqaAttention);

/// SwiGLU feed-forward: down(silu(gate(x)) * up(x)), no biases.
class SwiGluImpl : public torch::nn::Module {
 public:
  SwiGluImpl(int64_t d_model, int64_t ffn);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear gate{nullptr}, up{nullptr}, down{nullptr};
};
TORCH_MODULE(SwiGlu);

/// One pre-norm decoder layer: h = x + attention(norm(x)); h + ffn(norm(h)).
class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const GptConfig& config);
  torch::Tensor forward(const torch::Tensor& x, const RotaryTables& rope, int64_t start,
                        KvCache* cache, const torch::Tensor& mask);
  RMSNorm attention_norm{nullptr}, ffn_norm{nullptr};
  GqaAttention attention{nullptr};
  SwiGlu ffn{nullptr};
};
TORCH_MODULE(DecoderLayer);

/// Greedy generation's output.
struct Generation {
  torch::Tensor tokens;       ///< [B, n] generated tokens
  torch::Tensor last_logits;  ///< [B, vocab] logits that chose the last token (fp32)
};

/// The decoder-only language model: token embedding, decoder layers, final RMSNorm, output head.
class GptNetImpl : public torch::nn::Module {
 public:
  explicit GptNetImpl(const GptConfig& config);
  const GptConfig& config() const { return config_; }

  /// Final-norm hidden states [B, T, d] of tokens [B, T] at positions start..start+T-1; with
  /// `caches` (one per layer) the keys and values are written to and read from them.
  torch::Tensor hidden(const torch::Tensor& tokens, int64_t start, std::vector<KvCache>* caches);
  /// The output head on hidden states [..., d] -> logits [..., vocab].
  torch::Tensor logits(const torch::Tensor& hidden);

  /// Zeroed caches for `batch` sequences of up to max_len tokens.
  std::vector<KvCache> make_caches(int64_t batch, torch::ScalarType dtype,
                                   const torch::Device& device) const;
  /// Serving's prefill: the prompt [B, T] into the caches at positions 0..T-1; the logits of its
  /// last position [B, vocab] (the head runs on that position only).
  torch::Tensor prefill(const torch::Tensor& prompt, std::vector<KvCache>& caches);
  /// One decode step: tokens [B] at `position`, written to that cache slot; attends over
  /// positions 0..position. Returns the next-token logits [B, vocab].
  torch::Tensor decode(const torch::Tensor& tokens, int64_t position, std::vector<KvCache>& caches);
  /// Greedy generation of `n` tokens with the KV cache: prefill gives the first, n - 1 decode
  /// steps the rest.
  Generation generate_cached(const torch::Tensor& prompt, int64_t n, std::vector<KvCache>& caches);
  /// Greedy generation of `n` tokens recomputing the whole sequence for each (no cache): the
  /// reference the cached path must equal.
  Generation generate_recompute(const torch::Tensor& prompt, int64_t n);

  torch::nn::Embedding embedding{nullptr};
  std::vector<DecoderLayer> layers;
  RMSNorm norm{nullptr};
  torch::nn::Linear head{nullptr};  ///< null when tied

 private:
  GptConfig config_;
  RotaryTables rope_;
};
TORCH_MODULE(GptNet);

/// The additive causal mask [T, start+T] of a chunk at positions start..start+T-1: 0 where the
/// key position <= the query position, -inf elsewhere.
torch::Tensor causal_mask(int64_t chunk, int64_t start, const torch::Device& device);

}  // namespace dlbench::model
