// Unit driver for nonlinear.h: i-exp, softmax rows, i-GELU, isqrt, LayerNorm (N = 32).
#include "nonlinear.h"

const int UNIT_SOFTMAX_MAX_N = 64;
const int UNIT_LN_N = 32;
const int UNIT_LN_P = 4;  // channels a cycle: exercises the lane split of the engine

extern "C" {

void sbf_test_int_exp(const int64_t* q, int n, const int64_t* params, int64_t* out) {
  const sbf::softmax_params p = {params[0], params[1], params[2]};
  for (int i = 0; i < n; ++i) out[i] = sbf::int_exp(q[i], p).to_int64();
}

// rows x n scores (n <= 64) -> probabilities.
void sbf_test_int_softmax(const int64_t* q, int rows, int n, const int64_t* params,
                          int64_t* out) {
  const sbf::softmax_params p = {params[0], params[1], params[2]};
  for (int r = 0; r < rows; ++r) {
    sbf::wide_t x[UNIT_SOFTMAX_MAX_N];
    sbf::prob_t y[UNIT_SOFTMAX_MAX_N];
    for (int j = 0; j < n; ++j) x[j] = q[r * n + j];
    sbf::int_softmax<UNIT_SOFTMAX_MAX_N>(x, n, p, y);
    for (int j = 0; j < n; ++j) out[r * n + j] = y[j].to_int64();
  }
}

void sbf_test_int_gelu(const int64_t* q, int n, const int64_t* params, int64_t* out) {
  const sbf::gelu_params p = {params[0], params[1], int32_t(params[2])};
  for (int i = 0; i < n; ++i) out[i] = sbf::int_gelu(q[i], p).to_int64();
}

void sbf_test_isqrt(const int64_t* v, int n, int64_t* out) {
  for (int i = 0; i < n; ++i) out[i] = sbf::isqrt(v[i]).to_int64();
}

int sbf_test_layernorm_width(void) { return UNIT_LN_N; }

// rows x 32 integers -> int8, with per-channel gamma, beta, mult and shift.
void sbf_test_int_layernorm(const int64_t* x, int rows, const int32_t* gamma,
                            const int32_t* beta, const int32_t* mult, const int32_t* shift,
                            int8_t* out) {
  for (int r = 0; r < rows; ++r) {
    const int W = UNIT_LN_N / UNIT_LN_P;
    sbf::wide_t in[W][UNIT_LN_P];
    sbf::act_t y[W][UNIT_LN_P];
    sbf::mult_t m[UNIT_LN_N];
    sbf::shift_t s[UNIT_LN_N];
    for (int c = 0; c < UNIT_LN_N; ++c) {
      in[c / UNIT_LN_P][c % UNIT_LN_P] = x[r * UNIT_LN_N + c];
      m[c] = mult[c];
      s[c] = shift[c];
    }
    sbf::int_layernorm<UNIT_LN_N, UNIT_LN_P>(in, gamma, beta, m, s, y);
    for (int c = 0; c < UNIT_LN_N; ++c) out[r * UNIT_LN_N + c] = y[c / UNIT_LN_P][c % UNIT_LN_P].to_int();
  }
}
}
