// Integer-only nonlinear units (I-BERT): i-exp, softmax, i-GELU, isqrt, LayerNorm.
//
// Each function is the C++ of the same-named one in sim/golden/nonlinear.py, whose
// docstrings define the arithmetic; its constants come from sbf_golden.h. All
// intermediates are 64-bit (the golden model computes in int64): ">>" is arithmetic and
// every division is a floor division, as in NumPy.
#ifndef SBF_NONLINEAR_H
#define SBF_NONLINEAR_H

#include "requant.h"

namespace sbf {

const int ISQRT_IN_BITS = 63;  // isqrt takes non-negative int64

typedef ap_uint<PROB_BITS> prob_t;

// Integer constants of i-exp (golden ExpParams).
struct softmax_params {
  int64_t q_ln2;
  int64_t q_b;
  int64_t q_c;
};

// Integer constants of i-GELU (golden GeluParams).
struct gelu_params {
  int64_t q_b;
  int64_t q_one;
  int32_t shift;
};

// floor(a / b) for b > 0, as NumPy's // (C++ division truncates toward zero). Only for a
// constant b (the LayerNorm mean divides by its width N), which HLS does not implement
// as a run-time divider; every division by a run-time value goes through udiv_small or
// recip_pow2 below.
inline wide_t floor_div(wide_t a, wide_t b) {
#pragma HLS INLINE
  const wide_t q = a / b;
  return (a % b != 0 && a < 0) ? wide_t(q - 1) : q;
}

// floor(a / d) for 0 <= a < 2^Q_BITS * d, d > 0: restoring division with a Q_BITS-bit
// quotient, one compare-subtract per bit. Why: the quotients of i-exp's shift (<=
// EXP_MAX_SHIFT) and of the 4-bit code (<= Q4_MAX) are a few bits wide, so a few unrolled
// compare-subtracts replace a 64-bit divider and stay inside an II=1 pipeline.
template <int Q_BITS>
ap_uint<Q_BITS> udiv_small(ap_uint<WIDE_BITS> a, ap_uint<WIDE_BITS> d) {
#pragma HLS INLINE
  ap_uint<WIDE_BITS + Q_BITS> rem = a;
  ap_uint<Q_BITS> q = 0;
quotient_bits:
  for (int i = Q_BITS - 1; i >= 0; --i) {
#pragma HLS UNROLL
    const ap_uint<WIDE_BITS + Q_BITS> sub = ap_uint<WIDE_BITS + Q_BITS>(d) << i;
    if (rem >= sub) {
      rem -= sub;
      q[i] = 1;
    }
  }
  return q;
}

// floor(2^N / d) for d >= 1: restoring division, N + 1 fixed steps (one quotient bit each,
// as the RTL's DIV state). Why: the softmax and LayerNorm reciprocals divide by a run-time
// sum; a fixed-trip loop of compares is what hardware can schedule, where `/` on int64
// would instantiate a 64-bit divider.
template <int N>
wide_t recip_pow2(wide_t d) {
  const ap_uint<WIDE_BITS> den = d;
  ap_uint<WIDE_BITS + 1> rem = 0;
  ap_uint<N + 1> q = 0;
quotient_bits:
  for (int i = N; i >= 0; --i) {
#pragma HLS PIPELINE II = 1
    rem = (rem << 1) | ap_uint<WIDE_BITS + 1>(i == N ? 1 : 0);
    if (rem >= den) {
      rem -= den;
      q[i] = 1;
    }
  }
  return wide_t(q);
}

// The number of bits of a non-negative constant: sizes the quotient of udiv_small.
constexpr int bit_length(int v) { return v > 0 ? 1 + bit_length(v >> 1) : 0; }

// (v + 2^(s-1)) >> s: round half up, the rule of requantize.
inline wide_t round_shift(wide_t v, int s) {
#pragma HLS INLINE
  return (v + (wide_t(1) << (s - 1))) >> s;
}

// i-exp of q <= 0; scale EXP_A * s^2.
inline wide_t int_exp(wide_t q, const softmax_params& p) {
#pragma HLS INLINE
  const wide_t lo = -wide_t(EXP_MAX_SHIFT) * p.q_ln2;
  const wide_t qs = q < lo ? lo : q;  // SAT_EXP
  // 0 <= -qs <= EXP_MAX_SHIFT * q_ln2, so z = floor(-qs / q_ln2) <= EXP_MAX_SHIFT
  const wide_t z = udiv_small<bit_length(EXP_MAX_SHIFT)>(-qs, p.q_ln2);
  const wide_t r = qs + z * p.q_ln2;
  const wide_t t = r + p.q_b;
  return (t * t + p.q_c) >> z.to_int();
}

// Softmax over x[0..n): probabilities with scale 2^-PROB_BITS, saturated at PROB_MAX.
template <int MAX_N, class IN_T>
void int_softmax(const IN_T x[MAX_N], int n, const softmax_params& p, prob_t out[MAX_N]) {
  wide_t e[MAX_N];
  wide_t mx = x[0];
row_max:
  for (int j = 1; j < n; ++j) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 0 max = MAX_N - 1
    if (x[j] > mx) mx = x[j];
  }
  wide_t total = 0;
exps:
  for (int j = 0; j < n; ++j) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_N
    e[j] = int_exp(wide_t(x[j]) - mx, p);
    total += e[j];
  }
  const wide_t recip = recip_pow2<SOFTMAX_RECIP_BITS>(total);
normalise:
  for (int j = 0; j < n; ++j) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_N
    const wide_t v = round_shift(e[j] * recip, SOFTMAX_RECIP_BITS - PROB_BITS);
    out[j] = v > PROB_MAX ? wide_t(PROB_MAX) : v;  // SAT_SOFTMAX
  }
}

// i-GELU of an int16-range q; scale GeluParams.out_scale.
inline wide_t int_gelu(wide_t q, const gelu_params& p) {
#pragma HLS INLINE
  const wide_t aq = q < 0 ? wide_t(-q) : q;
  const wide_t a = aq < p.q_b ? aq : wide_t(p.q_b);
  const wide_t d = a - p.q_b;
  const wide_t mag = ((wide_t(p.q_one) << p.shift) - d * d) >> p.shift;
  const wide_t erf = q > 0 ? mag : (q < 0 ? wide_t(-mag) : wide_t(0));
  return q * (erf + p.q_one);
}

// floor(sqrt(n)) for 0 <= n < 2^62, digit by digit: one result bit per step, a fixed
// ISQRT_STEPS steps without division. It equals the golden isqrt (Newton from above),
// which is floor(sqrt(n)) exactly; the hardware form has no divider and no early exit.
const int ISQRT_STEPS = (ISQRT_IN_BITS + 1) / 2;
inline wide_t isqrt(wide_t n) {
  const ap_uint<2 * ISQRT_STEPS> v = n;
  ap_uint<2 * ISQRT_STEPS + 2> rem = 0;
  ap_uint<ISQRT_STEPS + 2> root = 0;
digits:
  for (int i = ISQRT_STEPS - 1; i >= 0; --i) {
#pragma HLS PIPELINE II = 1
    rem = (rem << 2) | ap_uint<2 * ISQRT_STEPS + 2>(v.range(2 * i + 1, 2 * i));
    const ap_uint<2 * ISQRT_STEPS + 2> trial = (ap_uint<2 * ISQRT_STEPS + 2>(root) << 2) | 1;
    root <<= 1;
    if (rem >= trial) {
      rem -= trial;
      root[0] = 1;
    }
  }
  return wide_t(root);
}

// LayerNorm of one token x[0..N) with per-channel gamma (int), beta (int32) and output
// requantization (mult, shift) to int8: the golden int_layernorm with out_bits = 8.
// P channels a cycle: x and out are [N/P][P] (one P-wide word per cycle), the per-channel
// arrays flat [N] (the caller partitions them cyclic by P).
template <int N, int P, class IN_T>
void int_layernorm(const IN_T x[N / P][P], const int32_t gamma[N], const int32_t beta[N],
                   const mult_t mult[N], const shift_t shift[N], act_t out[N / P][P]) {
  wide_t sum = 0;
mean:
  for (int c = 0; c < N / P; ++c) {
#pragma HLS PIPELINE II = 1
    wide_t part = 0;
    for (int p = 0; p < P; ++p) {
#pragma HLS UNROLL
      part += x[c][p];
    }
    sum += part;
  }
  const wide_t mu = floor_div(sum + N / 2, N);  // N is a constant: no run-time divider
  wide_t ss = 0;
variance:
  for (int c = 0; c < N / P; ++c) {
#pragma HLS PIPELINE II = 1
    wide_t part = 0;
    for (int p = 0; p < P; ++p) {
#pragma HLS UNROLL
      const wide_t y = wide_t(x[c][p]) - mu;
      part += y * y;
    }
    ss += part;
  }
  wide_t sd = isqrt(ss);
  if (sd < LN_STD_MIN) sd = LN_STD_MIN;
  const wide_t recip = recip_pow2<LN_RECIP_BITS>(sd);
normalise:
  for (int c = 0; c < N / P; ++c) {
#pragma HLS PIPELINE II = 1
    for (int p = 0; p < P; ++p) {
#pragma HLS UNROLL
      const int ch = c * P + p;
      const wide_t y = wide_t(x[c][p]) - mu;
      const wide_t qn =
          saturate<LN_NORM_SAT_BITS>(round_shift(y * recip, LN_RECIP_BITS - LN_NORM_BITS));
      const acc_t acc = add_bias(qn * gamma[ch], beta[ch]);  // SAT_BIAS
      out[c][p] = requantize<ACT_BITS>(acc, mult[ch], shift[ch]);  // SAT_REQUANT
    }
  }
}

}  // namespace sbf

#endif  // SBF_NONLINEAR_H
