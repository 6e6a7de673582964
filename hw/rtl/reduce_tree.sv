// Pipelined reduction tree: the sum (signed) or the maximum (unsigned) of N inputs, one
// tree level per registered stage, so no stage holds more than one adder or compare.
//
// LATENCY = $clog2(N) stages (0: the single input passes through combinationally).
// `en` advances every stage at once (tie it high for a free-running tree). Inputs are
// IW bits, sign-extended (sum) or zero-extended (max) to the OW-bit result; the caller
// sizes OW for N terms. The leaves are padded with zeros (neutral for a sum, and for a
// maximum of unsigned values).
module reduce_tree #(
    parameter int N = 8,
    parameter int IW = 8,
    parameter int OW = 16,
    parameter bit MAX = 1'b0,  // 0: signed sum, 1: unsigned maximum
    localparam int LATENCY = $clog2(N)
) (
    input  logic            clk,
    input  logic            en,
    input  logic [N*IW-1:0] in,
    output logic [OW-1:0]   out
);
  localparam int NP = 1 << LATENCY;
  logic [OW-1:0] leaf[NP];
  always_comb begin
    for (int i = 0; i < NP; i++) begin
      if (i >= N) leaf[i] = '0;
      else if (MAX) leaf[i] = OW'(in[IW*i +: IW]);
      else leaf[i] = OW'($signed(in[IW*i +: IW]));
    end
  end
  if (LATENCY == 0) begin : g_wire
    assign out = leaf[0];
    /* verilator lint_off UNUSEDSIGNAL */
    logic unused;
    assign unused = clk ^ en;
    /* verilator lint_on UNUSEDSIGNAL */
  end else begin : g_tree
    logic [OW-1:0] node[1:NP-1];  // node 1 is the root, node i's children are 2i and 2i + 1
    logic [OW-1:0] a[1:NP-1], b[1:NP-1];  // the children (the index guards keep dead
    always_comb begin                        // branches inside the arrays)
      for (int i = 1; i < NP; i++) begin
        a[i] = 2 * i >= NP ? leaf[2 * i >= NP ? 2 * i - NP : 0] : node[2 * i >= NP ? 1 : 2 * i];
        b[i] = 2 * i >= NP ? leaf[2 * i >= NP ? 2 * i + 1 - NP : 0]
                           : node[2 * i >= NP ? 1 : 2 * i + 1];
      end
    end
    always_ff @(posedge clk) begin
      if (en) begin
        for (int i = 1; i < NP; i++) node[i] <= MAX ? (a[i] > b[i] ? a[i] : b[i]) : a[i] + b[i];
      end
    end
    always_comb out = node[1];
  end
endmodule
