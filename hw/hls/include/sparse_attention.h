// The top-k sparse attention engine for one head (Peng et al., DAC 2022), stage by stage
// as in sim/golden/sparse_attention.py:
//   1. quantize4      int8 -> signed 4-bit codes; Q per query row, K over the head's L keys
//   2. estimate       4x4-bit products from the 256-entry ESTIMATE_LUT (sbf_golden.h), L x L
//   3. select_topk    the k keys of largest estimate per query, ties to the lower key index
//   4. exact_scores   int8 dot products for those k keys only: O(L k d), not O(L^2 d)
//   5. softmax        requantize scores to SCORE_BITS (SAT_ATTN_SCORE), integer softmax
//   6. accumulate     sum of the k selected V rows weighted by the probabilities, requant
// All loops run to the real length L; Q, K, V are read with a row stride, so a head is a
// column slice of the [L][hidden] projections.
#ifndef SBF_SPARSE_ATTENTION_H
#define SBF_SPARSE_ATTENTION_H

#include "nonlinear.h"
#include "requant.h"

namespace sbf {

const int NIBBLE_MASK = (1 << NIBBLE_BITS) - 1;

typedef ap_int<NIBBLE_BITS> q4_t;
typedef ap_int<ACT_BITS> lut_t;     // products lie in [-56, 64]
typedef ap_int<ACC_BITS> est_t;     // |est| <= 49 d
typedef ap_int<SCORE_BITS> score_t;

// The integer constants of one head (sim/golden/sparse_attention.AttentionQuant).
struct attn_quant {
  int32_t score_mult;
  int32_t score_shift;
  softmax_params softmax;
  int32_t out_mult;
  int32_t out_shift;
};

// x4 = sign(x) * floor((2 Q4_MAX |x| + m) / (2 m)), 0 where m = 0.
inline q4_t quantize4_value(act_t x, ap_uint<ACT_BITS> m) {
#pragma HLS INLINE
  if (m == 0) return 0;
  const ap_uint<ACT_BITS + 1> a = x < 0 ? ap_uint<ACT_BITS + 1>(-x) : ap_uint<ACT_BITS + 1>(x);
  const ap_uint<2 * ACT_BITS> mag = (2 * Q4_MAX * a + m) / (2 * m);
  return x < 0 ? q4_t(-mag) : q4_t(mag);
}

// Codes of rows x[r][0..d) (stride `ld`): per_row: one scale per row, else one over all rows.
template <int MAX_L, int D>
void quantize4(const act_t* x, int ld, int rows, bool per_row, q4_t out[MAX_L][D]) {
  ap_uint<ACT_BITS> m_all = 0;
max_all:
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < D; ++c) {
#pragma HLS PIPELINE II = 1
      const act_t v = x[r * ld + c];
      const ap_uint<ACT_BITS> a = v < 0 ? ap_uint<ACT_BITS>(-v) : ap_uint<ACT_BITS>(v);
      if (a > m_all) m_all = a;
    }
  }
codes:
  for (int r = 0; r < rows; ++r) {
    ap_uint<ACT_BITS> m = m_all;
    if (per_row) {
      m = 0;
      for (int c = 0; c < D; ++c) {
#pragma HLS PIPELINE II = 1
        const act_t v = x[r * ld + c];
        const ap_uint<ACT_BITS> a = v < 0 ? ap_uint<ACT_BITS>(-v) : ap_uint<ACT_BITS>(v);
        if (a > m) m = a;
      }
    }
    for (int c = 0; c < D; ++c) {
#pragma HLS PIPELINE II = 1
      out[r][c] = quantize4_value(x[r * ld + c], m);
    }
  }
}

// est[i][j] = sum_d LUT[q4[i][d], k4[j][d]]: one query row against L keys, D lookups a cycle.
template <int MAX_L, int D>
void estimate_row(const q4_t q4[D], const q4_t k4[MAX_L][D], int L, est_t est[MAX_L]) {
keys:
  for (int j = 0; j < L; ++j) {
#pragma HLS PIPELINE II = 1
    est_t s = 0;
  dims:
    for (int d = 0; d < D; ++d) {
#pragma HLS UNROLL
      const int addr = (int(ap_uint<NIBBLE_BITS>(q4[d])) << NIBBLE_BITS) |
                       int(ap_uint<NIBBLE_BITS>(k4[j][d]));
      s += lut_t(ESTIMATE_LUT[addr]);  // the 256-entry product table
    }
    est[j] = s;
  }
}

// The kk keys of largest estimate, by (estimate desc, index asc): an insertion list where a
// later key passes only strictly smaller estimates, so ties keep the lower index first.
template <int MAX_L, int MAX_K>
void select_topk(const est_t est[MAX_L], int L, int kk, int idx[MAX_K]) {
  est_t best[MAX_K];
#pragma HLS ARRAY_PARTITION variable = best complete
#pragma HLS ARRAY_PARTITION variable = idx complete
  int n = 0;
scan:
  for (int j = 0; j < L; ++j) {
#pragma HLS PIPELINE II = 1
    const est_t e = est[j];
    int pos = n < kk ? n : kk;
  find:
    for (int s = MAX_K - 1; s >= 0; --s) {
#pragma HLS UNROLL
      if (s < n && s < kk && best[s] < e) pos = s;
    }
    if (pos < kk) {
    shift:
      for (int s = MAX_K - 1; s > 0; --s) {
#pragma HLS UNROLL
        if (s > pos && s < kk) {
          best[s] = best[s - 1];
          idx[s] = idx[s - 1];
        }
      }
      best[pos] = e;
      idx[pos] = j;
      if (n < kk) ++n;
    }
  }
}

// s[j] = sum_d q[d] * k[idx[j]][d] in int32, for the kk selected keys only.
template <int MAX_K, int D>
void exact_scores(const act_t* q, const act_t* k, int ld, const int idx[MAX_K], int kk,
                  acc_t s[MAX_K]) {
selected:
  for (int j = 0; j < kk; ++j) {
#pragma HLS PIPELINE II = 1
    acc_t acc = 0;
    for (int d = 0; d < D; ++d) {
#pragma HLS UNROLL
      acc += q[d] * k[idx[j] * ld + d];
    }
    s[j] = acc;
  }
}

// out[d] = requant(sum_j p[j] * v[idx[j]][d]) to int8: |sum| <= PROB_MAX * 128 * k < 2^31.
template <int MAX_K, int D>
void accumulate(const prob_t p[MAX_K], const act_t* v, int ld, const int idx[MAX_K], int kk,
                const attn_quant& aq, act_t* out) {
dims:
  for (int d = 0; d < D; ++d) {
#pragma HLS PIPELINE II = 1
    wide_t acc = 0;
    for (int j = 0; j < kk; ++j) acc += wide_t(p[j]) * v[idx[j] * ld + d];
    out[d] = requantize<ACT_BITS>(acc, aq.out_mult, aq.out_shift);
  }
}

// Dataflow process 1, the cheap pre-pass: per query, the 4-bit estimate against all L keys
// and the top-kk selection; the kk key indices go into `sel`.
template <int MAX_L, int MAX_K, int D>
void select_keys(const q4_t q4[MAX_L][D], const q4_t k4[MAX_L][D], int L, int kk,
                 hls::stream<int>& sel) {
queries:
  for (int i = 0; i < L; ++i) {
    est_t est[MAX_L];
    int idx[MAX_K];
    estimate_row<MAX_L, D>(q4[i], k4, L, est);
    select_topk<MAX_L, MAX_K>(est, L, kk, idx);
    for (int j = 0; j < kk; ++j) {
#pragma HLS PIPELINE II = 1
      sel.write(idx[j]);
    }
  }
}

// Dataflow process 2, the exact part, O(L k d): per query, read its kk keys from `sel`,
// exact scores, requantize (SAT_ATTN_SCORE), integer softmax, V accumulation.
template <int MAX_L, int MAX_K, int D>
void attend_selected(const act_t* q, const act_t* k, const act_t* v, int ld, int L, int kk,
                     const attn_quant& aq, hls::stream<int>& sel, act_t* out) {
queries:
  for (int i = 0; i < L; ++i) {
    int idx[MAX_K];
    acc_t s[MAX_K];
    score_t x[MAX_K];
    prob_t p[MAX_K];
    for (int j = 0; j < kk; ++j) {
#pragma HLS PIPELINE II = 1
      idx[j] = sel.read();
    }
    exact_scores<MAX_K, D>(q + i * ld, k, ld, idx, kk, s);
    for (int j = 0; j < kk; ++j) {
#pragma HLS PIPELINE II = 1
      x[j] = requantize<SCORE_BITS>(s[j], aq.score_mult, aq.score_shift);
    }
    int_softmax<MAX_K>(x, kk, aq.softmax, p);
    accumulate<MAX_K, D>(p, v, ld, idx, kk, aq, out + i * ld);
  }
}

// One head: Q, K, V [L][D] at row stride ld -> context [L][D] at stride ld, keeping
// kk = min(k, L) keys per query (the caller's topk_count). The selection runs ahead of
// the exact part through a stream of key indices.
template <int MAX_L, int MAX_K, int D>
void sparse_attention_head(const act_t* q, const act_t* k, const act_t* v, int ld, int L,
                           int kk, const attn_quant& aq, act_t* out) {
#pragma HLS DATAFLOW
  static q4_t q4[MAX_L][D];
  static q4_t k4[MAX_L][D];
#pragma HLS ARRAY_PARTITION variable = q4 dim = 2 complete
#pragma HLS ARRAY_PARTITION variable = k4 dim = 2 complete
  quantize4<MAX_L, D>(q, ld, L, true, q4);
  quantize4<MAX_L, D>(k, ld, L, false, k4);
  hls::stream<int> sel("selected_keys");
#pragma HLS STREAM variable = sel depth = MAX_K
  select_keys<MAX_L, MAX_K, D>(q4, k4, L, kk, sel);
  attend_selected<MAX_L, MAX_K, D>(q, k, v, ld, L, kk, aq, sel, out);
}

}  // namespace sbf

#endif  // SBF_SPARSE_ATTENTION_H
