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

// floor(a / b) for b > 0, as NumPy's // (C++ division truncates toward zero).
inline wide_t floor_div(wide_t a, wide_t b) {
#pragma HLS INLINE
  const wide_t q = a / b;
  return (a % b != 0 && a < 0) ? wide_t(q - 1) : q;
}

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
  const wide_t z = (-qs) / p.q_ln2;   // -qs >= 0: truncation is the floor
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
    if (x[j] > mx) mx = x[j];
  }
  wide_t total = 0;
exps:
  for (int j = 0; j < n; ++j) {
#pragma HLS PIPELINE II = 1
    e[j] = int_exp(wide_t(x[j]) - mx, p);
    total += e[j];
  }
  const wide_t recip = (wide_t(1) << SOFTMAX_RECIP_BITS) / total;
normalise:
  for (int j = 0; j < n; ++j) {
#pragma HLS PIPELINE II = 1
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

// floor(sqrt(n)) for 0 <= n < 2^62: Newton from 2^ceil(bits/2), at most ISQRT_MAX_ITERS steps.
inline wide_t isqrt(wide_t n) {
  if (n == 0) return 0;
  int bits = 0;
bit_length:
  for (int b = 0; b < ISQRT_IN_BITS; ++b) {
#pragma HLS UNROLL
    if ((n >> b) != 0) bits = b + 1;
  }
  wide_t x = wide_t(1) << ((bits + 1) >> 1);
newton:
  for (int i = 0; i < ISQRT_MAX_ITERS; ++i) {
#pragma HLS PIPELINE
    const wide_t y = (x + n / x) >> 1;
    if (y >= x) break;
    x = y;
  }
  return x;
}

// LayerNorm of one token x[0..N) with per-channel gamma (int), beta (int32) and output
// requantization (mult, shift) to int8: the golden int_layernorm with out_bits = 8.
template <int N, class IN_T>
void int_layernorm(const IN_T x[N], const int32_t* gamma, const int32_t* beta,
                   const int32_t* mult, const int32_t* shift, act_t out[N]) {
  wide_t sum = 0;
mean:
  for (int c = 0; c < N; ++c) {
#pragma HLS PIPELINE II = 1
    sum += x[c];
  }
  const wide_t mu = floor_div(sum + N / 2, N);
  wide_t ss = 0;
variance:
  for (int c = 0; c < N; ++c) {
#pragma HLS PIPELINE II = 1
    const wide_t y = wide_t(x[c]) - mu;
    ss += y * y;
  }
  wide_t sd = isqrt(ss);
  if (sd < LN_STD_MIN) sd = LN_STD_MIN;
  const wide_t recip = (wide_t(1) << LN_RECIP_BITS) / sd;
normalise:
  for (int c = 0; c < N; ++c) {
#pragma HLS PIPELINE II = 1
    const wide_t y = wide_t(x[c]) - mu;
    const wide_t qn =
        saturate<LN_NORM_SAT_BITS>(round_shift(y * recip, LN_RECIP_BITS - LN_NORM_BITS));
    const acc_t acc = add_bias(qn * gamma[c], beta[c]);  // SAT_BIAS
    out[c] = requantize<ACT_BITS>(acc, mult[c], shift[c]);  // SAT_REQUANT
  }
}

}  // namespace sbf

#endif  // SBF_NONLINEAR_H
