// Reading the weight image (hw/hls/image.py writes it): header checks and one layer's
// parameters as the engines take them. Word indices come from the rendered
// sbf_image_layout.h, so writer and reader share one definition of the layout.
#ifndef SBF_WEIGHT_IMAGE_H
#define SBF_WEIGHT_IMAGE_H

#include "encoder_layer.h"
#include "sbf_image_layout.h"

namespace sbf {

inline const int32_t* image_words(const uint8_t* image) {
  return reinterpret_cast<const int32_t*>(image);
}

// True when the image has the magic, version and model shape that CFG was built for.
template <class CFG>
bool image_matches(const uint8_t* image) {
  const int32_t* h = image_words(image);
  return h[H_MAGIC] == IMAGE_MAGIC && h[H_VERSION] == IMAGE_VERSION &&
         h[H_LAYER_WORDS] == LAYER_WORDS && h[H_HIDDEN] == CFG::HIDDEN &&
         h[H_HEADS] == CFG::HEADS && h[H_FFN] == CFG::FFN && h[H_BO] == CFG::BO &&
         h[H_BI] == CFG::BI && h[H_M] == CFG::M;
}

inline int image_layers(const uint8_t* image) { return image_words(image)[H_LAYERS]; }

inline hp_layer image_linear(const uint8_t* image, const int32_t* dir, int base, int out_f,
                             int in_f) {
  hp_layer l;
  l.out_features = out_f;
  l.in_features = in_f;
  l.nnzb = dir[base + LF_NNZB];
  l.block_ptr = reinterpret_cast<const int32_t*>(image + dir[base + LF_BLOCK_PTR]);
  l.block_col = reinterpret_cast<const int32_t*>(image + dir[base + LF_BLOCK_COL]);
  l.values = reinterpret_cast<const int8_t*>(image + dir[base + LF_VALUES]);
  l.idx = image + dir[base + LF_IDX];
  l.bias = reinterpret_cast<const int32_t*>(image + dir[base + LF_BIAS]);
  l.mult = reinterpret_cast<const int32_t*>(image + dir[base + LF_MULT]);
  l.shift = reinterpret_cast<const int32_t*>(image + dir[base + LF_SHIFT]);
  return l;
}

inline const int32_t* image_i32(const uint8_t* image, int32_t offset) {
  return reinterpret_cast<const int32_t*>(image + offset);
}

// Per-channel requantization constants stored at two image offsets.
inline requant_params image_requant(const uint8_t* image, int32_t mult, int32_t shift) {
  return requant_params{image_i32(image, mult), image_i32(image, shift)};
}

// A LayerNorm's per-channel gamma, beta and output requantization, at four image offsets.
inline ln_params image_ln(const uint8_t* image, int32_t gamma, int32_t beta, int32_t mult,
                          int32_t shift) {
  return ln_params{image_i32(image, gamma), image_i32(image, beta), image_i32(image, mult),
                   image_i32(image, shift)};
}

// The parameters of encoder layer `layer` (the image must match CFG; see image_matches).
template <class CFG>
layer_params image_layer(const uint8_t* image, int layer) {
  const int32_t* d = image_words(image) + HEADER_WORDS + layer * LAYER_WORDS;
  const int H = CFG::HIDDEN, F = CFG::FFN;
  layer_params p;
  p.query = image_linear(image, d, W_QUERY, H, H);
  p.key = image_linear(image, d, W_KEY, H, H);
  p.value = image_linear(image, d, W_VALUE, H, H);
  p.attn_out = image_linear(image, d, W_ATTN_OUT, H, H);
  p.ffn_in = image_linear(image, d, W_FFN_IN, F, H);
  p.ffn_out = image_linear(image, d, W_FFN_OUT, H, F);
  p.attn.score_mult = d[W_SCORE_MULT];
  p.attn.score_shift = d[W_SCORE_SHIFT];
  p.attn.softmax.q_ln2 = d[W_EXP_Q_LN2];
  p.attn.softmax.q_b = d[W_EXP_Q_B];
  p.attn.softmax.q_c = d[W_EXP_Q_C];
  p.attn.out_mult = d[W_CONTEXT_MULT];
  p.attn.out_shift = d[W_CONTEXT_SHIFT];
  p.residual1 = image_requant(image, d[W_RESIDUAL1_MULT], d[W_RESIDUAL1_SHIFT]);
  p.ln1 = image_ln(image, d[W_LN1_GAMMA], d[W_LN1_BETA], d[W_LN1_MULT], d[W_LN1_SHIFT]);
  p.gelu.q_b = d[W_GELU_Q_B];
  p.gelu.q_one = d[W_GELU_Q_ONE];
  p.gelu.shift = d[W_GELU_SHIFT];
  p.gelu_out = image_requant(image, d[W_GELU_OUT_MULT], d[W_GELU_OUT_SHIFT]);
  p.residual2 = image_requant(image, d[W_RESIDUAL2_MULT], d[W_RESIDUAL2_SHIFT]);
  p.ln2 = image_ln(image, d[W_LN2_GAMMA], d[W_LN2_BETA], d[W_LN2_MULT], d[W_LN2_SHIFT]);
  return p;
}

}  // namespace sbf

#endif  // SBF_WEIGHT_IMAGE_H
