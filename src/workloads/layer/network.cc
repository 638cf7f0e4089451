// The shared builder and composite of the layer benchmarks. See network.h and
// docs/workloads/layers.md.
#include "workloads/layer/network.h"

#include <fmt/core.h>
#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "core/error.h"
#include "core/strings.h"

namespace dlbench::layer {
namespace {

std::string str(int64_t value) { return std::to_string(value); }

int64_t window_output(int64_t size, int64_t window, int64_t stride, int64_t pad,
                      const std::string& name) {
  int64_t span = size + 2 * pad - window;
  if (stride < 1 || span < 0) {
    throw Error(fmt::format("layer {}: window {} stride {} pad {} does not fit {}", name, window,
                            stride, pad, size));
  }
  return span / stride + 1;
}

}  // namespace

NetBuilder::NetBuilder(NetOptions options, Shape input)
    : options_(std::move(options)), shape_(input) {}

Problem NetBuilder::problem(const std::string& workload,
                            std::vector<std::pair<std::string, std::string>> params) const {
  Problem p;
  p.workload = workload;
  for (auto& [key, value] : params) p.params[key] = value;
  for (const auto& [key, value] : options_.common) p.params[key] = value;
  return p;
}

Part NetBuilder::part(const std::string& name, const std::string& kind, Problem problem,
                      const std::string& pass) const {
  Part p;
  p.name = name;
  p.kind = kind;
  p.problem = std::move(problem);
  p.count = 1;
  p.pass = pass;
  return p;
}

void NetBuilder::add_layer(const std::string& kind, Layer layer) {
  if (!kind.empty()) {
    auto it = std::find_if(layer_counts_.begin(), layer_counts_.end(),
                           [&](const auto& entry) { return entry.first == kind; });
    if (it == layer_counts_.end()) {
      layer_counts_.emplace_back(kind, 1);
    } else {
      ++it->second;
    }
  }
  if (!options_.backward) layer.backward.clear();
  layers_.push_back(std::move(layer));
}

std::vector<Part> NetBuilder::finish() const {
  std::vector<Part> all;
  for (const Layer& layer : layers_)
    all.insert(all.end(), layer.forward.begin(), layer.forward.end());
  for (auto layer = layers_.rbegin(); layer != layers_.rend(); ++layer) {
    all.insert(all.end(), layer->backward.begin(), layer->backward.end());
  }
  return all;
}

void NetBuilder::conv(const std::string& name, int64_t k, int64_t r, int64_t s, int64_t stride,
                      int64_t pad, int64_t groups) {
  if (groups < 1 || shape_.c % groups != 0 || k % groups != 0) {
    throw Error("layer " + name + ": channels not divisible by groups");
  }
  Shape out{k, window_output(shape_.h, r, stride, pad, name),
            window_output(shape_.w, s, stride, pad, name)};
  auto make = [&](const std::string& pass) {
    return part(name, "conv",
                problem("micro/conv", {{"n", str(options_.batch)},
                                       {"c", str(shape_.c)},
                                       {"h", str(shape_.h)},
                                       {"w", str(shape_.w)},
                                       {"k", str(k)},
                                       {"r", str(r)},
                                       {"s", str(s)},
                                       {"stride", str(stride)},
                                       {"pad", str(pad)},
                                       {"groups", str(groups)},
                                       {"layout", options_.layout},
                                       {"dtype", options_.dtype},
                                       {"pass", pass}}),
                pass);
  };
  Layer layer;
  layer.forward.push_back(make("fwd"));
  if (input_needs_grad_) layer.backward.push_back(make("bwd_data"));
  layer.backward.push_back(make("bwd_weight"));
  input_needs_grad_ = true;
  add_layer("conv", std::move(layer));
  shape_ = out;
}

void NetBuilder::fc(const std::string& name, int64_t out) {
  int64_t in = shape_.elements();
  auto gemm = [&](int64_t m, int64_t n, int64_t k, const char* transa, const char* transb,
                  const std::string& pass) {
    return part(name, "fc",
                problem("micro/gemm", {{"m", str(m)},
                                       {"n", str(n)},
                                       {"k", str(k)},
                                       {"transa", transa},
                                       {"transb", transb},
                                       {"dtype", options_.dtype}}),
                pass);
  };
  const int64_t batch = options_.batch;
  Layer layer;
  // Forward: y[batch, out] = x[batch, in] W^T, the weight stored [out, in].
  layer.forward.push_back(gemm(batch, out, in, "n", "t", "fwd"));
  // grad_x[batch, in] = grad_y[batch, out] W[out, in].
  if (input_needs_grad_) layer.backward.push_back(gemm(batch, in, out, "n", "n", "bwd_data"));
  // grad_W[out, in] = grad_y^T x: grad_y stored [batch, out], read transposed.
  layer.backward.push_back(gemm(out, in, batch, "t", "n", "bwd_weight"));
  input_needs_grad_ = true;
  add_layer("fc", std::move(layer));
  shape_ = Shape{out, 1, 1};
}

void NetBuilder::relu(const std::string& name) {
  auto make = [&](const std::string& pass) {
    return part(name, "activation",
                problem("micro/activation", {{"type", "relu"},
                                             {"elements", str(options_.batch * shape_.elements())},
                                             {"dtype", options_.dtype},
                                             {"pass", pass}}),
                pass);
  };
  Layer layer;
  layer.forward.push_back(make("fwd"));
  if (input_needs_grad_) layer.backward.push_back(make("bwd"));
  add_layer("activation", std::move(layer));
}

void NetBuilder::pool(const std::string& name, const std::string& type, int64_t kernel,
                      int64_t stride, int64_t pad) {
  Shape out{shape_.c, window_output(shape_.h, kernel, stride, pad, name),
            window_output(shape_.w, kernel, stride, pad, name)};
  auto make = [&](const std::string& pass) {
    return part(name, "pool",
                problem("micro/pool", {{"n", str(options_.batch)},
                                       {"c", str(shape_.c)},
                                       {"h", str(shape_.h)},
                                       {"w", str(shape_.w)},
                                       {"kernel", str(kernel)},
                                       {"stride", str(stride)},
                                       {"pad", str(pad)},
                                       {"type", type},
                                       {"layout", options_.layout},
                                       {"dtype", options_.dtype},
                                       {"pass", pass}}),
                pass);
  };
  Layer layer;
  layer.forward.push_back(make("fwd"));
  if (input_needs_grad_) layer.backward.push_back(make("bwd"));
  add_layer("pool", std::move(layer));
  shape_ = out;
}

void NetBuilder::maxpool(const std::string& name, int64_t kernel, int64_t stride, int64_t pad) {
  pool(name, "max", kernel, stride, pad);
}

void NetBuilder::avgpool(const std::string& name, int64_t kernel, int64_t stride, int64_t pad) {
  pool(name, "avg", kernel, stride, pad);
}

void NetBuilder::batchnorm(const std::string& name) {
  auto make = [&](const std::string& pass) {
    return part(name, "norm",
                problem("micro/norm", {{"type", "batch"},
                                       {"n", str(options_.batch)},
                                       {"c", str(shape_.c)},
                                       {"h", str(shape_.h)},
                                       {"w", str(shape_.w)},
                                       {"train", options_.backward ? "true" : "false"},
                                       {"dtype", options_.dtype},
                                       {"pass", pass}}),
                pass);
  };
  Layer layer;
  layer.forward.push_back(make("fwd"));
  if (input_needs_grad_) layer.backward.push_back(make("bwd"));
  add_layer("norm", std::move(layer));
}

void NetBuilder::lrn(const std::string& name, int64_t size) {
  auto make = [&](const std::string& pass) {
    return part(name, "norm",
                problem("micro/norm", {{"type", "lrn"},
                                       {"n", str(options_.batch)},
                                       {"c", str(shape_.c)},
                                       {"h", str(shape_.h)},
                                       {"w", str(shape_.w)},
                                       {"size", str(size)},
                                       {"dtype", options_.dtype},
                                       {"pass", pass}}),
                pass);
  };
  Layer layer;
  layer.forward.push_back(make("fwd"));
  if (input_needs_grad_) layer.backward.push_back(make("bwd"));
  add_layer("norm", std::move(layer));
}

void NetBuilder::add(const std::string& name) {
  Layer layer;
  layer.forward.push_back(
      part(name, "elementwise",
           problem("micro/elementwise", {{"op", "add"},
                                         {"elements", str(options_.batch * shape_.elements())},
                                         {"dtype", options_.dtype}}),
           "fwd"));
  add_layer("elementwise", std::move(layer));
}

void NetBuilder::fork(const std::string& name, int consumers) {
  Layer layer;
  if (input_needs_grad_) {
    for (int i = 1; i < consumers; ++i) {
      layer.backward.push_back(
          part(name, "elementwise",
               problem("micro/elementwise", {{"op", "add"},
                                             {"elements", str(options_.batch * shape_.elements())},
                                             {"dtype", options_.dtype}}),
               "bwd"));
    }
  }
  add_layer("", std::move(layer));
}

void NetBuilder::concat(const std::string& name, const std::vector<Shape>& branches) {
  if (branches.empty()) throw Error("layer " + name + ": nothing to concatenate");
  Shape out{0, branches.front().h, branches.front().w};
  for (const Shape& branch : branches) {
    if (branch.h != out.h || branch.w != out.w) {
      throw Error("layer " + name + ": branches disagree on height or width");
    }
    out.c += branch.c;
  }
  Layer layer;
  layer.forward.push_back(part(name, "concat",
                               problem("micro/stream", {{"kernel", "copy"},
                                                        {"n", str(options_.batch * out.elements())},
                                                        {"dtype", options_.dtype}}),
                               "fwd"));
  add_layer("concat", std::move(layer));
  shape_ = out;
}

void NetBuilder::softmax(const std::string& name) {
  auto make = [&](const std::string& pass) {
    return part(name, "softmax",
                problem("micro/softmax", {{"rows", str(options_.batch)},
                                          {"cols", str(shape_.elements())},
                                          {"dtype", options_.dtype},
                                          {"pass", pass}}),
                pass);
  };
  Layer layer;
  layer.forward.push_back(make("fwd"));
  if (input_needs_grad_) layer.backward.push_back(make("bwd"));
  add_layer("softmax", std::move(layer));
}

std::vector<Part> merge_parts(const std::vector<Part>& parts) {
  std::vector<Part> merged;
  std::vector<int> extra;  // further layers merged into each entry
  std::map<std::string, size_t> index;
  for (const Part& p : parts) {
    std::string key = p.problem.str() + "\n" + p.pass;
    auto it = index.find(key);
    if (it == index.end()) {
      index.emplace(key, merged.size());
      merged.push_back(p);
      extra.push_back(0);
    } else {
      merged[it->second].count += p.count;
      ++extra[it->second];
    }
  }
  for (size_t i = 0; i < merged.size(); ++i) {
    if (extra[i] > 0) merged[i].name += fmt::format(" +{} more", extra[i]);
  }
  return merged;
}

// ---- NetworkWorkload ----

NetworkWorkload::NetworkWorkload(const Problem& problem) : CompositeWorkload(problem) {
  options_.batch = problem.get_int("batch");
  options_.backward = problem.get("pass") == "fwdbwd";
  options_.dtype = problem.get("dtype");
  options_.layout = problem.get("layout");
  for (const char* key : {"device", "threads", "seed"}) {
    auto it = problem.params.find(key);
    if (it != problem.params.end()) options_.common.emplace_back(key, it->second);
  }
}

WorkloadInfo NetworkWorkload::network_info(const std::string& name,
                                           const std::string& description) {
  WorkloadInfo info;
  info.name = name;
  info.category = "layer";
  info.description = description;
  info.params = {
      ParamSpec::integer("batch", 16, "images per step (the n of every layer)", 1, 65536),
      ParamSpec::choice("pass", "fwd", {"fwd", "fwdbwd"},
                        "fwd: inference; fwdbwd: a training step (forward, then every layer's "
                        "backward)"),
      ParamSpec::choice("dtype", "fp32", {"fp32", "bf16", "fp16"}, "element type of every layer"),
      ParamSpec::choice("layout", "nchw", {"nchw", "nhwc"},
                        "activation layout of the convolutions and poolings (nhwc: channels-last)"),
  };
  return info;
}

NetBuilder NetworkWorkload::built() const {
  NetBuilder builder(options_, spec().input);
  build(builder);
  return builder;
}

std::vector<Part> NetworkWorkload::unmerged_parts() const { return built().finish(); }

Description NetworkWorkload::describe() const {
  NetworkSpec network = spec();
  NetBuilder builder = built();
  std::vector<Part> all = builder.finish();
  std::vector<Part> merged = merge_parts(all);

  std::vector<std::string> layer_counts;
  int layers = 0;
  for (const auto& [kind, count] : builder.layer_counts()) {
    layer_counts.push_back(fmt::format("{} {}", count, kind));
    layers += count;
  }
  std::set<std::string> problems;
  for (const Part& p : merged) problems.insert(p.problem.str());
  // Parts per kind and pass, with multiplicity, in order of first appearance.
  std::vector<std::pair<std::string, int>> per_kind;
  for (const Part& p : all) {
    std::string key = p.kind + " " + p.pass;
    auto it = std::find_if(per_kind.begin(), per_kind.end(),
                           [&](const auto& entry) { return entry.first == key; });
    if (it == per_kind.end()) {
      per_kind.emplace_back(key, 1);
    } else {
      ++it->second;
    }
  }
  std::vector<std::string> kinds;
  for (const auto& [key, count] : per_kind) kinds.push_back(fmt::format("{} {}", key, count));

  Description d;
  d.summary = fmt::format("{}, {} images of {}x{}x{}, {} in {} {}: {} layers ({})", network.title,
                          options_.batch, network.input.c, network.input.h, network.input.w,
                          options_.backward ? "forward + backward" : "forward", options_.dtype,
                          options_.layout, layers, join(layer_counts, ", "));
  d.facts = {
      {"source", network.source},
      {"layer passes", fmt::format("{} (parts counted with multiplicity)", all.size())},
      {"parts", fmt::format("{} (identical layer passes merged, count = repeats)", merged.size())},
      {"distinct problems", fmt::format("{}", problems.size())},
      {"parts by kind", join(kinds, ", ")},
      {"not modelled", network.notes},
      {"work",
       "the sum over parts of count x the part's FLOPs and bytes (see each micro "
       "workload's formulas)"},
  };
  return d;
}

}  // namespace dlbench::layer
