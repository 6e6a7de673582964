// Data types shared by every engine: the widths of the integer-only datapath.
//
// The widths are those of the golden model (sim/golden, rendered into sbf_golden.h): int8
// activations and weights, int32 accumulators, a 15-bit requantization multiplier and a
// shift in [1, 62].
#ifndef SBF_TYPES_H
#define SBF_TYPES_H

#include <ap_int.h>
#include <cstdint>

#include "hls_stream.h"
#include "sbf_golden.h"

namespace sbf {

const int ACC_BITS = 32;   // golden requant.ACC_MIN/ACC_MAX
const int SHIFT_BITS = 6;  // holds SHIFT_MAX
const int WIDE_BITS = 64;  // products and rounding terms: the golden model computes in int64

typedef ap_int<ACT_BITS> act_t;
typedef ap_int<ACT_BITS> wgt_t;
typedef ap_uint<ACT_BITS> idx_t;
typedef ap_int<ACC_BITS> acc_t;
typedef ap_uint<MULT_BITS> mult_t;
typedef ap_uint<SHIFT_BITS> shift_t;
typedef ap_int<WIDE_BITS> wide_t;

const int ACT_MIN = -(1 << (ACT_BITS - 1));
const int ACT_MAX = (1 << (ACT_BITS - 1)) - 1;
const int64_t ACC_MIN = -(int64_t(1) << (ACC_BITS - 1));
const int64_t ACC_MAX = (int64_t(1) << (ACC_BITS - 1)) - 1;

}  // namespace sbf

#endif  // SBF_TYPES_H
