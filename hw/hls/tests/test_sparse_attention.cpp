// Unit driver for sparse_attention.h: each stage and a whole head (MAX_L=40, MAX_K=8, D=16).
#include "sparse_attention.h"

const int UNIT_MAX_L = 40;
const int UNIT_MAX_K = 8;
const int UNIT_D = 16;

extern "C" {

int sbf_test_attn_dims(int* max_l, int* max_k, int* d) {
  *max_l = UNIT_MAX_L;
  *max_k = UNIT_MAX_K;
  *d = UNIT_D;
  return 0;
}

// codes[L][D] of x[L][D]; per_row selects the Q rule (a scale per row), else the K rule
// (one scale over all rows), both with the engine's row_absmax and quantize4_row.
void sbf_test_quantize4(const int8_t* x, int L, int per_row, int8_t* codes) {
  sbf::act_t rows[UNIT_MAX_L][UNIT_D];
  for (int r = 0; r < L; ++r)
    for (int c = 0; c < UNIT_D; ++c) rows[r][c] = x[r * UNIT_D + c];
  sbf::mag_t m_all = 0;
  for (int r = 0; r < L; ++r) {
    const sbf::mag_t m = sbf::row_absmax<UNIT_D>(rows[r]);
    if (m > m_all) m_all = m;
  }
  for (int r = 0; r < L; ++r) {
    sbf::q4_t out[UNIT_D];
    sbf::quantize4_row<UNIT_D>(rows[r], per_row ? sbf::row_absmax<UNIT_D>(rows[r]) : m_all, out);
    for (int c = 0; c < UNIT_D; ++c) codes[r * UNIT_D + c] = out[c].to_int();
  }
}

// est[L][L] from 4-bit codes, then the top-kk key indices per query [L][kk].
void sbf_test_estimate_select(const int8_t* q4, const int8_t* k4, int L, int kk, int32_t* est,
                              int32_t* idx) {
  static sbf::q4_t qc[UNIT_MAX_L][UNIT_D], kc[UNIT_MAX_L][UNIT_D];
  for (int r = 0; r < L; ++r)
    for (int c = 0; c < UNIT_D; ++c) {
      qc[r][c] = q4[r * UNIT_D + c];
      kc[r][c] = k4[r * UNIT_D + c];
    }
  static sbf::lut_t lut[UNIT_D][sbf::LUT_SIZE];
  sbf::lut_copies<UNIT_D>(lut);
  for (int i = 0; i < L; ++i) {
    sbf::est_t e[UNIT_MAX_L];
    int sel[UNIT_MAX_K];
    sbf::estimate_select<UNIT_MAX_L, UNIT_MAX_K, UNIT_D>(lut, qc[i], kc, L, kk, e, sel);
    for (int j = 0; j < L; ++j) est[i * L + j] = e[j].to_int();
    for (int j = 0; j < kk; ++j) idx[i * kk + j] = sel[j];
  }
}

// One head: q, k, v [L][D] -> out [L][D]; quant = {score_mult, score_shift, q_ln2, q_b, q_c,
// out_mult, out_shift}.
void sbf_test_attention_head(const int8_t* q, const int8_t* k, const int8_t* v, int L, int kk,
                             const int64_t* quant, int8_t* out) {
  const sbf::attn_quant aq = {int32_t(quant[0]), int32_t(quant[1]),
                              {quant[2], quant[3], quant[4]}, int32_t(quant[5]),
                              int32_t(quant[6])};
  static sbf::act_t qa[UNIT_MAX_L][UNIT_D], ka[UNIT_MAX_L][UNIT_D], va[UNIT_MAX_L][UNIT_D];
  static sbf::act_t oa[UNIT_MAX_L][UNIT_D];
  for (int r = 0; r < L; ++r)
    for (int c = 0; c < UNIT_D; ++c) {
      qa[r][c] = q[r * UNIT_D + c];
      ka[r][c] = k[r * UNIT_D + c];
      va[r][c] = v[r * UNIT_D + c];
    }
  sbf::attention_head<UNIT_MAX_L, UNIT_MAX_K, UNIT_D>(qa, ka, va, L, kk, aq, oa);
  for (int r = 0; r < L; ++r)
    for (int c = 0; c < UNIT_D; ++c) out[r * UNIT_D + c] = oa[r][c].to_int();
}
}
