// The T accumulators of one hp_spmm PE, twice: the block-row being computed accumulates
// into one bank (one token per cycle: read, add, write), while the drain reads the other,
// finished one. One adder and a LUT-RAM (one write port, two asynchronous read ports):
// T registers with an adder each, and a copy of them into a drain buffer, cost about 70
// LUTs per accumulator at T = 8 (docs/rtl.md, "HP sparse matmul engine").
// `we` adds `dot` to word `waddr` ({bank, token}), or, with `first`, stores it.
module hp_spmm_acc #(
    parameter int T = 4,  // tokens per tile: words per bank
    localparam int A_W = 1 + $clog2(T)  // {bank, token}
) (
    input  logic               clk,
    input  logic               we,
    input  logic               first,
    input  logic [A_W-1:0]     waddr,
    input  logic signed [31:0] dot,
    input  logic [A_W-1:0]     raddr,
    output logic signed [31:0] rdata  // word raddr, not registered (a LUT-RAM read)
);
  logic signed [31:0] mem[1 << A_W];
  always_ff @(posedge clk) begin
    if (we) mem[waddr] <= (first ? 32'sd0 : mem[waddr]) + dot;
  end
  assign rdata = mem[raddr];
endmodule
