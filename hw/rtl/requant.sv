// One requantization lane: bias add, integer rescale, saturation to OUT_BITS or 8 bits.
//
// Implements sim/golden/requant.py exactly (add_bias, then requantize), pipelined so that
// every stage holds one carry chain, one multiply or one mux tree (docs/rtl.md, "Logic
// depth"):
//   R1  b   = sat32(acc + bias)                 33-bit add + saturate      (SAT_BIAS)
//   R2  ph  = b[31:16] * mult, pl = b[15:0] * mult   two 16x15 products (one DSP each),
//                                               rnd = 2^(s-1) decoded from the shift
//   R3  p   = ph * 2^16 + pl                    the 47-bit product b * mult (a 31-bit add)
//   R4  r   = p + rnd                           rounding add, PROD_W + 2 bits
//   R5  r'  = r >>> (s & ~7)                    barrel shift, coarse: by 0, 8, .., 48
//   R6  q   = r' >>> (s & 7)                    barrel shift, fine: by 0 .. 7
//   R7  y   = sat(q, narrow ? 8 : OUT_BITS)     compare + saturate          (SAT_REQUANT)
// s = min(shift, SHIFT_CAP): with |p| < 2^46 every shift >= SHIFT_CAP gives 0, as the
// golden model's shift does, so the adder and the shifter need only PROD_W + 2 bits.
// shift must lie in [1, 62] as in the golden model. `narrow` saturates to int8 (sign-
// extended into OUT_BITS) so that one OUT_BITS = 16 lane serves int8 and int16 outputs.
// `en` advances all stages at once (a drain stalls as a whole under backpressure). Users
// take the latency from requant_pkg::LATENCY (sim/rtl/cycles.py reads it from here too).
/* verilator lint_off DECLFILENAME */  // the package belongs to this module's file
/* verilator lint_off UNUSEDPARAM */   // read by the users of the lane
package requant_pkg;
  localparam int LATENCY = 7;  // R1..R7: input to registered output
endpackage
/* verilator lint_on UNUSEDPARAM */
/* verilator lint_on DECLFILENAME */

module requant #(
    parameter int OUT_BITS = 8  // >= NARROW_BITS
) (
    input  logic               clk,
    input  logic               en,
    input  logic signed [31:0] acc,
    input  logic signed [31:0] bias,
    input  logic        [14:0] mult,
    input  logic        [5:0]  shift,
    input  logic               narrow,  // 1: saturate to 8 bits, 0: to OUT_BITS
    output logic signed [OUT_BITS-1:0] y
);
  localparam int ACC_W = 32;
  localparam int MULT_W = 15;       // sim/golden/requant.py: MULT_BITS
  localparam int HALF_W = ACC_W / 2;  // b splits into two 16-bit halves, one DSP each
  localparam int PART_W = HALF_W + MULT_W;  // a half times mult
  localparam int PROD_W = ACC_W + MULT_W;   // b * mult, signed: |p| < 2^46
  localparam int SHIFT_CAP = PROD_W + 1;    // shifts at or above it give 0 (see above)
  localparam int R_W = PROD_W + 2;          // p + 2^(SHIFT_CAP-1) fits signed
  localparam int NARROW_BITS = 8;
  localparam logic signed [ACC_W:0] ACC_MAX = (33'sd1 <<< (ACC_W - 1)) - 33'sd1;
  localparam logic signed [ACC_W:0] ACC_MIN = -(33'sd1 <<< (ACC_W - 1));
  localparam logic signed [R_W-1:0] WIDE_MAX = (R_W'(1) <<< (OUT_BITS - 1)) - R_W'(1);
  localparam logic signed [R_W-1:0] WIDE_MIN = -(R_W'(1) <<< (OUT_BITS - 1));
  localparam logic signed [R_W-1:0] NARROW_MAX = (R_W'(1) <<< (NARROW_BITS - 1)) - R_W'(1);
  localparam logic signed [R_W-1:0] NARROW_MIN = -(R_W'(1) <<< (NARROW_BITS - 1));

  // R1: saturating bias add; the shift is capped alongside
  logic signed [ACC_W:0]   sum;
  logic signed [ACC_W-1:0] b1;
  logic [MULT_W-1:0]       mult1;
  logic [5:0]              sh1, sh2, sh3, sh4;
  logic [2:0]              sh5;  // the fine shift, for R6
  logic [5:0]              nar;  // narrow, one bit per stage R1..R6
  assign sum = (ACC_W + 1)'(acc) + (ACC_W + 1)'(bias);

  // R2: the two half products and the rounding constant
  logic signed [PART_W:0]  ph2;  // signed high half times mult
  logic [PART_W-1:0]       pl2;  // unsigned low half times mult
  logic [R_W-1:0]          rnd2, rnd3;

  // R3..R5
  logic signed [PROD_W-1:0] p3;
  logic signed [R_W-1:0]    r4, q5, q6;

  always_ff @(posedge clk) begin
    if (en) begin
      // the sum overflows 32 bits when its two top bits differ; the top one is the sign
      if (sum[ACC_W] != sum[ACC_W-1]) b1 <= sum[ACC_W] ? ACC_MIN[ACC_W-1:0] : ACC_MAX[ACC_W-1:0];
      else b1 <= sum[ACC_W-1:0];
      mult1 <= mult;
      sh1 <= shift > 6'(SHIFT_CAP) ? 6'(SHIFT_CAP) : shift;
      nar <= {nar[4:0], narrow};

      ph2 <= (PART_W + 1)'($signed(b1[ACC_W-1:HALF_W])) * $signed((PART_W + 1)'(mult1));
      pl2 <= PART_W'(b1[HALF_W-1:0]) * PART_W'(mult1);
      rnd2 <= R_W'(1) << (sh1 - 6'd1);
      sh2 <= sh1;

      p3 <= (PROD_W'(ph2) <<< HALF_W) + PROD_W'(pl2);
      rnd3 <= rnd2;
      sh3 <= sh2;

      r4 <= R_W'(p3) + $signed(rnd3);
      sh4 <= sh3;

      q5 <= r4 >>> {sh4[5:3], 3'b000};
      sh5 <= sh4[2:0];

      q6 <= q5 >>> sh5;

      if (q6 > (nar[5] ? NARROW_MAX : WIDE_MAX)) y <= OUT_BITS'(nar[5] ? NARROW_MAX : WIDE_MAX);
      else if (q6 < (nar[5] ? NARROW_MIN : WIDE_MIN)) y <= OUT_BITS'(nar[5] ? NARROW_MIN : WIDE_MIN);
      else y <= q6[OUT_BITS-1:0];
    end
  end
endmodule
