// Reading the weight image (hw/hls/image.py writes it) through a typed 512-bit m_axi port:
// header checks and one layer's parameters into the on-chip layer_store. Word indices come
// from the rendered sbf_image_layout.h, so writer and reader share one definition.
//
// Why these loops: every segment starts on a 64-byte word (image.ALIGN) and is read front
// to back, one word per cycle, by a pipelined loop with a running address, which is the
// pattern Vitis infers as a burst; no pointer is reinterpreted, int32 fields and block
// records are sliced out of the words with range().
#ifndef SBF_WEIGHT_IMAGE_H
#define SBF_WEIGHT_IMAGE_H

#include "encoder_layer.h"
#include "sbf_image_layout.h"

namespace sbf {

// Bytes of a kept block's record in the image: image.record_bytes.
template <class CFG>
struct block_record {
  static const int NEED = 2 * CFG::BO * CFG::M;
  static const int BYTES = NEED >= MEM_BYTES ? (NEED + MEM_BYTES - 1) / MEM_BYTES * MEM_BYTES
                                             : (1 << clog2(NEED));
  static const int PER_WORD = BYTES >= MEM_BYTES ? 1 : MEM_BYTES / BYTES;  // records a word
  static const int WORDS = BYTES >= MEM_BYTES ? BYTES / MEM_BYTES : 1;     // words a record
};

// n int32 from byte offset `off` (a multiple of 4) into dst[0..n): the words that hold them
// are read front to back, one unconditional read per outer iteration (the form Vitis turns
// into a burst), and their WORD_I32 lanes are written one per cycle.
// MAX_N: the capacity of dst (sizes the trip count).
template <int MAX_N, class T>
void load_i32(const mem_word_t* image, int off, int n, T* dst) {
  const int first = off / 4, w0 = first / WORD_I32, lane0 = first % WORD_I32;
  const int n_words = (lane0 + n + WORD_I32 - 1) / WORD_I32;
words:
  for (int wi = 0; wi < n_words; ++wi) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = MAX_N / WORD_I32 + 1
    const mem_word_t w = image[w0 + wi];
  lanes:
    for (int lane = 0; lane < WORD_I32; ++lane) {
#pragma HLS PIPELINE II = 1
      const int i = wi * WORD_I32 + lane - lane0;
      if (i >= 0 && i < n) dst[i] = T(ap_int<32>(w.range(32 * lane + 31, 32 * lane)));
    }
  }
}

// The same into a [rows][BO] array (the per-row constants of a block-row's Bo PEs).
template <class CFG, class T, int ROWS>
void load_rows(const mem_word_t* image, int off, T dst[ROWS][CFG::BO]) {
  T flat[ROWS * CFG::BO];
  load_i32<ROWS * CFG::BO>(image, off, ROWS * CFG::BO, flat);
rows:
  for (int i = 0; i < ROWS * CFG::BO; ++i) {
#pragma HLS PIPELINE II = 1
    dst[i / CFG::BO][i % CFG::BO] = flat[i];
  }
}

// Unpack one record (values, then indices) into block b of the PE banks.
template <class CFG, int OUT, int IN>
void store_record(const ap_uint<block_record<CFG>::BYTES * 8>& rec, int b,
                  hp_bank<CFG, OUT, IN>& bank) {
#pragma HLS INLINE
  const int PL = CFG::BO * CFG::M;
  for (int l = 0; l < PL; ++l) {
#pragma HLS UNROLL
    bank.val[b][l] = wgt_t(rec.range(8 * l + 7, 8 * l));
    bank.idx[b][l] = rec.range(8 * (PL + l) + 7, 8 * (PL + l));
  }
}

// nnzb block records from byte offset `off` (word-aligned) into the PE banks of `bank`:
// one unconditional sequential word read per iteration, one record stored per cycle.
template <class CFG, int OUT, int IN>
void load_blocks(const mem_word_t* image, int off, int nnzb, hp_bank<CFG, OUT, IN>& bank) {
  typedef block_record<CFG> R;
  const int RB = R::BYTES * 8;
  const int first = off / MEM_BYTES;
  if (R::WORDS > 1) {  // a record spans WORDS words: assemble it, one word a cycle
    ap_uint<RB> rec = 0;
    int b = 0, part = 0;
  record_words:
    for (int i = 0; i < nnzb * R::WORDS; ++i) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 0 max = hp_bank<CFG, OUT, IN>::MAX_NNZB * block_record<CFG>::WORDS
      rec.range(MEM_BITS * part + MEM_BITS - 1, MEM_BITS * part) = image[first + i];
      if (part == R::WORDS - 1) {
        store_record<CFG, OUT, IN>(rec, b, bank);
        ++b;
        part = 0;
      } else {
        ++part;
      }
    }
  } else {  // PER_WORD records in each word
    const int n_words = (nnzb + R::PER_WORD - 1) / R::PER_WORD;
  words:
    for (int wi = 0; wi < n_words; ++wi) {
#pragma HLS LOOP_TRIPCOUNT min = 0 max = hp_bank<CFG, OUT, IN>::MAX_NNZB / block_record<CFG>::PER_WORD + 1
      const mem_word_t w = image[first + wi];
    slots:
      for (int s = 0; s < R::PER_WORD; ++s) {
#pragma HLS PIPELINE II = 1
        const int b = wi * R::PER_WORD + s;
        if (b < nnzb) store_record<CFG, OUT, IN>(ap_uint<RB>(w.range(RB * s + RB - 1, RB * s)), b, bank);
      }
    }
  }
}

// One HP linear's fields (directory words at `base`) into its on-chip bank.
template <class CFG, int OUT, int IN>
void load_linear(const mem_word_t* image, const int32_t* dir, int base,
                 hp_bank<CFG, OUT, IN>& bank) {
  typedef hp_bank<CFG, OUT, IN> B;
  bank.nnzb = dir[base + LF_NNZB];
  load_i32<B::NBR + 1>(image, dir[base + LF_BLOCK_PTR], B::NBR + 1, bank.block_ptr);
  load_i32<B::MAX_NNZB>(image, dir[base + LF_BLOCK_COL], bank.nnzb, bank.block_col);
  load_blocks<CFG, OUT, IN>(image, dir[base + LF_BLOCKS], bank.nnzb, bank);
  load_rows<CFG, acc_t, B::NBR>(image, dir[base + LF_BIAS], bank.bias);
  load_rows<CFG, mult_t, B::NBR>(image, dir[base + LF_MULT], bank.mult);
  load_rows<CFG, shift_t, B::NBR>(image, dir[base + LF_SHIFT], bank.shift);
}

template <int N>
void load_requant(const mem_word_t* image, int32_t mult, int32_t shift, channel_requant<N>& r) {
  load_i32<N>(image, mult, N, r.mult);
  load_i32<N>(image, shift, N, r.shift);
}

template <int N>
void load_ln(const mem_word_t* image, const int32_t* d, int gamma, int beta, int mult, int shift,
             ln_store<N>& ln) {
  load_i32<N>(image, d[gamma], N, ln.gamma);
  load_i32<N>(image, d[beta], N, ln.beta);
  load_i32<N>(image, d[mult], N, ln.mult);
  load_i32<N>(image, d[shift], N, ln.shift);
}

// The header words of the image.
inline void image_header(const mem_word_t* image, int32_t h[HEADER_WORDS]) {
  load_i32<HEADER_WORDS>(image, 0, HEADER_WORDS, h);
}

// True when the header has the magic, version and model shape that CFG was built for.
template <class CFG>
bool header_matches(const int32_t h[HEADER_WORDS]) {
  return h[H_MAGIC] == IMAGE_MAGIC && h[H_VERSION] == IMAGE_VERSION &&
         h[H_LAYER_WORDS] == LAYER_WORDS && h[H_HIDDEN] == CFG::HIDDEN &&
         h[H_HEADS] == CFG::HEADS && h[H_FFN] == CFG::FFN && h[H_BO] == CFG::BO &&
         h[H_BI] == CFG::BI && h[H_M] == CFG::M;
}

// The directory words of encoder layer `layer`.
inline void layer_directory(const mem_word_t* image, int layer, int32_t d[LAYER_WORDS]) {
  load_i32<LAYER_WORDS>(image, 4 * (HEADER_WORDS + layer * LAYER_WORDS), LAYER_WORDS, d);
}

// The parameters of encoder layer `layer` into w (the image must match CFG).
template <class CFG>
void load_layer(const mem_word_t* image, int layer, layer_store<CFG>& w) {
  int32_t d[LAYER_WORDS];
  layer_directory(image, layer, d);
  const int H = CFG::HIDDEN, F = CFG::FFN;
  load_linear<CFG, H, H>(image, d, W_QUERY, w.query);
  load_linear<CFG, H, H>(image, d, W_KEY, w.key);
  load_linear<CFG, H, H>(image, d, W_VALUE, w.value);
  load_linear<CFG, H, H>(image, d, W_ATTN_OUT, w.attn_out);
  load_linear<CFG, F, H>(image, d, W_FFN_IN, w.ffn_in);
  load_linear<CFG, H, F>(image, d, W_FFN_OUT, w.ffn_out);
  w.attn.score_mult = d[W_SCORE_MULT];
  w.attn.score_shift = d[W_SCORE_SHIFT];
  w.attn.softmax.q_ln2 = d[W_EXP_Q_LN2];
  w.attn.softmax.q_b = d[W_EXP_Q_B];
  w.attn.softmax.q_c = d[W_EXP_Q_C];
  w.attn.out_mult = d[W_CONTEXT_MULT];
  w.attn.out_shift = d[W_CONTEXT_SHIFT];
  w.gelu.q_b = d[W_GELU_Q_B];
  w.gelu.q_one = d[W_GELU_Q_ONE];
  w.gelu.shift = d[W_GELU_SHIFT];
  load_requant<H>(image, d[W_RESIDUAL1_MULT], d[W_RESIDUAL1_SHIFT], w.residual1);
  load_ln<H>(image, d, W_LN1_GAMMA, W_LN1_BETA, W_LN1_MULT, W_LN1_SHIFT, w.ln1);
  load_requant<F>(image, d[W_GELU_OUT_MULT], d[W_GELU_OUT_SHIFT], w.gelu_out);
  load_requant<H>(image, d[W_RESIDUAL2_MULT], d[W_RESIDUAL2_SHIFT], w.residual2);
  load_ln<H>(image, d, W_LN2_GAMMA, W_LN2_BETA, W_LN2_MULT, W_LN2_SHIFT, w.ln2);
}

}  // namespace sbf

#endif  // SBF_WEIGHT_IMAGE_H
