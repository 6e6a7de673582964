// Pipelined signed adder tree: sum of N_IN inputs, one adder per input pair per stage.
//
// LEVELS = ceil(log2(N_IN)) registered levels (0: the single input passes through
// combinationally). Free-running: a value entering on cycle c leaves on c + LEVELS.
// Inputs are signed IN_W-bit, the sum OUT_W-bit (the caller sizes OUT_W for N_IN terms).
module adder_tree #(
    parameter int N_IN = 8,
    parameter int IN_W = 16,
    parameter int OUT_W = 20,
    localparam int LEVELS = $clog2(N_IN)
) (
    input  logic                     clk,
    input  logic [N_IN*IN_W-1:0]     in,
    output logic signed [OUT_W-1:0]  sum
);
  localparam int P = 1 << LEVELS;  // leaves, padded with zeros

  if (LEVELS == 0) begin : g_pass
    assign sum = OUT_W'($signed(in[IN_W-1:0]));
    /* verilator lint_off UNUSEDSIGNAL */
    logic unused_clk;
    assign unused_clk = clk;
    /* verilator lint_on UNUSEDSIGNAL */
  end else begin : g_tree
    // heap order: node k has children 2k+1 and 2k+2; leaves are nodes P-1 .. 2P-2
    logic signed [OUT_W-1:0] leaf[P];
    logic signed [OUT_W-1:0] node[P-1];

    function automatic logic signed [OUT_W-1:0] child(int c);
      return c >= P - 1 ? leaf[c-(P-1)] : node[c];
    endfunction

    always_comb begin
      for (int i = 0; i < P; i++) begin
        leaf[i] = i < N_IN ? OUT_W'($signed(in[IN_W*i +: IN_W])) : '0;
      end
    end

    always_ff @(posedge clk) begin
      for (int k = 0; k < P - 1; k++) node[k] <= child(2*k + 1) + child(2*k + 2);
    end

    assign sum = node[0];
  end
endmodule
