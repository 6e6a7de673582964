// One integer BERT encoder layer (sim/golden/encoder.py, with top-k sparse attention) as a
// DATAFLOW region of five stages, so that in hardware consecutive sequences (of different
// lengths) occupy different stages at once, the coarse pipeline of DAC 2022:
//   qkv        q, k, v = hp_linear(x)                                   int8
//   attention  context = sparse attention per head, k keys per query    int8
//   attn_out   ln1 = LayerNorm(sat(hp_linear(context) + rescale(x)))    RES_BITS -> int8
//   ffn_in     mid = rescale(i-GELU(hp_linear(ln1)))                     GELU_IN_BITS -> int8
//   ffn_out    y   = LayerNorm(sat(hp_linear(mid) + rescale(ln1)))      RES_BITS -> int8
// Buffers between stages hold MAX_L tokens; loops run to the real length L.
#ifndef SBF_ENCODER_LAYER_H
#define SBF_ENCODER_LAYER_H

#include "hp_matmul.h"
#include "nonlinear.h"
#include "sparse_attention.h"

namespace sbf {

typedef ap_int<RES_BITS> res_t;
typedef ap_int<GELU_IN_BITS> gelu_in_t;

// Per-channel rescale (a per-tensor one repeats its value in every channel).
struct requant_params {
  const int32_t* mult;   // [channels]
  const int32_t* shift;  // [channels]
};

struct ln_params {
  const int32_t* gamma;  // [hidden]
  const int32_t* beta;   // [hidden]
  const int32_t* mult;   // [hidden]
  const int32_t* shift;  // [hidden]
};

struct layer_params {
  hp_layer query, key, value, attn_out, ffn_in, ffn_out;
  attn_quant attn;
  requant_params residual1;
  ln_params ln1;
  gelu_params gelu;
  requant_params gelu_out;
  requant_params residual2;
  ln_params ln2;
};

// CFG adds to the hp_linear parameters: HIDDEN, HEADS, HEAD_DIM, FFN, MAX_L, MAX_K,
// HEADS_PARALLEL.
template <class CFG>
void qkv_stage(const act_t* x, int L, const layer_params& p, act_t* q, act_t* k, act_t* v) {
  hp_linear<CFG, ACT_BITS>(x, L, p.query, q);
  hp_linear<CFG, ACT_BITS>(x, L, p.key, k);
  hp_linear<CFG, ACT_BITS>(x, L, p.value, v);
}

template <class CFG>
void attention_stage(const act_t* q, const act_t* k, const act_t* v, int L, int topk,
                     const layer_params& p, act_t* ctx) {
// HEADS_PARALLEL attention engines side by side (the design config checks that it divides
// HEADS): the unrolled inner loop gives each head of a group its own engine instance, which
// is what the performance model (hw/perf AttentionEngine) counts.
heads:
  for (int h0 = 0; h0 < CFG::HEADS; h0 += CFG::HEADS_PARALLEL) {
  engines:
    for (int e = 0; e < CFG::HEADS_PARALLEL; ++e) {
#pragma HLS UNROLL
      const int c = (h0 + e) * CFG::HEAD_DIM;
      sparse_attention_head<CFG::MAX_L, CFG::MAX_K, CFG::HEAD_DIM>(
          q + c, k + c, v + c, CFG::HIDDEN, L, topk, p.attn, ctx + c);
    }
  }
}

// residual = sat(branch + requantize(skip, align)) (SAT_RESIDUAL), then LayerNorm to int8.
template <class CFG>
void residual_layernorm(const res_t* branch, const act_t* skip, int L,
                        const requant_params& align, const ln_params& ln, res_t* residual,
                        act_t* out) {
tokens:
  for (int t = 0; t < L; ++t) {
    res_t r[CFG::HIDDEN];
    act_t y[CFG::HIDDEN];
  add:
    for (int c = 0; c < CFG::HIDDEN; ++c) {
#pragma HLS PIPELINE II = 1
      const int i = t * CFG::HIDDEN + c;
      const wide_t s = requantize<RES_BITS>(skip[i], align.mult[c], align.shift[c]);
      r[c] = saturate<RES_BITS>(wide_t(branch[i]) + s);
      residual[i] = r[c];
    }
    int_layernorm<CFG::HIDDEN>(r, ln.gamma, ln.beta, ln.mult, ln.shift, y);
  store:
    for (int c = 0; c < CFG::HIDDEN; ++c) {
#pragma HLS PIPELINE II = 1
      out[t * CFG::HIDDEN + c] = y[c];
    }
  }
}

// mid = requantize(int_gelu(f), gelu_out) to int8 for f [L][FFN], channel by channel.
template <class CFG>
void gelu_requant(const gelu_in_t* f, int L, const gelu_params& g, const requant_params& r,
                  act_t* mid) {
tokens:
  for (int t = 0; t < L; ++t) {
  channels:
    for (int c = 0; c < CFG::FFN; ++c) {
#pragma HLS PIPELINE II = 1
      const int i = t * CFG::FFN + c;
      mid[i] = requantize<ACT_BITS>(int_gelu(f[i], g), r.mult[c], r.shift[c]);
    }
  }
}

template <class CFG>
void attn_out_stage(const act_t* ctx, const act_t* x, int L, const layer_params& p,
                    act_t* ln1_a, act_t* ln1_b) {
  static res_t branch[CFG::MAX_L * CFG::HIDDEN];
  static res_t residual[CFG::MAX_L * CFG::HIDDEN];
  hp_linear<CFG, RES_BITS>(ctx, L, p.attn_out, branch);
  residual_layernorm<CFG>(branch, x, L, p.residual1, p.ln1, residual, ln1_a);
copy:  // two consumers in a dataflow region need two buffers
  for (int i = 0; i < L * CFG::HIDDEN; ++i) {
#pragma HLS PIPELINE II = 1
    ln1_b[i] = ln1_a[i];
  }
}

template <class CFG>
void ffn_in_stage(const act_t* ln1, int L, const layer_params& p, act_t* mid) {
  static gelu_in_t f[CFG::MAX_L * CFG::FFN];
  hp_linear<CFG, GELU_IN_BITS>(ln1, L, p.ffn_in, f);
  gelu_requant<CFG>(f, L, p.gelu, p.gelu_out, mid);
}

template <class CFG>
void ffn_out_stage(const act_t* mid, const act_t* ln1, int L, const layer_params& p,
                   act_t* y) {
  static res_t branch[CFG::MAX_L * CFG::HIDDEN];
  static res_t residual[CFG::MAX_L * CFG::HIDDEN];
  hp_linear<CFG, RES_BITS>(mid, L, p.ffn_out, branch);
  residual_layernorm<CFG>(branch, ln1, L, p.residual2, p.ln2, residual, y);
}

// y[L][HIDDEN] = encoder layer of x[L][HIDDEN], keeping topk keys per query.
template <class CFG>
void encoder_layer(const act_t* x, int L, int topk, const layer_params& p, act_t* y) {
#pragma HLS DATAFLOW
  static act_t q[CFG::MAX_L * CFG::HIDDEN], k[CFG::MAX_L * CFG::HIDDEN];
  static act_t v[CFG::MAX_L * CFG::HIDDEN], ctx[CFG::MAX_L * CFG::HIDDEN];
  static act_t ln1_a[CFG::MAX_L * CFG::HIDDEN], ln1_b[CFG::MAX_L * CFG::HIDDEN];
  static act_t mid[CFG::MAX_L * CFG::FFN];
  qkv_stage<CFG>(x, L, p, q, k, v);
  attention_stage<CFG>(q, k, v, L, topk, p, ctx);
  attn_out_stage<CFG>(ctx, x, L, p, ln1_a, ln1_b);
  ffn_in_stage<CFG>(ln1_a, L, p, mid);
  ffn_out_stage<CFG>(mid, ln1_b, L, p, y);
}

}  // namespace sbf

#endif  // SBF_ENCODER_LAYER_H
