// The requantization unit: the one rounding rule of sim/golden/requant.py.
//
//   prod = acc * M                   (M 15-bit, exact in 64 bits)
//   y    = (prod + 2^(S-1)) >> S     (arithmetic shift: round half toward +inf)
//   out  = clamp(y, int8)            saturation point SAT_REQUANT
// and the saturating int32 bias add (SAT_BIAS). One multiply, one add, one shift.
#ifndef SBF_REQUANT_H
#define SBF_REQUANT_H

#include "sbf_types.h"

namespace sbf {

// clamp(x) to the signed range of OUT_BITS.
template <int OUT_BITS>
ap_int<OUT_BITS> saturate(wide_t x) {
#pragma HLS INLINE
  const wide_t lo = -(wide_t(1) << (OUT_BITS - 1));
  const wide_t hi = (wide_t(1) << (OUT_BITS - 1)) - 1;
  return ap_int<OUT_BITS>(x < lo ? lo : (x > hi ? hi : x));
}

// acc * M / 2^S, rounded half up, saturated to OUT_BITS (SAT_REQUANT).
template <int OUT_BITS>
ap_int<OUT_BITS> requantize(wide_t acc, mult_t mult, shift_t shift) {
#pragma HLS INLINE
  const wide_t prod = acc * wide_t(mult);
  const wide_t half = wide_t(1) << (shift - 1);
  return saturate<OUT_BITS>((prod + half) >> shift);
}

// acc + bias in int32, saturating (SAT_BIAS): the accumulator never wraps.
inline acc_t add_bias(wide_t acc, acc_t bias) {
#pragma HLS INLINE
  return saturate<ACC_BITS>(acc + wide_t(bias));
}

}  // namespace sbf

#endif  // SBF_REQUANT_H
