// One i-GELU lane: int_gelu of sim/golden/nonlinear.py, one carry chain or one multiply
// per registered stage. The output requantization (requant.sv) follows in gelu_unit.
//
//   G1  a    = |q|,  sign(q)                      negate + mux
//   G2  t    = max(q_b - a, 0)                    subtract, clamp on the sign bit
//   G3  t2   = t * t                              multiply
//   G4  d    = (q_one << shift) - t2              subtract (one_sh = q_one << shift, per set)
//   G5  mag  = d >>> shift                        barrel shift (floor, as `>>` in NumPy)
//   G6  e    = q_one + sign(q) * mag              add or subtract (sign 0: e = q_one)
//   G7  out  = q * e                              multiply
// The scalars of the beat's parameter set arrive with the stage that uses them (`q_b`
// while the beat is in G1, `one_sh` in G3, `shift` in G4, `q_one` in G5); gelu_unit muxes
// them from its set registers. `en` advances every stage at once.
module gelu_lane #(
    parameter int IN_BITS = 16,   // sim/golden/params.py: GELU_IN_BITS
    parameter int ONE_BITS = 14,  // sim/golden/nonlinear.py: GELU_ONE_BITS
    parameter int Q_B_W = 17,     // unsigned width of the clip point q_b
    parameter int SH_W = 6,       // width of GeluParams.shift
    localparam int SQ_W = 2 * Q_B_W,
    localparam int ONE_SH_W = SQ_W + 1,   // q_one << shift stays below 2^(SQ_W+1)
    localparam int Q_ONE_W = ONE_BITS + 1,  // q_one <= 2^ONE_BITS
    localparam int ACC_W = 32
) (
    input  logic                       clk,
    input  logic                       en,
    input  logic signed [IN_BITS-1:0]  q,
    input  logic        [Q_B_W-1:0]    q_b,     // for the beat in G1
    input  logic        [ONE_SH_W-1:0] one_sh,  // for the beat in G3
    input  logic        [SH_W-1:0]     shift,   // for the beat in G4
    input  logic        [Q_ONE_W-1:0]  q_one,   // for the beat in G5
    output logic signed [ACC_W-1:0]    out      // G7
);
  localparam int D_W = SQ_W + 2;          // d, signed
  localparam int MAG_W = ONE_BITS + 2;    // |mag| <= q_one (checked when packing)
  localparam int E_W = ONE_BITS + 3;      // 0 <= e <= 2 q_one
  localparam int T_W = Q_B_W + 1;         // q_b - a, signed

  // per stage: the input value and its sign (negative, zero) travel along
  logic signed [IN_BITS-1:0] q1, q2, q3, q4, q5, q6;
  logic [5:1] neg, zero;
  logic [IN_BITS-1:0] a1;
  logic [Q_B_W-1:0] t2;
  logic [SQ_W-1:0] t3;
  logic signed [D_W-1:0] d4;
  logic signed [MAG_W-1:0] mag5;
  logic signed [E_W-1:0] e6;
  logic signed [T_W-1:0] diff;

  assign diff = $signed({1'b0, q_b}) - $signed({{(T_W - IN_BITS){1'b0}}, a1});

  always_ff @(posedge clk) begin
    if (en) begin
      a1 <= q[IN_BITS-1] ? IN_BITS'(-q) : IN_BITS'(q);  // |-2^15| = 2^15 fits unsigned
      neg[1] <= q[IN_BITS-1];
      zero[1] <= q == '0;
      q1 <= q;

      t2 <= diff[T_W-1] ? '0 : diff[Q_B_W-1:0];
      q2 <= q1;

      t3 <= SQ_W'(t2) * SQ_W'(t2);
      q3 <= q2;

      d4 <= $signed(D_W'(one_sh)) - $signed(D_W'(t3));
      q4 <= q3;

      mag5 <= MAG_W'(d4 >>> shift);
      q5 <= q4;

      if (neg[5]) e6 <= $signed(E_W'(q_one)) - E_W'(mag5);
      else if (zero[5]) e6 <= $signed(E_W'(q_one));
      else e6 <= $signed(E_W'(q_one)) + E_W'(mag5);
      q6 <= q5;

      out <= ACC_W'(q6) * ACC_W'(e6);  // |q * e| <= 2^15 * 2^15

      neg[5:2] <= neg[4:1];
      zero[5:2] <= zero[4:1];
    end
  end
endmodule
