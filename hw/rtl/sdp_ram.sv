// Simple dual-port RAM: one write port with per-segment write enables, one read port with
// a registered output (one cycle of latency), so synthesis infers block RAM (or URAM, or
// LUT-RAM when small) instead of registers. No vendor primitives.
module sdp_ram #(
    parameter int WIDTH = 64,
    parameter int DEPTH = 256,  // >= 2
    parameter int SEGS = 1,     // write enables per word, WIDTH / SEGS bits each
    localparam int AW = $clog2(DEPTH),
    localparam int SEG_W = WIDTH / SEGS
) (
    input  logic             clk,
    input  logic             we,
    input  logic [SEGS-1:0]  wseg,
    input  logic [AW-1:0]    waddr,
    input  logic [WIDTH-1:0] wdata,
    input  logic             re,
    input  logic [AW-1:0]    raddr,
    output logic [WIDTH-1:0] rdata
);
  logic [WIDTH-1:0] mem[DEPTH];

  always_ff @(posedge clk) begin
    if (we) begin
      for (int s = 0; s < SEGS; s++) begin
        if (wseg[s]) mem[waddr][SEG_W*s +: SEG_W] <= wdata[SEG_W*s +: SEG_W];
      end
    end
    if (re) rdata <= mem[raddr];
  end
endmodule
