// One requantization lane: bias add, integer rescale, saturation to OUT_BITS.
//
// Implements sim/golden/requant.py exactly (add_bias, then requantize), in three
// registered stages:
//   D1  b   = sat32(acc + bias)                          (SAT_BIAS)
//   D2  p   = b * mult                                    (signed 48-bit, mult 15-bit unsigned)
//   D3  y   = sat((p + 2^(shift-1)) >>> shift, OUT_BITS)   (SAT_REQUANT, round half up)
// shift must lie in [1, 62] as in the golden model.
// `en` advances all three stages at once (a drain stalls as a whole under backpressure).
module requant #(
    parameter int OUT_BITS = 8
) (
    input  logic               clk,
    input  logic               en,
    input  logic signed [31:0] acc,
    input  logic signed [31:0] bias,
    input  logic        [14:0] mult,
    input  logic        [5:0]  shift,
    output logic signed [OUT_BITS-1:0] y
);
  localparam logic signed [32:0] ACC_MAX = 33'sd2147483647;
  localparam logic signed [32:0] ACC_MIN = -33'sd2147483648;
  localparam logic signed [63:0] OUT_MAX = (64'sd1 <<< (OUT_BITS - 1)) - 64'sd1;
  localparam logic signed [63:0] OUT_MIN = -(64'sd1 <<< (OUT_BITS - 1));

  logic signed [32:0] sum;
  logic signed [31:0] d1_b;
  logic        [14:0] d1_mult;
  logic        [5:0]  d1_shift, d2_shift;
  logic signed [47:0] d2_p;
  logic signed [63:0] rounded, shifted;  // 64 bits: the rounding term reaches 2^61

  assign sum = 33'(acc) + 33'(bias);
  assign rounded = 64'(d2_p) + (64'sd1 <<< (d2_shift - 6'd1));
  assign shifted = rounded >>> d2_shift;

  always_ff @(posedge clk) begin
    if (en) begin
      if (sum > ACC_MAX) d1_b <= 32'sh7fffffff;
      else if (sum < ACC_MIN) d1_b <= -32'sh80000000;
      else d1_b <= sum[31:0];
      d1_mult  <= mult;
      d1_shift <= shift;
      d2_p     <= 48'(d1_b) * $signed({33'd0, d1_mult});
      d2_shift <= d1_shift;
      if (shifted > OUT_MAX) y <= OUT_MAX[OUT_BITS-1:0];
      else if (shifted < OUT_MIN) y <= OUT_MIN[OUT_BITS-1:0];
      else y <= shifted[OUT_BITS-1:0];
    end
  end
endmodule
