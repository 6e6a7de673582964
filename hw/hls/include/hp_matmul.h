// The HP sparse matmul engine: y[L][out] = requant(W x + bias), W in HP block-CSR storage.
//
// Why this shape: an HP block keeps exactly m of Bi entries in every one of its Bo rows, so
// Bo PEs can each read m values and m in-block column indices from their OWN bank per
// cycle while the block's Bi activations are broadcast to all of them: no bank conflicts,
// no idle PE. Block-rows run one after another, so uneven block counts cost only their own
// work. Tokens come in tiles of T; the last tile of a sequence is partial, so the loops run
// to the real length L (no padding).
//
// Weight banks (the layout written by hw/render.py): values and indices of a layer are
// [Bo][nnzb][m], so PE p's bank is the contiguous slice p*nnzb*m .. (p+1)*nnzb*m.
#ifndef SBF_HP_MATMUL_H
#define SBF_HP_MATMUL_H

#include "requant.h"

namespace sbf {

// One HP linear layer as the engine reads it (pointers into the weight image).
struct hp_layer {
  int out_features;
  int in_features;
  int nnzb;
  const int32_t* block_ptr;  // [out/Bo + 1]
  const int32_t* block_col;  // [nnzb]
  const int8_t* values;      // [Bo][nnzb][m]: one bank per PE
  const uint8_t* idx;        // [Bo][nnzb][m]: in-block columns, each < Bi
  const int32_t* bias;       // [out]
  const int32_t* mult;       // [out] requantization multiplier M
  const int32_t* shift;      // [out] requantization shift S
};

// y[L][out] = requantize(add_bias(W x, bias), M, S) to OUT_BITS: the golden hp_linear.
// CFG: BO (PEs per block-row), BI (block width), M (MACs per PE per cycle), T (tokens per
// tile), MAX_IN (widest input row).
template <class CFG, int OUT_BITS>
void hp_linear(const act_t* x, int L, const hp_layer& w, ap_int<OUT_BITS>* y) {
  act_t xbuf[CFG::T][CFG::MAX_IN];
#pragma HLS ARRAY_PARTITION variable = xbuf dim = 1 complete
#pragma HLS ARRAY_PARTITION variable = xbuf dim = 2 cyclic factor = CFG::BI
  const int n_block_rows = w.out_features / CFG::BO;
  const int bank = w.nnzb * CFG::M;
tiles:
  for (int t0 = 0; t0 < L; t0 += CFG::T) {
    const int nt = (L - t0 < CFG::T) ? L - t0 : CFG::T;
  load_tile:
    for (int t = 0; t < nt; ++t) {
      for (int c = 0; c < w.in_features; ++c) {
#pragma HLS PIPELINE II = 1
        xbuf[t][c] = x[(t0 + t) * w.in_features + c];
      }
    }
  block_rows:
    for (int r = 0; r < n_block_rows; ++r) {
      acc_t acc[CFG::T][CFG::BO];
#pragma HLS ARRAY_PARTITION variable = acc complete dim = 0
    clear:
      for (int t = 0; t < CFG::T; ++t) {
#pragma HLS UNROLL
        for (int p = 0; p < CFG::BO; ++p) {
#pragma HLS UNROLL
          acc[t][p] = 0;
        }
      }
    blocks:
      for (int b = w.block_ptr[r]; b < w.block_ptr[r + 1]; ++b) {
#pragma HLS PIPELINE II = 1
        const int base = w.block_col[b] * CFG::BI;
      pes:
        for (int p = 0; p < CFG::BO; ++p) {
#pragma HLS UNROLL
        macs:
          for (int j = 0; j < CFG::M; ++j) {
#pragma HLS UNROLL
            const wgt_t v = w.values[p * bank + b * CFG::M + j];
            const idx_t k = w.idx[p * bank + b * CFG::M + j];
          tokens:
            for (int t = 0; t < CFG::T; ++t) {
#pragma HLS UNROLL
              if (t < nt) acc[t][p] += v * xbuf[t][base + k];
            }
          }
        }
      }
    drain:
      for (int t = 0; t < nt; ++t) {
        for (int p = 0; p < CFG::BO; ++p) {
#pragma HLS PIPELINE II = 1
          const int row = r * CFG::BO + p;
          const acc_t a = add_bias(acc[t][p], w.bias[row]);  // SAT_BIAS
          y[(t0 + t) * w.out_features + row] =
              requantize<OUT_BITS>(a, w.mult[row], w.shift[row]);  // SAT_REQUANT
        }
      }
    }
  }
}

}  // namespace sbf

#endif  // SBF_HP_MATMUL_H
