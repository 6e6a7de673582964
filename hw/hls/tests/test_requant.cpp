// Unit driver for requant.h: a C ABI that pytest calls through ctypes (tests/test_hls_units.py).
#include "requant.h"

extern "C" {

// out[i] = requantize(add_bias(acc[i], bias[i]), mult[i], shift[i]) to int8.
void sbf_test_requantize(const int64_t* acc, const int32_t* bias, const int32_t* mult,
                         const int32_t* shift, int n, int8_t* out) {
  for (int i = 0; i < n; ++i) {
    const sbf::acc_t a = sbf::add_bias(acc[i], bias[i]);
    out[i] = sbf::requantize<sbf::ACT_BITS>(a, mult[i], shift[i]).to_int();
  }
}

// The saturating bias add alone: out[i] = clamp(acc[i] + bias[i], int32).
void sbf_test_add_bias(const int64_t* acc, const int32_t* bias, int n, int32_t* out) {
  for (int i = 0; i < n; ++i) out[i] = sbf::add_bias(acc[i], bias[i]).to_int();
}
}
