// The HP sparse matmul engine: y[L][out] = requant(W x + bias), W in HP block-CSR storage.
//
// The microarchitecture of the RTL engine (hw/rtl/hp_spmm.sv, docs/rtl.md): Bo PEs x m
// MACs. An HP block keeps exactly m of Bi entries in each of its Bo rows, so every PE reads
// m values and m in-block indices from its OWN bank per step while the block's Bi
// activations are broadcast: no bank conflicts, no idle PE. One step per cycle applies one
// kept block to one token of the tile (Bo*m MACs); tokens come in tiles of T and the last
// tile is partial, so every loop runs to the real length L (no padding).
//
// On chip (hp_bank): one record per kept block holds all Bo PE banks of it (Bo*m values,
// Bo*m indices; ARRAY_RESHAPE makes each record one wide word), so one read per step feeds
// every PE. The tile buffer holds, per (token, block column), the Bi activations as one
// wide word: a step copies them into registers and each PE selects its m by index from
// those registers (a Bi:1 multiplexer), never from a partitioned memory.
#ifndef SBF_HP_MATMUL_H
#define SBF_HP_MATMUL_H

#include "requant.h"

namespace sbf {

// One HP linear layer [OUT][IN] held on chip, sized for the dense block count so that any
// pruning of the model fits. Loaded from the weight image by weight_image.h.
template <class CFG, int OUT, int IN>
struct hp_bank {
  static const int NBR = OUT / CFG::BO;  // block-rows
  static const int NBC = IN / CFG::BI;   // block columns
  static const int MAX_NNZB = NBR * NBC;
  static const int PE_LANES = CFG::BO * CFG::M;  // weights of one kept block
  static const int IDX_BITS = clog2(CFG::BI) > 0 ? clog2(CFG::BI) : 1;
  int nnzb;
  int block_ptr[NBR + 1];
  ap_uint<16> block_col[MAX_NNZB];
  wgt_t val[MAX_NNZB][PE_LANES];               // [block][p*M + j]: PE p's m values
  ap_uint<IDX_BITS> idx[MAX_NNZB][PE_LANES];   // their in-block columns, each < Bi
  acc_t bias[NBR][CFG::BO];
  mult_t mult[NBR][CFG::BO];
  shift_t shift[NBR][CFG::BO];
};

// The input and output of hp_linear: whole sequences in on-chip buffers, token-major,
// T-token tiles. x: [MAX_L][IN/BI][BI] (one Bi-wide word per token and block column),
// y: [MAX_L][OUT/BO][BO] (one Bo-wide word per token and block-row).

// y = requantize(add_bias(W x, bias), M, S) to OUT_BITS: the golden hp_linear.
// CFG: BO, BI, M, T, MAX_L.
//
// The schedule of the RTL engine: per tile, one flat pipeline of steps, W*nt of them
// (W = sum over block-rows of max(nnzb_r, 1): a block-row without kept blocks costs one
// null block so that its bias-only outputs drain in order), then nt more for the last drain.
// When a block-row's last step has accumulated, its Bo x T accumulators are copied into
// the drain registers and requantized, one token (Bo lanes) per step, while the next
// block-row computes; every block-row has at least nt steps, so a drain always finishes
// before the next copy.
template <class CFG, int OUT, int IN, int OUT_BITS>
void hp_linear(const act_t x[CFG::MAX_L][IN / CFG::BI][CFG::BI], int L,
               const hp_bank<CFG, OUT, IN>& w,
               ap_int<OUT_BITS> y[CFG::MAX_L][OUT / CFG::BO][CFG::BO]) {
#pragma HLS INLINE off
  const int BO = CFG::BO, BI = CFG::BI, M = CFG::M, T = CFG::T;
  const int NBR = OUT / BO;
  typedef hp_bank<CFG, OUT, IN> bank_t;
  int W = 0;
row_work:
  for (int r = 0; r < NBR; ++r) {
#pragma HLS PIPELINE II = 1
    const int n = w.block_ptr[r + 1] - w.block_ptr[r];
    W += n > 0 ? n : 1;
  }
tiles:
  for (int t0 = 0; t0 < L; t0 += T) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = (CFG::MAX_L + CFG::T - 1) / CFG::T
    const int nt = (L - t0 < T) ? L - t0 : T;
    acc_t acc[T][BO], dacc[T][BO];
#pragma HLS ARRAY_PARTITION variable = acc complete dim = 0
#pragma HLS ARRAY_PARTITION variable = dacc complete dim = 0
    for (int t = 0; t < T; ++t) {
#pragma HLS UNROLL
      for (int p = 0; p < BO; ++p) {
#pragma HLS UNROLL
        acc[t][p] = 0;
        dacc[t][p] = 0;
      }
    }
    wgt_t wv[BO * M];
    ap_uint<bank_t::IDX_BITS> wi[BO * M];
#pragma HLS ARRAY_PARTITION variable = wv complete
#pragma HLS ARRAY_PARTITION variable = wi complete
    int r = 0, b = w.block_ptr[0], b_end = w.block_ptr[1], t = 0, col = 0;
    bool null_block = b == b_end;
    int drain_row = 0, drain_t = nt;  // nothing to drain before the first block-row ends
    const int compute_steps = W * nt;
  steps:
    for (int s = 0; s < compute_steps + nt; ++s) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = (bank_t::MAX_NNZB + 1) * CFG::T
      const bool compute = s < compute_steps;
      if (compute && !null_block) {
        if (t == 0) {  // a new kept block: its record, all Bo PE banks in one word
          col = w.block_col[b];
          for (int i = 0; i < BO * M; ++i) {
#pragma HLS UNROLL
            wv[i] = w.val[b][i];
            wi[i] = w.idx[b][i];
          }
        }
        act_t xr[BI];  // the block's Bi activations of token t, broadcast from registers
#pragma HLS ARRAY_PARTITION variable = xr complete
        for (int i = 0; i < BI; ++i) {
#pragma HLS UNROLL
          xr[i] = x[t0 + t][col][i];
        }
      pes:
        for (int p = 0; p < BO; ++p) {
#pragma HLS UNROLL
          acc_t sum = 0;
        macs:
          for (int j = 0; j < M; ++j) {
#pragma HLS UNROLL
            sum += wv[p * M + j] * xr[wi[p * M + j]];
          }
          acc[t][p] += sum;
        }
      }
      if (drain_t < nt) {  // Bo requantization lanes, one token of the previous block-row
        for (int p = 0; p < BO; ++p) {
#pragma HLS UNROLL
          const acc_t a = add_bias(dacc[drain_t][p], w.bias[drain_row][p]);  // SAT_BIAS
          y[t0 + drain_t][drain_row][p] =
              requantize<OUT_BITS>(a, w.mult[drain_row][p], w.shift[drain_row][p]);  // SAT_REQUANT
        }
        ++drain_t;
      }
      if (compute && ++t == nt) {  // the block (or null block) is done for every token
        t = 0;
        if (null_block || ++b == b_end) {  // the block-row is done: hand it to the drain
          for (int i = 0; i < T; ++i) {
#pragma HLS UNROLL
            for (int p = 0; p < BO; ++p) {
#pragma HLS UNROLL
              dacc[i][p] = acc[i][p];
              acc[i][p] = 0;
            }
          }
          drain_row = r;
          drain_t = 0;
          if (++r < NBR) {
            b = w.block_ptr[r];
            b_end = w.block_ptr[r + 1];
            null_block = b == b_end;
          }
        }
      }
    }
  }
}

}  // namespace sbf

#endif  // SBF_HP_MATMUL_H
