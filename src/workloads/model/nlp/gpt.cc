// model/gpt: a decoder-only language model in today's (Llama) form, trained on next-token
// prediction and served with a KV cache. Touvron et al., "LLaMA: Open and Efficient Foundation
// Language Models", arXiv:2302.13971, 2023 (pre-norm RMSNorm, SwiGLU, rotary embeddings, AdamW
// 0.9/0.95, weight decay 0.1); Su et al., "RoFormer", arXiv:2104.09864; Shazeer, "GLU Variants
// Improve Transformer", arXiv:2002.05202; Ainslie et al., "GQA", EMNLP 2023; full preset =
// TinyLlama-1.1B (Zhang et al., "TinyLlama: An Open-Source Small Language Model",
// arXiv:2401.02385, and its Hugging Face config). mode=infer is serving: one step = prefill of a
// batch of prompts into a preallocated KV cache plus greedy decoding; probes time prefill (TTFT)
// and one decode step (TPOT). FLOPs: GptModel::analytic_flops; see docs/workloads/gpt.md.
#include "workloads/model/nlp/gpt.h"

#include <fmt/core.h>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/registry.h"
#include "core/strings.h"
#include "data/catalog.h"
#include "nn/quality_metrics.h"
#include "workloads/model/model.h"

namespace dlbench::model {

// ---------------------------------------------------------------------------------------------
// The network.

RMSNormImpl::RMSNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  torch::Tensor xf = x.to(torch::kFloat);
  torch::Tensor normed = xf * torch::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  return normed.to(x.scalar_type()) * weight;
}

RotaryTables rotary_tables(int64_t max_len, int64_t head_dim, double theta) {
  auto options = torch::dtype(torch::kDouble);
  torch::Tensor i = torch::arange(head_dim / 2, options);
  torch::Tensor frequency = torch::pow(theta, -2.0 * i / static_cast<double>(head_dim));
  torch::Tensor angle = torch::outer(torch::arange(max_len, options), frequency);
  return {torch::cos(angle).to(torch::kFloat), torch::sin(angle).to(torch::kFloat)};
}

torch::Tensor apply_rotary(const torch::Tensor& x, const RotaryTables& tables, int64_t start) {
  const int64_t length = x.size(-2);
  const int64_t half = x.size(-1) / 2;
  torch::Tensor cos = tables.cos.narrow(0, start, length);  // [T, half], broadcast over heads
  torch::Tensor sin = tables.sin.narrow(0, start, length);
  std::vector<int64_t> pair_shape(x.sizes().begin(), x.sizes().end() - 1);
  pair_shape.push_back(half);
  pair_shape.push_back(2);
  torch::Tensor pairs = x.reshape(pair_shape);
  torch::Tensor even = pairs.select(-1, 0), odd = pairs.select(-1, 1);
  torch::Tensor rotated =
      torch::stack({even * cos - odd * sin, even * sin + odd * cos}, -1).flatten(-2);
  return rotated.to(x.scalar_type());
}

torch::Tensor causal_mask(int64_t chunk, int64_t start, const torch::Device& device) {
  return torch::full({chunk, start + chunk}, -std::numeric_limits<float>::infinity(),
                     torch::device(device))
      .triu(start + 1);
}

GqaAttentionImpl::GqaAttentionImpl(const GptConfig& config) : config_(config) {
  const int64_t d = config.d_model, dh = config.head_dim();
  auto linear = [](int64_t in, int64_t out) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
  };
  wq = register_module("wq", linear(d, config.heads * dh));
  wk = register_module("wk", linear(d, config.kv_heads * dh));
  wv = register_module("wv", linear(d, config.kv_heads * dh));
  wo = register_module("wo", linear(config.heads * dh, d));
}

torch::Tensor GqaAttentionImpl::forward(const torch::Tensor& x, const RotaryTables& rope,
                                        int64_t start, KvCache* cache, const torch::Tensor& mask) {
  const int64_t batch = x.size(0), length = x.size(1);
  const int64_t heads = config_.heads, kv_heads = config_.kv_heads, dh = config_.head_dim();
  const int64_t group = config_.group();
  torch::Tensor q = counted(wq, x).view({batch, length, heads, dh}).transpose(1, 2);
  torch::Tensor k = counted(wk, x).view({batch, length, kv_heads, dh}).transpose(1, 2);
  torch::Tensor v = counted(wv, x).view({batch, length, kv_heads, dh}).transpose(1, 2);
  q = apply_rotary(q, rope, start);
  k = apply_rotary(k, rope, start);
  if (cache != nullptr) {
    cache->keys.narrow(2, start, length).copy_(k);
    cache->values.narrow(2, start, length).copy_(v);
    k = cache->keys.narrow(2, 0, start + length);
    v = cache->values.narrow(2, 0, start + length);
  }
  const int64_t context = k.size(2);
  // The `group` query heads of one key/value head attend as one [group x T]-row matrix against
  // that head's keys: no copies of K and V per query head.
  torch::Tensor grouped = q.reshape({batch, kv_heads, group * length, dh});
  torch::Tensor scores =
      counted_matmul(grouped, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(dh));
  if (mask.defined()) {
    scores = (scores.view({batch, kv_heads, group, length, context}) + mask)
                 .view({batch, kv_heads, group * length, context});
  }
  torch::Tensor probabilities = torch::softmax(scores, -1, torch::kFloat);
  torch::Tensor out = counted_matmul(probabilities.to(v.scalar_type()), v);  // [B, KV, G*T, dh]
  out = out.view({batch, heads, length, dh}).transpose(1, 2).reshape({batch, length, heads * dh});
  return counted(wo, out);
}

SwiGluImpl::SwiGluImpl(int64_t d_model, int64_t ffn) {
  auto linear = [](int64_t in, int64_t out) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
  };
  gate = register_module("gate", linear(d_model, ffn));
  up = register_module("up", linear(d_model, ffn));
  down = register_module("down", linear(ffn, d_model));
}

torch::Tensor SwiGluImpl::forward(const torch::Tensor& x) {
  return counted(down, torch::silu(counted(gate, x)) * counted(up, x));
}

DecoderLayerImpl::DecoderLayerImpl(const GptConfig& config) {
  attention_norm = register_module("attention_norm", RMSNorm(config.d_model, config.norm_eps));
  attention = register_module("attention", GqaAttention(config));
  ffn_norm = register_module("ffn_norm", RMSNorm(config.d_model, config.norm_eps));
  ffn = register_module("ffn", SwiGlu(config.d_model, config.ffn));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const RotaryTables& rope,
                                        int64_t start, KvCache* cache, const torch::Tensor& mask) {
  torch::Tensor h = x + attention->forward(attention_norm(x), rope, start, cache, mask);
  return h + ffn(ffn_norm(h));
}

GptNetImpl::GptNetImpl(const GptConfig& config) : config_(config) {
  if (config.d_model % config.heads != 0 || config.head_dim() % 2 != 0) {
    throw Error("model/gpt: d_model must be a multiple of heads with an even head dimension");
  }
  if (config.heads % config.kv_heads != 0) {
    throw Error("model/gpt: heads must be a multiple of kv_heads");
  }
  embedding = register_module("embedding", torch::nn::Embedding(config.vocab, config.d_model));
  for (int64_t i = 0; i < config.layers; ++i) {
    layers.push_back(register_module("layer" + std::to_string(i), DecoderLayer(config)));
  }
  norm = register_module("norm", RMSNorm(config.d_model, config.norm_eps));
  if (!config.tied) {
    head = register_module(
        "head",
        torch::nn::Linear(torch::nn::LinearOptions(config.d_model, config.vocab).bias(false)));
  }
  // Buffers, so they follow the module to its device (not parameters: not trained or counted).
  RotaryTables tables = rotary_tables(config.max_len, config.head_dim(), config.rope_theta);
  rope_.cos = register_buffer("rope_cos", tables.cos);
  rope_.sin = register_buffer("rope_sin", tables.sin);
  // Llama's reference initialisation (Hugging Face initializer_range): N(0, 0.02) for every
  // matrix, RMSNorm gains 1.
  torch::NoGradGuard no_grad;
  for (auto& p : named_parameters()) {
    if (p.value().dim() == 2) torch::nn::init::normal_(p.value(), 0.0, 0.02);
  }
}

torch::Tensor GptNetImpl::hidden(const torch::Tensor& tokens, int64_t start,
                                 std::vector<KvCache>* caches) {
  const int64_t length = tokens.size(1);
  if (start + length > config_.max_len) {
    throw Error(fmt::format("model/gpt: position {} beyond the {} the rotary tables hold",
                            start + length, config_.max_len));
  }
  torch::Tensor mask = length > 1 ? causal_mask(length, start, tokens.device()) : torch::Tensor();
  torch::Tensor x = embedding(tokens);
  for (size_t i = 0; i < layers.size(); ++i) {
    x = layers[i]->forward(x, rope_, start, caches ? &(*caches)[i] : nullptr, mask);
  }
  return norm(x);
}

torch::Tensor GptNetImpl::logits(const torch::Tensor& hidden) {
  if (config_.tied) return counted_matmul(hidden, embedding->weight.t());
  return counted(head, hidden);
}

std::vector<KvCache> GptNetImpl::make_caches(int64_t batch, torch::ScalarType dtype,
                                             const torch::Device& device) const {
  std::vector<KvCache> caches;
  auto options = torch::dtype(dtype).device(device);
  for (int64_t i = 0; i < config_.layers; ++i) {
    caches.push_back(
        {torch::zeros({batch, config_.kv_heads, config_.max_len, config_.head_dim()}, options),
         torch::zeros({batch, config_.kv_heads, config_.max_len, config_.head_dim()}, options)});
  }
  return caches;
}

torch::Tensor GptNetImpl::prefill(const torch::Tensor& prompt, std::vector<KvCache>& caches) {
  torch::Tensor h = hidden(prompt, 0, &caches);
  return logits(h.select(1, h.size(1) - 1)).to(torch::kFloat);
}

torch::Tensor GptNetImpl::decode(const torch::Tensor& tokens, int64_t position,
                                 std::vector<KvCache>& caches) {
  torch::Tensor h = hidden(tokens.unsqueeze(1), position, &caches);
  return logits(h.select(1, 0)).to(torch::kFloat);
}

Generation GptNetImpl::generate_cached(const torch::Tensor& prompt, int64_t n,
                                       std::vector<KvCache>& caches) {
  std::vector<torch::Tensor> generated;
  torch::Tensor logits_now = prefill(prompt, caches);
  generated.push_back(logits_now.argmax(-1));
  for (int64_t i = 1; i < n; ++i) {
    logits_now = decode(generated.back(), prompt.size(1) + i - 1, caches);
    generated.push_back(logits_now.argmax(-1));
  }
  return {torch::stack(generated, 1), logits_now};
}

Generation GptNetImpl::generate_recompute(const torch::Tensor& prompt, int64_t n) {
  torch::Tensor sequence = prompt;
  torch::Tensor logits_now;
  for (int64_t i = 0; i < n; ++i) {
    torch::Tensor h = hidden(sequence, 0, nullptr);
    logits_now = logits(h.select(1, h.size(1) - 1)).to(torch::kFloat);
    sequence = torch::cat({sequence, logits_now.argmax(-1, /*keepdim=*/true)}, 1);
  }
  return {sequence.narrow(1, prompt.size(1), n), logits_now};
}

// ---------------------------------------------------------------------------------------------
// The workload.

namespace {

class GptModel : public ModelWorkload {
 public:
  static WorkloadInfo info() {
    return quality_model_info(
        "model/gpt",
        "Decoder-only language model in the Llama form (RMSNorm, RoPE, SwiGLU, grouped-query "
        "attention; full = TinyLlama-1.1B): next-token training with AdamW, or serving "
        "(prefill + greedy decode with a KV cache; TTFT and TPOT probes)",
        {ParamSpec::integer("layers", 0, "decoder layers (0: preset: 2 / 6 / 22)", 0),
         ParamSpec::integer("d_model", 0, "hidden size (0: preset: 64 / 384 / 2048)", 0),
         ParamSpec::integer("heads", 0, "query heads (0: preset: 4 / 6 / 32)", 0),
         ParamSpec::integer("kv_heads", 0, "key/value heads, dividing heads (0: preset: 2 / 2 / 4)",
                            0),
         ParamSpec::integer("ffn", 0, "SwiGLU inner size (0: preset: 176 / 1024 / 5632)", 0),
         ParamSpec::integer("vocab", 0, "vocabulary (0: preset: 256 / 8192 / 32000)", 0),
         ParamSpec::integer("seq", 0,
                            "train: sequence length; infer: prompt length (0: preset: train "
                            "32 / 128 / 2048, infer 16 / 128 / 1024)",
                            0),
         ParamSpec::integer("gen", 0,
                            "infer: tokens generated per sequence, the first by prefill (0: "
                            "preset: 8 / 32 / 128)",
                            0),
         ParamSpec::boolean("tied", false, "output head shares the embedding matrix")});
  }

  explicit GptModel(const Problem& problem) : ModelWorkload(problem) {
    config_.layers = param_or("layers", by_size<int64_t>(size_, 2, 6, 22));
    config_.d_model = param_or("d_model", by_size<int64_t>(size_, 64, 384, 2048));
    config_.heads = param_or("heads", by_size<int64_t>(size_, 4, 6, 32));
    config_.kv_heads = param_or("kv_heads", by_size<int64_t>(size_, 2, 2, 4));
    config_.ffn = param_or("ffn", by_size<int64_t>(size_, 176, 1024, 5632));
    // Quality runs model bytes (docs/workloads/gpt.md): a 256-entry vocabulary.
    config_.vocab = param_or("vocab", task_data_ ? 256 : by_size<int64_t>(size_, 256, 8192, 32000));
    if (task_data_ && config_.vocab < 256) {
      throw Error("model/gpt mode=quality models bytes: vocab must be at least 256");
    }
    config_.tied = problem.get_bool("tied");
    seq_ = training_ ? param_or("seq", by_size<int64_t>(size_, 32, 128, 2048))
                     : param_or("seq", by_size<int64_t>(size_, 16, 128, 1024));
    gen_ = param_or("gen", by_size<int64_t>(size_, 8, 32, 128));
    // Training needs seq positions; serving the prompt, gen - 1 decode positions and the decode
    // probe's slot at position seq.
    config_.max_len = training_ ? seq_ : seq_ + gen_;
    if (config_.d_model % config_.heads != 0 || config_.head_dim() % 2 != 0) {
      throw Error("model/gpt: d_model must be a multiple of heads with an even head dimension");
    }
    if (config_.kv_heads > config_.heads || config_.heads % config_.kv_heads != 0) {
      throw Error("model/gpt: kv_heads must divide heads");
    }
  }

  Flops analytic_flops() const override {
    const GptConfig& c = config_;
    const double d = static_cast<double>(c.d_model), dh = static_cast<double>(c.head_dim());
    const double heads = static_cast<double>(c.heads), kv = static_cast<double>(c.kv_heads);
    const double layers = static_cast<double>(c.layers), vocab = static_cast<double>(c.vocab);
    // Per token and layer: Q, K, V, O projections and the three SwiGLU matrices.
    const double token_layer = 2.0 * (d * heads * dh + 2 * d * kv * dh + heads * dh * d +
                                      3 * d * static_cast<double>(c.ffn));
    // Attention of `queries` tokens over `keys` positions, per layer: QK^T and PV, full matrices.
    auto attention = [&](double queries, double keys) { return 4.0 * heads * queries * keys * dh; };
    const double head = 2.0 * d * vocab;  // output head, per token it runs on
    const double s = static_cast<double>(seq_);
    if (training_) {
      // Every counted layer's input and weight need gradients (the first projection's input
      // comes from the trainable embedding): training = 3 x forward.
      double forward = layers * (s * token_layer + attention(s, s)) + s * head;
      return {forward, 3 * forward};
    }
    // Serving: prefill (head on the last position only), then gen - 1 decode steps, step i at
    // position seq + i attending over seq + i + 1 cached positions.
    double forward = layers * (s * token_layer + attention(s, s)) + head;
    for (int64_t i = 0; i + 1 < gen_; ++i) {
      forward += layers * (token_layer + attention(1, s + static_cast<double>(i) + 1)) + head;
    }
    double train_forward = layers * (s * token_layer + attention(s, s)) + s * head;
    return {forward, 3 * train_forward};
  }

  ModelFacts model_facts() const override {
    const GptConfig& c = config_;
    ModelFacts f;
    f.summary = fmt::format(
        "Llama-form decoder (RMSNorm, RoPE, SwiGLU, GQA): {} layers, d_model {}, {} heads / "
        "{} KV heads (head dim {}), FFN {}, vocab {}, {} head; {}",
        c.layers, c.d_model, c.heads, c.kv_heads, c.head_dim(), c.ffn, c.vocab,
        c.tied ? "tied" : "untied",
        training_ ? fmt::format("training on {}-token sequences", seq_)
                  : fmt::format("serving {}-token prompts + {} generated tokens", seq_, gen_));
    f.sample_unit = "tokens";
    f.preset_batch = task_data_  ? PresetBatch{8, 16, 32}
                     : training_ ? PresetBatch{4, 4, 8}
                                 : PresetBatch{2, 4, 16};
    f.optimizer = fmt::format(
        "AdamW, betas (0.9, 0.95), weight decay 0.1, constant lr {:g} (Llama; no "
        "warm-up, cosine decay or gradient clipping)",
        learning_rate());
    const bool tiny_llama = c.layers == 22 && c.d_model == 2048 && c.heads == 32 &&
                            c.kv_heads == 4 && c.ffn == 5632 && c.vocab == 32000 && !c.tied;
    if (tiny_llama) {
      f.published_parameters =
          PublishedCount{1.1e9, 0.01,
                         "TinyLlama-1.1B (Zhang et al. 2024, arXiv:2401.02385: '1.1B'; shape from "
                         "the Hugging Face config: 22 layers, hidden 2048, 32 heads, 4 KV heads, "
                         "intermediate 5632, vocab 32000, untied head)"};
    }
    return f;
  }

  /// Counted from the configuration, so `describe` and the published-count test need not build
  /// (and initialise) a billion parameters; a test holds it to the built network's count.
  int64_t parameter_count() const override {
    const GptConfig& c = config_;
    const int64_t dh = c.head_dim();
    const int64_t per_layer = c.d_model * c.heads * dh + 2 * c.d_model * c.kv_heads * dh +
                              c.heads * dh * c.d_model + 3 * c.d_model * c.ffn + 2 * c.d_model;
    return c.vocab * c.d_model * (c.tied ? 1 : 2) + c.layers * per_layer + c.d_model;
  }

  WorkCounts work() const override {
    WorkCounts work = ModelWorkload::work();
    // Per step: training sees batch x seq tokens; serving generates batch x gen tokens.
    work.samples = static_cast<double>(batch() * (training_ ? seq_ : gen_));
    return work;
  }

  std::vector<Probe> probes() override {
    if (training_) return {};
    const double b = static_cast<double>(batch());
    return {make_probe(
                "prefill",
                "prefill of the batch's prompts into the KV cache and the first token "
                "(time to first token, TTFT); samples = prompt tokens",
                [this] { first_token_ = gpt_->prefill(prompts_, caches_).argmax(-1); },
                b * static_cast<double>(seq_), "tokens"),
            make_probe(
                "decode",
                "one greedy decode step of the batch at position seq over seq + 1 cached "
                "positions, rewriting the same cache slot (time per output token, TPOT); "
                "samples = generated tokens",
                [this] { gpt_->decode(first_token_, seq_, caches_).argmax(-1); }, b, "tokens")};
  }

 protected:
  std::vector<std::pair<std::string, std::string>> facts() const override {
    const GptConfig& c = config_;
    const double cache_element = dtype_ == DType::kFp32 ? 4 : 2;
    const double cache_per_token =
        2.0 * static_cast<double>(c.layers * c.kv_heads * c.head_dim()) * cache_element;
    std::vector<std::pair<std::string, std::string>> facts = {
        {"architecture",
         fmt::format("token embedding {} x {}; {} x [RMSNorm, GQA attention (Q {} x {}, "
                     "K/V {} x {}, O), RMSNorm, SwiGLU {}]; RMSNorm; output head",
                     c.vocab, c.d_model, c.layers, c.heads, c.head_dim(), c.kv_heads, c.head_dim(),
                     c.ffn)},
        {"position encoding",
         fmt::format("rotary (RoPE), theta {:.0f}, interleaved pairs", c.rope_theta)},
        {"KV cache per token",
         fmt::format("{:.0f} bytes (2 x {} layers x {} KV heads x {} x {})", cache_per_token,
                     c.layers, c.kv_heads, c.head_dim(), dtype_ == DType::kFp32 ? "4 B" : "2 B")}};
    if (training_) {
      facts.push_back({"input", fmt::format("{} sequences x {} tokens (+1 shifted target), "
                                            "generated from a fixed random successor map",
                                            batch(), seq_)});
      facts.push_back({"loss", "next-token cross-entropy over every position"});
      facts.push_back({"throughput", "tokens/s = batch x seq per step"});
    } else {
      const double cache_bytes = cache_per_token * static_cast<double>(batch() * config_.max_len);
      facts.push_back(
          {"serving step",
           fmt::format("{} prompts x {} tokens prefilled into a preallocated KV cache "
                       "[batch, {}, {}, {}] per layer ({:.1f} MiB), then greedy decoding to {} "
                       "generated tokens per prompt (the first from prefill, {} decode steps)",
                       batch(), seq_, c.kv_heads, c.max_len, c.head_dim(),
                       cache_bytes / (1024.0 * 1024.0), gen_, gen_ - 1)});
      facts.push_back({"throughput", "generated tokens/s = batch x gen per step"});
      facts.push_back({"probes",
                       "prefill_time = time to first token (TTFT), prefill_throughput = prompt "
                       "tokens/s; decode_time = time per output token (TPOT) at context seq + 1, "
                       "decode_throughput = batch / TPOT tokens/s"});
    }
    return facts;
  }

  void build() override { gpt_ = net().register_module("gpt", GptNet(config_)); }

  void make_batch() override {
    auto options = torch::device(device());
    if (training_) {
      // Learnable text: every sequence follows a fixed random successor map from a random start
      // (a deterministic bigram language), so the loss can fall to near zero.
      torch::Tensor successor = torch::randperm(config_.vocab, torch::kLong);
      torch::Tensor sequences = torch::empty({batch(), seq_ + 1}, torch::kLong);
      sequences.select(1, 0).copy_(torch::randint(config_.vocab, {batch()}, torch::kLong));
      for (int64_t t = 0; t < seq_; ++t) {
        sequences.select(1, t + 1).copy_(successor.index_select(0, sequences.select(1, t)));
      }
      sequences = sequences.to(device());
      inputs_ = sequences.narrow(1, 0, seq_);
      targets_ = sequences.narrow(1, 1, seq_).contiguous();
    } else {
      prompts_ = torch::randint(config_.vocab, {batch(), seq_}, options.dtype(torch::kLong));
      caches_ = gpt_->make_caches(batch(), compute_dtype(), device());
      first_token_ = torch::zeros({batch()}, options.dtype(torch::kLong));
    }
  }

  std::unique_ptr<torch::optim::Optimizer> make_optimizer() override {
    return std::make_unique<torch::optim::AdamW>(
        net().parameters(),
        torch::optim::AdamWOptions(learning_rate()).betas({0.9, 0.95}).weight_decay(0.1));
  }

  torch::Tensor training_loss() override {
    torch::Tensor logits = gpt_->logits(gpt_->hidden(inputs_, 0, nullptr));
    return torch::cross_entropy_loss(logits.reshape({-1, config_.vocab}).to(torch::kFloat),
                                     targets_.view({-1}));
  }

  torch::Tensor inference() override {
    Generation out = gpt_->generate_cached(prompts_, gen_, caches_);
    first_token_ = out.tokens.select(1, 0);
    return out.last_logits;
  }

  // --- Quality: byte-level language modelling of Debian's fortunes ---
  std::optional<QualitySpec> quality_spec() const override {
    QualitySpec spec;
    spec.task = "byte-level language modelling";
    spec.dataset =
        fmt::format("Debian fortunes (every 10th quote held out; {}-byte windows{})", seq_ + 1,
                    eval_windows_ > 0 ? fmt::format(", {} held-out windows", eval_windows_) : "");
    spec.metric = "perplexity";
    spec.unit = "";
    spec.higher_is_better = false;
    spec.target = by_size(size_, 20.0, 12.0, 3.0);
    spec.target_source =
        size_ == Size::kFull
            ? "dlbench: 1.6 bits per byte, where small character-level models of English text "
              "land"
        : size_ == Size::kSmall
            ? "dlbench's CPU bar: below the perplexity 13.3 of a byte-bigram model fitted "
              "on the whole corpus (docs/workloads/gpt.md)"
            : "dlbench: below the perplexity 27.6 of the corpus's byte frequencies";
    spec.eval_every_epochs = by_size(size_, 0.1, 0.02, 0.25);
    spec.max_epochs = by_size(size_, 1.0, 0.5, 10.0);
    spec.eval_batch_size = 32;
    return spec;
  }

  std::pair<std::shared_ptr<const data::BatchSource>, std::shared_ptr<const data::BatchSource>>
  quality_data() override {
    std::string path = data::dataset_file("fortunes", "fortunes.txt");
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) throw Error(path + ": cannot read");
    // Quotes are separated by lines holding '%': every 10th quote is held out.
    std::string train_text, eval_text;
    size_t start = 0;
    int64_t quote = 0;
    while (start < text.size()) {
      size_t end = text.find("\n%\n", start);
      size_t stop = end == std::string::npos ? text.size() : end + 3;
      (quote++ % 10 == 0 ? eval_text : train_text).append(text, start, stop - start);
      start = stop;
    }
    torch::Tensor train = byte_windows(train_text, -1);
    int64_t eval_cap = by_size<int64_t>(size_, 64, 256, -1);
    torch::Tensor eval = byte_windows(eval_text, eval_cap);
    eval_windows_ = eval.size(0);
    if (train.size(0) == 0 || eval_windows_ == 0) {
      throw Error(path + ": too short for " + std::to_string(seq_ + 1) + "-byte windows");
    }
    return {std::make_shared<data::TensorSource>(std::vector<torch::Tensor>{train},
                                                 "fortunes, training quotes"),
            std::make_shared<data::TensorSource>(std::vector<torch::Tensor>{eval},
                                                 "fortunes, held-out quotes")};
  }

  void use_batch(const data::Batch& batch) override {
    torch::Tensor sequences = batch.tensors.at(0).to(device());
    inputs_ = sequences.narrow(1, 0, seq_);
    targets_ = sequences.narrow(1, 1, seq_).contiguous();
  }

  void begin_scoring() override { perplexity_ = nn::Perplexity(); }
  void score_batch(const data::Batch& batch) override {
    torch::Tensor sequences = batch.tensors.at(0).to(device());
    torch::Tensor logits = gpt_->logits(gpt_->hidden(sequences.narrow(1, 0, seq_), 0, nullptr));
    torch::Tensor nll = torch::nn::functional::cross_entropy(
        logits.reshape({-1, config_.vocab}).to(torch::kFloat),
        sequences.narrow(1, 1, seq_).reshape({-1}),
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    perplexity_.add(nll.item<double>(), sequences.size(0) * seq_);
  }
  double scored_quality() override { return perplexity_.value(); }

 private:
  /// Non-overlapping windows of seq + 1 bytes (inputs and their next bytes), at most `cap`
  /// (-1: all): int64 [n, seq + 1].
  torch::Tensor byte_windows(const std::string& text, int64_t cap) const {
    const int64_t width = seq_ + 1;
    int64_t count = static_cast<int64_t>(text.size()) / width;
    if (cap >= 0) count = std::min(count, cap);
    torch::Tensor bytes = torch::empty({count * width}, torch::kUInt8);
    std::memcpy(bytes.data_ptr<uint8_t>(), text.data(), static_cast<size_t>(count * width));
    return bytes.to(torch::kLong).view({count, width});
  }

  int64_t eval_windows_ = 0;
  nn::Perplexity perplexity_;

  /// TinyLlama's peak lr 4e-4 at full size; 1e-3 for the small presets so that their 40-step
  /// test learns.
  double learning_rate() const { return size_ == Size::kFull ? 4e-4 : 1e-3; }

  GptConfig config_;
  int64_t seq_ = 0, gen_ = 0;
  GptNet gpt_{nullptr};
  torch::Tensor inputs_, targets_, prompts_, first_token_;
  std::vector<KvCache> caches_;
};

}  // namespace

DLBENCH_REGISTER_WORKLOAD(GptModel);

}  // namespace dlbench::model
