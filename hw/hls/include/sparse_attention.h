// The top-k sparse attention engine for one head (Peng et al., DAC 2022), as the RTL
// engine (hw/rtl/sparse_attention.sv) runs it and sim/golden/sparse_attention.py defines it:
//   K pass     K rows -> signed 4-bit codes with one scale over the head's L keys
//   per query  EST    one key per cycle: 4x4-bit products from the 256-entry ESTIMATE_LUT
//                     summed over d, into a sorted insertion list of the top k (ties keep
//                     the lower key index)
//              EXACT  int8 q.k of the k kept keys only, requantized (SAT_ATTN_SCORE)
//              EXP/DIV  integer softmax over k (restoring-division reciprocal)
//              PV     the k kept V rows weighted by the probabilities, one row per cycle
//              OUT    requantize the context row to int8
// The engine owns its buffers: Q, K, V and context rows of its head ([MAX_L][D], each row
// one wide word under ARRAY_RESHAPE), passed in by the caller that holds one set per
// engine, so unrolled engines share no memory. All loops run to the real length L.
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
typedef ap_uint<ACT_BITS + 1> mag_t;  // |x| of an int8, up to 128

// The integer constants of one head (sim/golden/sparse_attention.AttentionQuant).
struct attn_quant {
  int32_t score_mult;
  int32_t score_shift;
  softmax_params softmax;
  int32_t out_mult;
  int32_t out_shift;
};

inline mag_t abs8(act_t x) {
#pragma HLS INLINE
  return x < 0 ? mag_t(-x) : mag_t(x);
}

// x4 = sign(x) * floor((2 Q4_MAX |x| + m) / (2 m)), 0 where m = 0. |x| <= m bounds the
// quotient by Q4_MAX, so a 3-bit compare-subtract division does it (no divider).
inline q4_t quantize4_value(act_t x, mag_t m) {
#pragma HLS INLINE
  if (m == 0) return 0;
  const ap_uint<WIDE_BITS> num = 2 * Q4_MAX * abs8(x) + m;
  const ap_uint<bit_length(Q4_MAX)> mag = udiv_small<bit_length(Q4_MAX)>(num, 2 * m);
  return x < 0 ? q4_t(-mag) : q4_t(mag);
}

// max |x| over one row of D.
template <int D>
mag_t row_absmax(const act_t x[D]) {
#pragma HLS INLINE
  mag_t m = 0;
  for (int d = 0; d < D; ++d) {
#pragma HLS UNROLL
    const mag_t a = abs8(x[d]);
    if (a > m) m = a;
  }
  return m;
}

// Codes of one row at scale m (D lanes in parallel).
template <int D>
void quantize4_row(const act_t x[D], mag_t m, q4_t out[D]) {
#pragma HLS INLINE
  for (int d = 0; d < D; ++d) {
#pragma HLS UNROLL
    out[d] = quantize4_value(x[d], m);
  }
}

// One copy of the 256-entry product table per lane d, so that the D lookups of a cycle go
// to D separate ROMs (a single table has two ports). Filled at the start of a head, 256
// cycles; each engine has its own copies.
template <int D>
void lut_copies(lut_t lut[D][LUT_SIZE]) {
fill:
  for (int a = 0; a < LUT_SIZE; ++a) {
#pragma HLS PIPELINE II = 1
    for (int d = 0; d < D; ++d) {
#pragma HLS UNROLL
      lut[d][a] = ESTIMATE_LUT[a];
    }
  }
}

// sum_d LUT[q4[d], k4[d]]: the 4-bit estimate of one query against one key, D lookups.
template <int D>
est_t estimate_key(const lut_t lut[D][LUT_SIZE], const q4_t q4[D], const q4_t k4[D]) {
#pragma HLS INLINE
  est_t s = 0;
dims:
  for (int d = 0; d < D; ++d) {
#pragma HLS UNROLL
    const int addr = (int(ap_uint<NIBBLE_BITS>(q4[d])) << NIBBLE_BITS) |
                     int(ap_uint<NIBBLE_BITS>(k4[d]));
    s += lut[d][addr];  // lane d's copy of the 256-entry product table
  }
  return s;
}

// One step of the top-k list (best[0..n) sorted by estimate desc, then index asc): key j
// with estimate e passes only strictly smaller estimates, so ties keep the lower index
// first. Registers only: compares in parallel, then one shift.
template <int MAX_K>
void topk_insert(est_t best[MAX_K], int idx[MAX_K], int& n, int kk, est_t e, int j) {
#pragma HLS INLINE
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

// EST for one query, as the RTL runs it: one key per cycle, its estimate straight into the
// top-k list; the kk kept key indices come out in idx, the estimates in est (for tests).
template <int MAX_L, int MAX_K, int D>
void estimate_select(const lut_t lut[D][LUT_SIZE], const q4_t q4[D], const q4_t k4[MAX_L][D],
                     int L, int kk, est_t est[MAX_L], int idx[MAX_K]) {
  est_t best[MAX_K];
#pragma HLS ARRAY_PARTITION variable = best complete
#pragma HLS ARRAY_PARTITION variable = idx complete
  int n = 0;
keys:
  for (int j = 0; j < L; ++j) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_L
    const est_t e = estimate_key<D>(lut, q4, k4[j]);
    est[j] = e;
    topk_insert<MAX_K>(best, idx, n, kk, e, j);
  }
}

// One head: q, k, v [L][D] -> context [L][D], keeping kk = min(k, L) keys per query (the
// caller's topk_count). The arrays are this engine's own.
template <int MAX_L, int MAX_K, int D>
void attention_head(const act_t q[MAX_L][D], const act_t k[MAX_L][D], const act_t v[MAX_L][D],
                    int L, int kk, const attn_quant& aq, act_t out[MAX_L][D]) {
#pragma HLS INLINE off
  lut_t lut[D][LUT_SIZE];
#pragma HLS ARRAY_PARTITION variable = lut complete dim = 1
  lut_copies<D>(lut);
  q4_t k4[MAX_L][D];
#pragma HLS ARRAY_RESHAPE variable = k4 complete dim = 2
  mag_t mk = 0;
k_scale:
  for (int j = 0; j < L; ++j) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_L
    const mag_t m = row_absmax<D>(k[j]);
    if (m > mk) mk = m;
  }
k_codes:
  for (int j = 0; j < L; ++j) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_L
    quantize4_row<D>(k[j], mk, k4[j]);
  }
queries:
  for (int i = 0; i < L; ++i) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_L
    act_t qr[D];
    q4_t q4[D];
#pragma HLS ARRAY_PARTITION variable = qr complete
#pragma HLS ARRAY_PARTITION variable = q4 complete
    for (int d = 0; d < D; ++d) {
#pragma HLS UNROLL
      qr[d] = q[i][d];
    }
    quantize4_row<D>(qr, row_absmax<D>(qr), q4);
    est_t est[MAX_L];
    int idx[MAX_K];
    estimate_select<MAX_L, MAX_K, D>(lut, q4, k4, L, kk, est, idx);
    score_t x[MAX_K];
  exact:
    for (int j = 0; j < kk; ++j) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_K
      acc_t s = 0;
      for (int d = 0; d < D; ++d) {
#pragma HLS UNROLL
        s += qr[d] * k[idx[j]][d];
      }
      x[j] = requantize<SCORE_BITS>(s, aq.score_mult, aq.score_shift);  // SAT_ATTN_SCORE
    }
    prob_t p[MAX_K];
    int_softmax<MAX_K>(x, kk, aq.softmax, p);
    // |sum| <= PROB_MAX * 128 * k < 2^31; kept in 64 bits as the golden model.
    wide_t acc[D];
#pragma HLS ARRAY_PARTITION variable = acc complete
    for (int d = 0; d < D; ++d) {
#pragma HLS UNROLL
      acc[d] = 0;
    }
  pv:
    for (int j = 0; j < kk; ++j) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_K
      for (int d = 0; d < D; ++d) {
#pragma HLS UNROLL
        acc[d] += wide_t(p[j]) * v[idx[j]][d];
      }
    }
  out_row:
    for (int d = 0; d < D; ++d) {
#pragma HLS UNROLL
      out[i][d] = requantize<ACT_BITS>(acc[d], aq.out_mult, aq.out_shift);
    }
  }
}

}  // namespace sbf

#endif  // SBF_SPARSE_ATTENTION_H
