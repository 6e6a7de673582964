// One integer BERT encoder layer (sim/golden/encoder.py, with top-k sparse attention) as
// five dataflow processes that a group of sequences flows through, so that consecutive
// sequences (of different lengths) occupy different stages at once, the coarse pipeline
// of DAC 2022:
//   qkv        q, k, v = hp_linear(x)                                   int8
//   attention  context = sparse attention per head, k keys per query    int8
//   attn_out   ln1 = LayerNorm(sat(hp_linear(context) + rescale(x)))    RES_BITS -> int8
//   ffn_in     mid = rescale(i-GELU(hp_linear(ln1)))                     GELU_IN_BITS -> int8
//   ffn_out    y   = LayerNorm(sat(hp_linear(mid) + rescale(ln1)))      RES_BITS -> int8
// Every channel is an hls::stream of beats (beat<CFG>: LANES int8) with one producer and
// one consumer; a value two stages downstream needs (x for the first residual, ln1 for the
// second) is forwarded through the stage in between, never bypassing it. A stage reads a
// whole sequence into its own buffers, computes, and writes the next stage's streams, so
// it works on sequence n+1 while the next stage works on sequence n: each stream holds a
// whole sequence, so a producer never waits for its consumer's compute. Every stage reads
// its streams in the order its producer writes them.
// Weights live on chip (layer_store), each bank read by exactly one stage.
#ifndef SBF_ENCODER_LAYER_H
#define SBF_ENCODER_LAYER_H

#include "hp_matmul.h"
#include "nonlinear.h"
#include "sparse_attention.h"

namespace sbf {

typedef ap_int<RES_BITS> res_t;
typedef ap_int<GELU_IN_BITS> gelu_in_t;

// Per-channel rescale (a per-tensor one repeats its value in every channel).
template <int N>
struct channel_requant {
  mult_t mult[N];
  shift_t shift[N];
};

template <int N>
struct ln_store {
  int32_t gamma[N];
  int32_t beta[N];
  mult_t mult[N];
  shift_t shift[N];
};

// One layer's parameters on chip, loaded from the weight image (weight_image.h).
template <class CFG>
struct layer_store {
  static_assert(CFG::HIDDEN % CFG::BO == 0 && CFG::HIDDEN % CFG::BI == 0 &&
                    CFG::FFN % CFG::BO == 0 && CFG::FFN % CFG::BI == 0,
                "the model's widths must be whole blocks");
  static_assert(CFG::HEAD_DIM % beat<CFG>::LANES == 0, "a beat must lie inside one head");
  hp_bank<CFG, CFG::HIDDEN, CFG::HIDDEN> query, key, value, attn_out;
  hp_bank<CFG, CFG::FFN, CFG::HIDDEN> ffn_in;
  hp_bank<CFG, CFG::HIDDEN, CFG::FFN> ffn_out;
  attn_quant attn;
  gelu_params gelu;
  channel_requant<CFG::HIDDEN> residual1, residual2;
  channel_requant<CFG::FFN> gelu_out;
  ln_store<CFG::HIDDEN> ln1, ln2;
};

// A sequence as the stages see it: its real length and the keys kept per query.
struct seq_job {
  int length;
  int topk;  // min(schedule topk, length)
};

// ---- moving sequences between streams and on-chip buffers ----------------------------------

template <class CFG>
inline act_t beat_lane(const typename beat<CFG>::type& b, int l) {
#pragma HLS INLINE
  return act_t(b.range(ACT_BITS * l + ACT_BITS - 1, ACT_BITS * l));
}

// The sequence loops below are perfect nests (tokens, beats of a token) that Vitis flattens
// into one II=1 pipeline; the beat's place is the pair of counters, so no division.

// A sequence of L tokens x W int8 from beats into a [MAX_L][W/G][G] buffer (G-wide words).
template <class CFG, int W, int G>
void read_seq(hls::stream<typename beat<CFG>::type>& in, int L, act_t buf[CFG::MAX_L][W / G][G]) {
  const int LANES = beat<CFG>::LANES;
tokens:
  for (int t = 0; t < L; ++t) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = CFG::MAX_L
  beats:
    for (int c = 0; c < W / LANES; ++c) {
#pragma HLS PIPELINE II = 1
      const typename beat<CFG>::type b = in.read();
      for (int l = 0; l < LANES; ++l) {
#pragma HLS UNROLL
        buf[t][(c * LANES + l) / G][(c * LANES + l) % G] = beat_lane<CFG>(b, l);
      }
    }
  }
}

// read_seq that also passes every beat on to `fwd`, for a value a later stage needs.
template <class CFG, int W, int G>
void read_fwd_seq(hls::stream<typename beat<CFG>::type>& in, int L,
                  act_t buf[CFG::MAX_L][W / G][G], hls::stream<typename beat<CFG>::type>& fwd) {
  const int LANES = beat<CFG>::LANES;
tokens:
  for (int t = 0; t < L; ++t) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = CFG::MAX_L
  beats:
    for (int c = 0; c < W / LANES; ++c) {
#pragma HLS PIPELINE II = 1
      const typename beat<CFG>::type b = in.read();
      fwd.write(b);
      for (int l = 0; l < LANES; ++l) {
#pragma HLS UNROLL
        buf[t][(c * LANES + l) / G][(c * LANES + l) % G] = beat_lane<CFG>(b, l);
      }
    }
  }
}

// A [MAX_L][W/G][G] buffer of L tokens out as beats.
template <class CFG, int W, int G>
void write_seq(const act_t buf[CFG::MAX_L][W / G][G], int L,
               hls::stream<typename beat<CFG>::type>& out) {
  const int LANES = beat<CFG>::LANES;
tokens:
  for (int t = 0; t < L; ++t) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = CFG::MAX_L
  beats:
    for (int c = 0; c < W / LANES; ++c) {
#pragma HLS PIPELINE II = 1
      typename beat<CFG>::type b = 0;
      for (int l = 0; l < LANES; ++l) {
#pragma HLS UNROLL
        b.range(ACT_BITS * l + ACT_BITS - 1, ACT_BITS * l) =
            ap_uint<ACT_BITS>(buf[t][(c * LANES + l) / G][(c * LANES + l) % G]);
      }
      out.write(b);
    }
  }
}

// L tokens x W int8 passed on unchanged (the value is needed one stage further on).
template <class CFG, int W>
void forward_seq(hls::stream<typename beat<CFG>::type>& in, int L,
                 hls::stream<typename beat<CFG>::type>& out) {
tokens:
  for (int t = 0; t < L; ++t) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = CFG::MAX_L
  beats:
    for (int c = 0; c < W / beat<CFG>::LANES; ++c) {
#pragma HLS PIPELINE II = 1
      out.write(in.read());
    }
  }
}

// Q, K or V beats into one buffer per head: [head][token][d]. LANES divides HEAD_DIM, so a
// beat lies inside one head: the counters (token, head, beat of the head) place it.
template <class CFG>
void read_heads(hls::stream<typename beat<CFG>::type>& in, int L,
                act_t buf[CFG::HEADS][CFG::MAX_L][CFG::HEAD_DIM]) {
  const int LANES = beat<CFG>::LANES, BPH = CFG::HEAD_DIM / LANES;
tokens:
  for (int t = 0; t < L; ++t) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = CFG::MAX_L
  beats:
    for (int c = 0; c < CFG::HEADS * BPH; ++c) {
#pragma HLS PIPELINE II = 1
      const typename beat<CFG>::type b = in.read();
      const int h = c / BPH, d = (c % BPH) * LANES;  // BPH: a power of two in practice
      for (int l = 0; l < LANES; ++l) {
#pragma HLS UNROLL
        buf[h][t][d + l] = beat_lane<CFG>(b, l);
      }
    }
  }
}

template <class CFG>
void write_heads(const act_t buf[CFG::HEADS][CFG::MAX_L][CFG::HEAD_DIM], int L,
                 hls::stream<typename beat<CFG>::type>& out) {
  const int LANES = beat<CFG>::LANES, BPH = CFG::HEAD_DIM / LANES;
tokens:
  for (int t = 0; t < L; ++t) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = CFG::MAX_L
  beats:
    for (int c = 0; c < CFG::HEADS * BPH; ++c) {
#pragma HLS PIPELINE II = 1
      const int h = c / BPH, d = (c % BPH) * LANES;
      typename beat<CFG>::type b = 0;
      for (int l = 0; l < LANES; ++l) {
#pragma HLS UNROLL
        b.range(ACT_BITS * l + ACT_BITS - 1, ACT_BITS * l) = ap_uint<ACT_BITS>(buf[h][t][d + l]);
      }
      out.write(b);
    }
  }
}

// ---- the epilogues -----------------------------------------------------------------------

// residual = sat(branch + requantize(skip, align)) (SAT_RESIDUAL), then LayerNorm to int8,
// Bo channels a cycle. `residual` is kept for the csim checks of the bridge.
template <class CFG>
void residual_layernorm(const res_t branch[CFG::MAX_L][CFG::HIDDEN / CFG::BO][CFG::BO],
                        const act_t skip[CFG::MAX_L][CFG::HIDDEN / CFG::BO][CFG::BO], int L,
                        const channel_requant<CFG::HIDDEN>& align,
                        const ln_store<CFG::HIDDEN>& ln,
                        res_t residual[CFG::MAX_L][CFG::HIDDEN / CFG::BO][CFG::BO],
                        hls::stream<typename beat<CFG>::type>& out) {
  const int BO = CFG::BO, NW = CFG::HIDDEN / CFG::BO;
  act_t y[CFG::MAX_L][NW][BO];
#pragma HLS ARRAY_RESHAPE variable = y complete dim = 3
tokens:
  for (int t = 0; t < L; ++t) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = CFG::MAX_L
    res_t r[NW][BO];
#pragma HLS ARRAY_RESHAPE variable = r complete dim = 2
  add:
    for (int c = 0; c < NW; ++c) {
#pragma HLS PIPELINE II = 1
      for (int p = 0; p < BO; ++p) {
#pragma HLS UNROLL
        const int ch = c * BO + p;
        const wide_t s = requantize<RES_BITS>(skip[t][c][p], align.mult[ch], align.shift[ch]);
        r[c][p] = saturate<RES_BITS>(wide_t(branch[t][c][p]) + s);
        residual[t][c][p] = r[c][p];
      }
    }
    int_layernorm<CFG::HIDDEN, CFG::BO>(r, ln.gamma, ln.beta, ln.mult, ln.shift, y[t]);
  }
  write_seq<CFG, CFG::HIDDEN, CFG::BO>(y, L, out);
}

// mid = requantize(int_gelu(f), gelu_out) to int8 for f [L][FFN], Bo channels a cycle.
template <class CFG>
void gelu_requant(const gelu_in_t f[CFG::MAX_L][CFG::FFN / CFG::BO][CFG::BO], int L,
                  const gelu_params& g, const channel_requant<CFG::FFN>& r,
                  hls::stream<typename beat<CFG>::type>& mid) {
  const int BO = CFG::BO, NW = CFG::FFN / CFG::BO;
  act_t y[CFG::MAX_L][NW][BO];
#pragma HLS ARRAY_RESHAPE variable = y complete dim = 3
tokens:
  for (int t = 0; t < L; ++t) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = CFG::MAX_L
  words:
    for (int c = 0; c < NW; ++c) {
#pragma HLS PIPELINE II = 1
      for (int p = 0; p < BO; ++p) {
#pragma HLS UNROLL
        const int ch = c * BO + p;
        y[t][c][p] = requantize<ACT_BITS>(int_gelu(f[t][c][p], g), r.mult[ch], r.shift[ch]);
      }
    }
  }
  write_seq<CFG, CFG::FFN, CFG::BO>(y, L, mid);
}

// ---- the five stages, one sequence each ------------------------------------------------------

template <class CFG>
void qkv_seq(int L, hls::stream<typename beat<CFG>::type>& x_in,
             hls::stream<typename beat<CFG>::type>& x_fwd,
             const hp_bank<CFG, CFG::HIDDEN, CFG::HIDDEN>& wq,
             const hp_bank<CFG, CFG::HIDDEN, CFG::HIDDEN>& wk,
             const hp_bank<CFG, CFG::HIDDEN, CFG::HIDDEN>& wv,
             hls::stream<typename beat<CFG>::type>& q_out,
             hls::stream<typename beat<CFG>::type>& k_out,
             hls::stream<typename beat<CFG>::type>& v_out) {
  const int H = CFG::HIDDEN, BI = CFG::BI, BO = CFG::BO;
  act_t x[CFG::MAX_L][H / BI][BI];
#pragma HLS ARRAY_RESHAPE variable = x complete dim = 3
  act_t y[CFG::MAX_L][H / BO][BO];
#pragma HLS ARRAY_RESHAPE variable = y complete dim = 3
  read_fwd_seq<CFG, H, BI>(x_in, L, x, x_fwd);
  hp_linear<CFG, H, H, ACT_BITS>(x, L, wq, y);
  write_seq<CFG, H, BO>(y, L, q_out);
  hp_linear<CFG, H, H, ACT_BITS>(x, L, wk, y);
  write_seq<CFG, H, BO>(y, L, k_out);
  hp_linear<CFG, H, H, ACT_BITS>(x, L, wv, y);
  write_seq<CFG, H, BO>(y, L, v_out);
}

// All heads: HEADS_PARALLEL engines side by side (the design config checks that it divides
// HEADS), each with its own Q, K, V and context buffers (the head dimension of the arrays
// is partitioned completely: one memory per head), which is what hw/perf AttentionEngine
// counts. Heads beyond HEADS_PARALLEL run on the same engines in turn.
template <class CFG>
void attention_seq(int L, int kk, const attn_quant& aq,
                   hls::stream<typename beat<CFG>::type>& q_in,
                   hls::stream<typename beat<CFG>::type>& k_in,
                   hls::stream<typename beat<CFG>::type>& v_in,
                   hls::stream<typename beat<CFG>::type>& ctx_out) {
  const int HEADS = CFG::HEADS, D = CFG::HEAD_DIM, HP = CFG::HEADS_PARALLEL;
  // [token][head][d] as the stream delivers it, stored head-major for the engines.
  act_t q[HEADS][CFG::MAX_L][D], k[HEADS][CFG::MAX_L][D], v[HEADS][CFG::MAX_L][D];
  act_t o[HEADS][CFG::MAX_L][D];
#pragma HLS ARRAY_PARTITION variable = q complete dim = 1
#pragma HLS ARRAY_PARTITION variable = k complete dim = 1
#pragma HLS ARRAY_PARTITION variable = v complete dim = 1
#pragma HLS ARRAY_PARTITION variable = o complete dim = 1
#pragma HLS ARRAY_RESHAPE variable = q complete dim = 3
#pragma HLS ARRAY_RESHAPE variable = k complete dim = 3
#pragma HLS ARRAY_RESHAPE variable = v complete dim = 3
#pragma HLS ARRAY_RESHAPE variable = o complete dim = 3
  read_heads<CFG>(q_in, L, q);
  read_heads<CFG>(k_in, L, k);
  read_heads<CFG>(v_in, L, v);
head_groups:
  for (int h0 = 0; h0 < HEADS; h0 += HP) {
  engines:
    for (int e = 0; e < HP; ++e) {
#pragma HLS UNROLL
      attention_head<CFG::MAX_L, CFG::MAX_K, D>(q[h0 + e], k[h0 + e], v[h0 + e], L, kk, aq,
                                               o[h0 + e]);
    }
  }
  write_heads<CFG>(o, L, ctx_out);
}

template <class CFG>
void attn_out_seq(int L, hls::stream<typename beat<CFG>::type>& x_in,
                  hls::stream<typename beat<CFG>::type>& ctx_in,
                  const hp_bank<CFG, CFG::HIDDEN, CFG::HIDDEN>& w,
                  const channel_requant<CFG::HIDDEN>& align, const ln_store<CFG::HIDDEN>& ln,
                  hls::stream<typename beat<CFG>::type>& ln1_out) {
  const int H = CFG::HIDDEN, BI = CFG::BI, BO = CFG::BO;
  act_t skip[CFG::MAX_L][H / BO][BO];
  act_t ctx[CFG::MAX_L][H / BI][BI];
  res_t branch[CFG::MAX_L][H / BO][BO], residual[CFG::MAX_L][H / BO][BO];
#pragma HLS ARRAY_RESHAPE variable = skip complete dim = 3
#pragma HLS ARRAY_RESHAPE variable = ctx complete dim = 3
#pragma HLS ARRAY_RESHAPE variable = branch complete dim = 3
#pragma HLS ARRAY_RESHAPE variable = residual complete dim = 3
  read_seq<CFG, H, BO>(x_in, L, skip);
  read_seq<CFG, H, BI>(ctx_in, L, ctx);
  hp_linear<CFG, H, H, RES_BITS>(ctx, L, w, branch);
  residual_layernorm<CFG>(branch, skip, L, align, ln, residual, ln1_out);
}

template <class CFG>
void ffn_in_seq(int L, hls::stream<typename beat<CFG>::type>& ln1_in,
                hls::stream<typename beat<CFG>::type>& ln1_fwd,
                const hp_bank<CFG, CFG::FFN, CFG::HIDDEN>& w, const gelu_params& g,
                const channel_requant<CFG::FFN>& gelu_out,
                hls::stream<typename beat<CFG>::type>& mid_out) {
  const int H = CFG::HIDDEN, F = CFG::FFN, BI = CFG::BI, BO = CFG::BO;
  act_t x[CFG::MAX_L][H / BI][BI];
  gelu_in_t f[CFG::MAX_L][F / BO][BO];
#pragma HLS ARRAY_RESHAPE variable = x complete dim = 3
#pragma HLS ARRAY_RESHAPE variable = f complete dim = 3
  read_fwd_seq<CFG, H, BI>(ln1_in, L, x, ln1_fwd);
  hp_linear<CFG, F, H, GELU_IN_BITS>(x, L, w, f);
  gelu_requant<CFG>(f, L, g, gelu_out, mid_out);
}

template <class CFG>
void ffn_out_seq(int L, hls::stream<typename beat<CFG>::type>& ln1_in,
                 hls::stream<typename beat<CFG>::type>& mid_in,
                 const hp_bank<CFG, CFG::HIDDEN, CFG::FFN>& w,
                 const channel_requant<CFG::HIDDEN>& align, const ln_store<CFG::HIDDEN>& ln,
                 hls::stream<typename beat<CFG>::type>& y_out) {
  const int H = CFG::HIDDEN, F = CFG::FFN, BI = CFG::BI, BO = CFG::BO;
  act_t skip[CFG::MAX_L][H / BO][BO];
  act_t mid[CFG::MAX_L][F / BI][BI];
  res_t branch[CFG::MAX_L][H / BO][BO], residual[CFG::MAX_L][H / BO][BO];
#pragma HLS ARRAY_RESHAPE variable = skip complete dim = 3
#pragma HLS ARRAY_RESHAPE variable = mid complete dim = 3
#pragma HLS ARRAY_RESHAPE variable = branch complete dim = 3
#pragma HLS ARRAY_RESHAPE variable = residual complete dim = 3
  read_seq<CFG, H, BO>(ln1_in, L, skip);
  read_seq<CFG, F, BI>(mid_in, L, mid);
  hp_linear<CFG, H, F, RES_BITS>(mid, L, w, branch);
  residual_layernorm<CFG>(branch, skip, L, align, ln, residual, y_out);
}

// ---- the dataflow region: one layer over a group of sequences ------------------------------

typedef hls::stream<seq_job> job_stream;

template <class CFG>
void feed(const typename beat<CFG>::type* src, const seq_job* jobs, int n, job_stream& j_out,
          hls::stream<typename beat<CFG>::type>& x_out) {
  const int BPT = CFG::HIDDEN / beat<CFG>::LANES;
  int base = 0;
sequences:
  for (int s = 0; s < n; ++s) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = CFG::GROUP_SEQS
    const seq_job j = jobs[s];
    j_out.write(j);
  beats:
    for (int i = 0; i < j.length * BPT; ++i) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = CFG::HIDDEN / beat<CFG>::LANES max = CFG::MAX_L * CFG::HIDDEN / beat<CFG>::LANES
      x_out.write(src[base + i]);
    }
    base += j.length * BPT;
  }
}

template <class CFG>
void qkv_stage(int n, job_stream& j_in, job_stream& j_out,
               hls::stream<typename beat<CFG>::type>& x_in,
               hls::stream<typename beat<CFG>::type>& x_fwd,
               const hp_bank<CFG, CFG::HIDDEN, CFG::HIDDEN>& wq,
               const hp_bank<CFG, CFG::HIDDEN, CFG::HIDDEN>& wk,
               const hp_bank<CFG, CFG::HIDDEN, CFG::HIDDEN>& wv,
               hls::stream<typename beat<CFG>::type>& q, hls::stream<typename beat<CFG>::type>& k,
               hls::stream<typename beat<CFG>::type>& v) {
sequences:
  for (int s = 0; s < n; ++s) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = CFG::GROUP_SEQS
    const seq_job j = j_in.read();
    j_out.write(j);
    qkv_seq<CFG>(j.length, x_in, x_fwd, wq, wk, wv, q, k, v);
  }
}

template <class CFG>
void attention_stage(int n, job_stream& j_in, job_stream& j_out,
                     hls::stream<typename beat<CFG>::type>& x_in,
                     hls::stream<typename beat<CFG>::type>& x_fwd, const attn_quant& aq,
                     hls::stream<typename beat<CFG>::type>& q,
                     hls::stream<typename beat<CFG>::type>& k,
                     hls::stream<typename beat<CFG>::type>& v,
                     hls::stream<typename beat<CFG>::type>& ctx) {
sequences:
  for (int s = 0; s < n; ++s) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = CFG::GROUP_SEQS
    const seq_job j = j_in.read();
    j_out.write(j);
    forward_seq<CFG, CFG::HIDDEN>(x_in, j.length, x_fwd);
    attention_seq<CFG>(j.length, j.topk, aq, q, k, v, ctx);
  }
}

template <class CFG>
void attn_out_stage(int n, job_stream& j_in, job_stream& j_out,
                    hls::stream<typename beat<CFG>::type>& x_in,
                    hls::stream<typename beat<CFG>::type>& ctx,
                    const hp_bank<CFG, CFG::HIDDEN, CFG::HIDDEN>& w,
                    const channel_requant<CFG::HIDDEN>& align, const ln_store<CFG::HIDDEN>& ln,
                    hls::stream<typename beat<CFG>::type>& ln1) {
sequences:
  for (int s = 0; s < n; ++s) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = CFG::GROUP_SEQS
    const seq_job j = j_in.read();
    j_out.write(j);
    attn_out_seq<CFG>(j.length, x_in, ctx, w, align, ln, ln1);
  }
}

template <class CFG>
void ffn_in_stage(int n, job_stream& j_in, job_stream& j_out,
                  hls::stream<typename beat<CFG>::type>& ln1,
                  hls::stream<typename beat<CFG>::type>& ln1_fwd,
                  const hp_bank<CFG, CFG::FFN, CFG::HIDDEN>& w, const gelu_params& g,
                  const channel_requant<CFG::FFN>& gelu_out,
                  hls::stream<typename beat<CFG>::type>& mid) {
sequences:
  for (int s = 0; s < n; ++s) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = CFG::GROUP_SEQS
    const seq_job j = j_in.read();
    j_out.write(j);
    ffn_in_seq<CFG>(j.length, ln1, ln1_fwd, w, g, gelu_out, mid);
  }
}

template <class CFG>
void ffn_out_stage(int n, job_stream& j_in, job_stream& j_out,
                   hls::stream<typename beat<CFG>::type>& ln1,
                   hls::stream<typename beat<CFG>::type>& mid,
                   const hp_bank<CFG, CFG::HIDDEN, CFG::FFN>& w,
                   const channel_requant<CFG::HIDDEN>& align, const ln_store<CFG::HIDDEN>& ln,
                   hls::stream<typename beat<CFG>::type>& y) {
sequences:
  for (int s = 0; s < n; ++s) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = CFG::GROUP_SEQS
    const seq_job j = j_in.read();
    j_out.write(j);
    ffn_out_seq<CFG>(j.length, ln1, mid, w, align, ln, y);
  }
}

template <class CFG>
void drain(int n, job_stream& j_in, hls::stream<typename beat<CFG>::type>& y_in,
           typename beat<CFG>::type* dst) {
  const int BPT = CFG::HIDDEN / beat<CFG>::LANES;
  int base = 0;
sequences:
  for (int s = 0; s < n; ++s) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = CFG::GROUP_SEQS
    const seq_job j = j_in.read();
  beats:
    for (int i = 0; i < j.length * BPT; ++i) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = CFG::HIDDEN / beat<CFG>::LANES max = CFG::MAX_L * CFG::HIDDEN / beat<CFG>::LANES
      dst[base + i] = y_in.read();
    }
    base += j.length * BPT;
  }
}

// One encoder layer over the n sequences of a group: src holds their tokens back to back
// (beats), dst receives the layer's output in the same places. Seven processes in a chain;
// every stream has one writer and one reader, src is read only by feed, dst written only by
// drain, each weight bank read only by its stage.
template <class CFG>
void encoder_layer(const typename beat<CFG>::type* src, const seq_job* jobs, int n,
                   const layer_store<CFG>& w, typename beat<CFG>::type* dst) {
#pragma HLS DATAFLOW
#pragma HLS DISAGGREGATE variable = w
  typedef typename beat<CFG>::type beat_t;
  job_stream j0("j0"), j1("j1"), j2("j2"), j3("j3"), j4("j4"), j5("j5");
  hls::stream<beat_t> x0("x0"), x1("x1"), x2("x2"), q("q"), k("k"), v("v"), ctx("ctx");
  hls::stream<beat_t> ln1("ln1"), ln1f("ln1_fwd"), mid("mid"), y("y");
#pragma HLS STREAM variable = j0 depth = 4
#pragma HLS STREAM variable = j1 depth = 4
#pragma HLS STREAM variable = j2 depth = 4
#pragma HLS STREAM variable = j3 depth = 4
#pragma HLS STREAM variable = j4 depth = 4
#pragma HLS STREAM variable = j5 depth = 4
  // Every activation stream holds a whole sequence (SEQ_H / SEQ_F beats): a stage writes
  // its outputs for sequence n+1 while its consumer still computes sequence n, so the
  // stream plus the consumer's input buffer act as the stage's double buffer. With depth 2
  // the forwarded x and ln1, and q before k and v, would make neighbouring stages wait for
  // each other's compute (lock step, no overlap).
  const int SEQ_H = CFG::MAX_L * CFG::HIDDEN / beat<CFG>::LANES;
  const int SEQ_F = CFG::MAX_L * CFG::FFN / beat<CFG>::LANES;
#pragma HLS STREAM variable = x0 depth = SEQ_H
#pragma HLS STREAM variable = x1 depth = SEQ_H
#pragma HLS STREAM variable = x2 depth = SEQ_H
#pragma HLS STREAM variable = q depth = SEQ_H
#pragma HLS STREAM variable = k depth = SEQ_H
#pragma HLS STREAM variable = v depth = SEQ_H
#pragma HLS STREAM variable = ctx depth = SEQ_H
#pragma HLS STREAM variable = ln1 depth = SEQ_H
#pragma HLS STREAM variable = ln1f depth = SEQ_H
#pragma HLS STREAM variable = mid depth = SEQ_F
#pragma HLS STREAM variable = y depth = SEQ_H
  (void)SEQ_H;  // used by the pragmas only
  (void)SEQ_F;
  feed<CFG>(src, jobs, n, j0, x0);
  qkv_stage<CFG>(n, j0, j1, x0, x1, w.query, w.key, w.value, q, k, v);
  attention_stage<CFG>(n, j1, j2, x1, x2, w.attn, q, k, v, ctx);
  attn_out_stage<CFG>(n, j2, j3, x2, ctx, w.attn_out, w.residual1, w.ln1, ln1);
  ffn_in_stage<CFG>(n, j3, j4, ln1, ln1f, w.ffn_in, w.gelu, w.gelu_out, mid);
  ffn_out_stage<CFG>(n, j4, j5, ln1f, mid, w.ffn_out, w.residual2, w.ln2, y);
  drain<CFG>(n, j5, y, dst);
}

}  // namespace sbf

#endif  // SBF_ENCODER_LAYER_H
