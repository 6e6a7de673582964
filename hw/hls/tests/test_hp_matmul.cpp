// Unit driver for hp_matmul.h at small configurations (Bo=4, Bi=8, T=3): m=2, and m=3, an m
// that is not a power of two (the HP format allows any 1 <= m <= Bi).
#include <vector>

#include "hp_matmul.h"

struct unit_hp_cfg {
  static const int BO = 4;
  static const int BI = 8;
  static const int M = 2;
  static const int T = 3;
  static const int MAX_IN = 64;
};

struct unit_hp_cfg_m3 : unit_hp_cfg {
  static const int M = 3;
};

namespace {

template <class CFG>
void write_cfg(int* bo, int* bi, int* m, int* t, int* max_in) {
  *bo = CFG::BO;
  *bi = CFG::BI;
  *m = CFG::M;
  *t = CFG::T;
  *max_in = CFG::MAX_IN;
}

template <class CFG>
void run_linear(const int8_t* x, int L, const sbf::hp_layer& w, int8_t* y) {
  std::vector<sbf::act_t> xa(x, x + L * w.in_features);
  std::vector<sbf::act_t> ya(L * w.out_features);
  sbf::hp_linear<CFG, sbf::ACT_BITS>(xa.data(), L, w, ya.data());
  for (int i = 0; i < L * w.out_features; ++i) y[i] = ya[i].to_int();
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

// y[L][out] = hp_linear(x[L][in]); values/idx in the per-PE bank layout [Bo][nnzb][m].
// Returns -1 (and leaves y as it was) for an unknown `which`.
int sbf_test_hp_linear(int which, const int8_t* x, int L, int out_features, int in_features,
                       int nnzb, const int32_t* block_ptr, const int32_t* block_col,
                       const int8_t* values, const uint8_t* idx, const int32_t* bias,
                       const int32_t* mult, const int32_t* shift, int8_t* y) {
  const sbf::hp_layer w = {out_features, in_features, nnzb, block_ptr, block_col,
                           values, idx, bias, mult, shift};
  if (which == 0) {
    run_linear<unit_hp_cfg>(x, L, w, y);
  } else if (which == 1) {
    run_linear<unit_hp_cfg_m3>(x, L, w, y);
  } else {
    return -1;
  }
  return 0;
}
}
