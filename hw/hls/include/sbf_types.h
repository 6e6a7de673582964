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
const int MEM_BITS = 512;  // one m_axi word of the weight image (an AXI data beat on DDR)
const int MEM_BYTES = MEM_BITS / 8;
const int WORD_I32 = MEM_BITS / 32;  // int32 entries per memory word

typedef ap_int<ACT_BITS> act_t;
typedef ap_int<ACT_BITS> wgt_t;
typedef ap_uint<ACT_BITS> idx_t;
typedef ap_int<ACC_BITS> acc_t;
typedef ap_uint<MULT_BITS> mult_t;
typedef ap_uint<SHIFT_BITS> shift_t;
typedef ap_int<WIDE_BITS> wide_t;
typedef ap_uint<MEM_BITS> mem_word_t;

// ceil(log2(v)) for v >= 1: the width of an index below v.
constexpr int clog2(int v) { return v <= 1 ? 0 : 1 + clog2((v + 1) / 2); }

// The channel beat of a design: LANES int8 activations, LANES = min(Bo, Bi), so that the
// HP engine's outputs (Bo per step) and inputs (Bi per block) are whole beats. The
// activation m_axi ports and every stream between dataflow stages carry this word.
template <class CFG>
struct beat {
  static const int LANES = CFG::BO < CFG::BI ? CFG::BO : CFG::BI;
  typedef ap_uint<ACT_BITS * LANES> type;
};

const int ACT_MIN = -(1 << (ACT_BITS - 1));
const int ACT_MAX = (1 << (ACT_BITS - 1)) - 1;
const int64_t ACC_MIN = -(int64_t(1) << (ACC_BITS - 1));
const int64_t ACC_MAX = (int64_t(1) << (ACC_BITS - 1)) - 1;

}  // namespace sbf

#endif  // SBF_TYPES_H
