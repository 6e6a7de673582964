// Unit driver for hp_matmul.h at a small configuration (Bo=4, Bi=8, m=2, T=3).
#include <vector>

#include "hp_matmul.h"

struct unit_hp_cfg {
  static const int BO = 4;
  static const int BI = 8;
  static const int M = 2;
  static const int T = 3;
  static const int MAX_IN = 64;
};

extern "C" {

int sbf_test_hp_cfg(int* bo, int* bi, int* m, int* t, int* max_in) {
  *bo = unit_hp_cfg::BO;
  *bi = unit_hp_cfg::BI;
  *m = unit_hp_cfg::M;
  *t = unit_hp_cfg::T;
  *max_in = unit_hp_cfg::MAX_IN;
  return 0;
}

// y[L][out] = hp_linear(x[L][in]); values/idx in the per-PE bank layout [Bo][nnzb][m].
void sbf_test_hp_linear(const int8_t* x, int L, int out_features, int in_features, int nnzb,
                        const int32_t* block_ptr, const int32_t* block_col,
                        const int8_t* values, const uint8_t* idx, const int32_t* bias,
                        const int32_t* mult, const int32_t* shift, int8_t* y) {
  const sbf::hp_layer w = {out_features, in_features, nnzb, block_ptr, block_col,
                           values, idx, bias, mult, shift};
  std::vector<sbf::act_t> xa(x, x + L * in_features);
  std::vector<sbf::act_t> ya(L * out_features);
  sbf::hp_linear<unit_hp_cfg, sbf::ACT_BITS>(xa.data(), L, w, ya.data());
  for (int i = 0; i < L * out_features; ++i) y[i] = ya[i].to_int();
}
}
