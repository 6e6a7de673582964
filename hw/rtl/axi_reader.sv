// AXI4 burst read master: a command (byte address, beats) becomes INCR bursts of at most
// MAX_BURST beats that never cross a BOUNDARY (4 KiB in AXI4), and the data comes out as
// an AXI4-Stream with tlast on the command's last beat. The address must be aligned to
// DATA_W / 8 bytes. One burst in flight; the R channel flows straight to the stream.
module axi_reader #(
    parameter int ADDR_W = 64,
    parameter int DATA_W = 64,
    parameter int CNT_W = 32,        // beats of one command
    parameter int MAX_BURST = 64,    // <= 256 (AXI4 INCR)
    parameter int BOUNDARY = 4096,   // AXI4: no burst crosses a 4 KiB boundary
    localparam int BYTES = DATA_W / 8,
    localparam int SIZE = $clog2(BYTES),
    localparam int BOUND_W = $clog2(BOUNDARY),
    localparam int BL_W = $clog2(MAX_BURST + 1)
) (
    input  logic              clk,
    input  logic              rst_n,
    input  logic              cmd_valid,
    output logic              cmd_ready,
    input  logic [ADDR_W-1:0] cmd_addr,
    input  logic [CNT_W-1:0]  cmd_beats,  // >= 1
    output logic [DATA_W-1:0] m_axis_tdata,
    output logic              m_axis_tvalid,
    input  logic              m_axis_tready,
    output logic              m_axis_tlast,
    // AXI4 read channels
    output logic [0:0]        m_axi_arid,
    output logic [ADDR_W-1:0] m_axi_araddr,
    output logic [7:0]        m_axi_arlen,
    output logic [2:0]        m_axi_arsize,
    output logic [1:0]        m_axi_arburst,
    output logic              m_axi_arvalid,
    input  logic              m_axi_arready,
    /* verilator lint_off UNUSEDSIGNAL */  // one ID; errors are not reported (no retry)
    input  logic [0:0]        m_axi_rid,
    input  logic [1:0]        m_axi_rresp,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic [DATA_W-1:0] m_axi_rdata,
    input  logic              m_axi_rlast,
    input  logic              m_axi_rvalid,
    output logic              m_axi_rready
);
  localparam logic [1:0] BURST_INCR = 2'b01;
  // states, plain codes (Icarus mis-evaluates enums)
  localparam logic [1:0] S_IDLE = 2'd0, S_PLAN = 2'd1, S_ADDR = 2'd2, S_DATA = 2'd3;

  logic [1:0]       state;
  logic [ADDR_W-1:0] addr;
  logic [CNT_W-1:0] left;   // beats not yet requested
  logic [BL_W-1:0]  burst;
  logic [BOUND_W:0] to_bound;  // beats from addr to the next boundary

  assign to_bound = (BOUND_W+1)'(BOUNDARY - 32'(addr[BOUND_W-1:0])) >> SIZE;
  assign cmd_ready = state == S_IDLE;
  assign m_axi_arid = '0;
  assign m_axi_arsize = 3'(SIZE);
  assign m_axi_arburst = BURST_INCR;
  assign m_axi_arlen = 8'(32'(burst) - 1);
  assign m_axi_araddr = addr;
  assign m_axi_arvalid = state == S_ADDR;
  assign m_axi_rready = state == S_DATA && m_axis_tready;
  assign m_axis_tdata = m_axi_rdata;
  assign m_axis_tvalid = state == S_DATA && m_axi_rvalid;
  assign m_axis_tlast = m_axi_rlast && left == '0;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= S_IDLE;
    end else begin
      case (state)
        S_IDLE: if (cmd_valid && cmd_beats != '0) begin
          addr <= cmd_addr;
          left <= cmd_beats;
          state <= S_PLAN;
        end
        S_PLAN: begin
          burst <= BL_W'(left < CNT_W'(MAX_BURST) ? 32'(left) : MAX_BURST);
          if (32'(to_bound) < MAX_BURST && CNT_W'(to_bound) < left) burst <= BL_W'(to_bound);
          state <= S_ADDR;
        end
        S_ADDR: if (m_axi_arready) begin
          addr <= addr + ADDR_W'(32'(burst) << SIZE);
          left <= left - CNT_W'(burst);
          state <= S_DATA;
        end
        default: if (m_axi_rvalid && m_axi_rready && m_axi_rlast) begin  // S_DATA
          state <= left == '0 ? S_IDLE : S_PLAN;
        end
      endcase
    end
  end
endmodule
