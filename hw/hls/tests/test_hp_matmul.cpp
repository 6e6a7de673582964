// Unit driver for hp_matmul.h at small configurations (Bo=4, Bi=8, T=3, a 12 x 64 layer):
// m=2, and m=3, an m that is not a power of two (the HP format allows any 1 <= m <= Bi).
// The bank is filled the way weight_image.h fills it: one record of Bo*m values and indices
// per kept block.
#include <memory>
#include <vector>

#include "hp_matmul.h"

struct unit_hp_cfg {
  static const int BO = 4;
  static const int BI = 8;
  static const int M = 2;
  static const int T = 3;
  static const int MAX_IN = 64;
  static const int MAX_L = 16;
};

struct unit_hp_cfg_m3 : unit_hp_cfg {
  static const int M = 3;
};

const int UNIT_OUT = 12;
const int UNIT_IN = 64;

namespace {

template <class CFG>
void write_cfg(int* bo, int* bi, int* m, int* t, int* max_in) {
  *bo = CFG::BO;
  *bi = CFG::BI;
  *m = CFG::M;
  *t = CFG::T;
  *max_in = CFG::MAX_IN;
}

// values/idx [nnzb][Bo][m] (block-major, the image's record order).
template <class CFG>
int run_linear(const int8_t* x, int L, int nnzb, const int32_t* block_ptr,
               const int32_t* block_col, const int8_t* values, const uint8_t* idx,
               const int32_t* bias, const int32_t* mult, const int32_t* shift, int8_t* y) {
  typedef sbf::hp_bank<CFG, UNIT_OUT, UNIT_IN> bank_t;
  if (L < 1 || L > CFG::MAX_L || nnzb < 0 || nnzb > bank_t::MAX_NNZB) return -2;
  std::unique_ptr<bank_t> w(new bank_t());
  const int PL = CFG::BO * CFG::M;
  w->nnzb = nnzb;
  for (int r = 0; r <= bank_t::NBR; ++r) w->block_ptr[r] = block_ptr[r];
  for (int b = 0; b < nnzb; ++b) {
    w->block_col[b] = block_col[b];
    for (int l = 0; l < PL; ++l) {
      w->val[b][l] = values[b * PL + l];
      w->idx[b][l] = idx[b * PL + l];
    }
  }
  for (int o = 0; o < UNIT_OUT; ++o) {
    w->bias[o / CFG::BO][o % CFG::BO] = bias[o];
    w->mult[o / CFG::BO][o % CFG::BO] = mult[o];
    w->shift[o / CFG::BO][o % CFG::BO] = shift[o];
  }
  sbf::act_t xb[CFG::MAX_L][UNIT_IN / CFG::BI][CFG::BI];
  ap_int<sbf::ACT_BITS> yb[CFG::MAX_L][UNIT_OUT / CFG::BO][CFG::BO];
  for (int t = 0; t < L; ++t)
    for (int c = 0; c < UNIT_IN; ++c) xb[t][c / CFG::BI][c % CFG::BI] = x[t * UNIT_IN + c];
  sbf::hp_linear<CFG, UNIT_OUT, UNIT_IN, sbf::ACT_BITS>(xb, L, *w, yb);
  for (int t = 0; t < L; ++t)
    for (int o = 0; o < UNIT_OUT; ++o) y[t * UNIT_OUT + o] = yb[t][o / CFG::BO][o % CFG::BO].to_int();
  return 0;
}

}  // namespace

extern "C" {

// `which` picks the configuration: 0 = unit_hp_cfg, 1 = unit_hp_cfg_m3; -1 = unknown.
int sbf_test_hp_cfg(int which, int* bo, int* bi, int* m, int* t, int* max_in) {
  if (which == 0) {
    write_cfg<unit_hp_cfg>(bo, bi, m, t, max_in);
  } else if (which == 1) {
    write_cfg<unit_hp_cfg_m3>(bo, bi, m, t, max_in);
  } else {
    return -1;
  }
  return 0;
}

// The layer shape the driver is built for: out x in.
int sbf_test_hp_shape(int* out_features, int* in_features) {
  *out_features = UNIT_OUT;
  *in_features = UNIT_IN;
  return 0;
}

// y[L][out] = hp_linear(x[L][in]); values/idx in the image's block order [nnzb][Bo][m].
// Returns -1 (and leaves y as it was) for an unknown `which`, -2 for a layer of another
// shape or a length the driver cannot hold.
int sbf_test_hp_linear(int which, const int8_t* x, int L, int out_features, int in_features,
                       int nnzb, const int32_t* block_ptr, const int32_t* block_col,
                       const int8_t* values, const uint8_t* idx, const int32_t* bias,
                       const int32_t* mult, const int32_t* shift, int8_t* y) {
  if (which != 0 && which != 1) return -1;
  if (out_features != UNIT_OUT || in_features != UNIT_IN) return -2;
  if (which == 0)
    return run_linear<unit_hp_cfg>(x, L, nnzb, block_ptr, block_col, values, idx, bias, mult,
                                   shift, y);
  return run_linear<unit_hp_cfg_m3>(x, L, nnzb, block_ptr, block_col, values, idx, bias, mult,
                                    shift, y);
}
}
