// Fully pipelined reciprocal: q = floor(2^NUM_BITS / d) for d >= 1, exactly.
//
// Restoring division of the constant 2^NUM_BITS, NUM_BITS + 1 stages (one quotient bit
// each, most significant first), each one (DEN_W+1)-bit subtract whose borrow is the
// compare: r = 2r + (dividend bit); if r >= d then r -= d, q = 2q + 1 else q = 2q.
// Free-running: a value entering on cycle c leaves on c + NUM_BITS + 1 with `carry`.
// No divider in one cycle (sim/golden/nonlinear.py: recip = 2**LN_RECIP_BITS // std).
module recip_pipe #(
    parameter int NUM_BITS = 40,
    parameter int DEN_W = 21,
    parameter int CARRY_W = 1,
    localparam int Q_W = NUM_BITS + 1
) (
    input  logic                clk,
    input  logic                rst_n,
    input  logic                in_valid,
    input  logic [DEN_W-1:0]    d,
    input  logic [CARRY_W-1:0]  in_carry,
    output logic                out_valid,
    output logic [Q_W-1:0]      q,
    output logic [CARRY_W-1:0]  out_carry
);
  localparam int R_W = DEN_W + 1;  // r < d, so 2r + 1 < 2^(DEN_W+1)

  logic [DEN_W-1:0]   r_q[Q_W];
  logic [Q_W-1:0]     q_q[Q_W];
  logic [DEN_W-1:0]   d_q[Q_W];
  logic [CARRY_W-1:0] carry_q[Q_W];
  logic [Q_W-1:0]     vld_q;

  logic [DEN_W-1:0]   r_i[Q_W];
  logic [Q_W-1:0]     q_i[Q_W];
  logic [DEN_W-1:0]   d_i[Q_W];
  logic [R_W-1:0]     cur[Q_W];
  logic [R_W:0]       diff[Q_W];

  always_comb begin
    r_i[0] = '0;
    q_i[0] = '0;
    d_i[0] = d;
    for (int j = 1; j < Q_W; j++) begin
      r_i[j] = r_q[j-1];
      q_i[j] = q_q[j-1];
      d_i[j] = d_q[j-1];
    end
    for (int j = 0; j < Q_W; j++) begin
      cur[j] = {r_i[j], j == 0 ? 1'b1 : 1'b0};  // the dividend's only set bit leads
      diff[j] = {1'b0, cur[j]} - (R_W + 1)'(d_i[j]);
    end
  end

  always_ff @(posedge clk) begin
    for (int j = 0; j < Q_W; j++) begin
      if (!diff[j][R_W]) begin  // no borrow: cur >= d
        r_q[j] <= diff[j][DEN_W-1:0];
        q_q[j] <= {q_i[j][Q_W-2:0], 1'b1};
      end else begin
        r_q[j] <= cur[j][DEN_W-1:0];
        q_q[j] <= {q_i[j][Q_W-2:0], 1'b0};
      end
      d_q[j] <= d_i[j];
    end
    carry_q[0] <= in_carry;
    for (int j = 1; j < Q_W; j++) carry_q[j] <= carry_q[j-1];
  end

  always_ff @(posedge clk) begin
    if (!rst_n) vld_q <= '0;
    else vld_q <= {vld_q[Q_W-2:0], in_valid};
  end

  assign out_valid = vld_q[Q_W-1];
  assign q = q_q[Q_W-1];
  assign out_carry = carry_q[Q_W-1];
endmodule
