// Fully pipelined integer square root: root = floor(sqrt(x)), exactly (digit by digit).
//
// ROOT_W = ceil(IN_W/2) stages, one per root bit, each one (REM_W)-bit subtract whose
// borrow is the compare: rem = 4*rem + next two bits of x; if rem >= 4*root + 1 then
// rem -= 4*root + 1, root = 2*root + 1, else root = 2*root. Free-running: a value entering
// on cycle c leaves on c + ROOT_W, with `carry` (opaque) and `in_valid` beside it. This is
// sim/golden/nonlinear.py:isqrt (there by Newton's iteration), the same function.
module isqrt_pipe #(
    parameter int IN_W = 41,
    parameter int CARRY_W = 1,
    localparam int ROOT_W = (IN_W + 1) / 2
) (
    input  logic                clk,
    input  logic                rst_n,
    input  logic                in_valid,
    input  logic [IN_W-1:0]     x,
    input  logic [CARRY_W-1:0]  in_carry,
    output logic                out_valid,
    output logic [ROOT_W-1:0]   root,
    output logic [CARRY_W-1:0]  out_carry
);
  localparam int X_W = 2 * ROOT_W;     // x padded to whole bit pairs
  localparam int REM_W = ROOT_W + 2;   // rem <= 2*root < 2^(ROOT_W+1), so 4*rem+3 fits + 1

  // per stage j: its registered outputs (the next stage's inputs)
  logic [REM_W-1:0]   rem_q[ROOT_W];
  logic [ROOT_W-1:0]  root_q[ROOT_W];
  logic [X_W-1:0]     x_q[ROOT_W];
  logic [CARRY_W-1:0] carry_q[ROOT_W];
  logic [ROOT_W-1:0]  vld_q;

  // per stage j: inputs and the trial subtraction
  logic [REM_W-1:0]   rem_i[ROOT_W];
  logic [ROOT_W-1:0]  root_i[ROOT_W];
  logic [X_W-1:0]     x_i[ROOT_W];
  logic [REM_W-1:0]   cur[ROOT_W];
  logic [REM_W:0]     diff[ROOT_W];

  always_comb begin
    rem_i[0] = '0;
    root_i[0] = '0;
    x_i[0] = X_W'(x);
    for (int j = 1; j < ROOT_W; j++) begin
      rem_i[j] = rem_q[j-1];
      root_i[j] = root_q[j-1];
      x_i[j] = x_q[j-1];
    end
    for (int j = 0; j < ROOT_W; j++) begin
      cur[j] = {rem_i[j][REM_W-3:0], x_i[j][2*(ROOT_W-1-j) +: 2]};
      diff[j] = {1'b0, cur[j]} - {1'b0, REM_W'({root_i[j], 2'b01})};
    end
  end

  always_ff @(posedge clk) begin
    for (int j = 0; j < ROOT_W; j++) begin
      if (!diff[j][REM_W]) begin  // no borrow: cur >= 4*root + 1
        rem_q[j] <= diff[j][REM_W-1:0];
        root_q[j] <= {root_i[j][ROOT_W-2:0], 1'b1};
      end else begin
        rem_q[j] <= cur[j];
        root_q[j] <= {root_i[j][ROOT_W-2:0], 1'b0};
      end
      x_q[j] <= x_i[j];
    end
    carry_q[0] <= in_carry;
    for (int j = 1; j < ROOT_W; j++) carry_q[j] <= carry_q[j-1];
  end

  always_ff @(posedge clk) begin
    if (!rst_n) vld_q <= '0;
    else vld_q <= {vld_q[ROOT_W-2:0], in_valid};
  end

  assign out_valid = vld_q[ROOT_W-1];
  assign root = root_q[ROOT_W-1];
  assign out_carry = carry_q[ROOT_W-1];
endmodule
