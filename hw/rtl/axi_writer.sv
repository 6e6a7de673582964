// AXI4 burst write master: a command (byte address, beats) takes that many beats from an
// AXI4-Stream and writes them as INCR bursts of at most MAX_BURST beats that never cross
// a BOUNDARY (4 KiB in AXI4); `done` pulses when the last burst's response is in, so the
// data is in memory before anything written after it. A burst's address is issued only
// once its first beat is waiting (no write channel held open while the data is computed).
// The address must be aligned to DATA_W / 8 bytes. One burst in flight; full strobes.
module axi_writer #(
    parameter int ADDR_W = 64,
    parameter int DATA_W = 64,
    parameter int CNT_W = 32,
    parameter int MAX_BURST = 64,
    parameter int BOUNDARY = 4096,
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
    output logic              done,
    input  logic [DATA_W-1:0] s_axis_tdata,
    input  logic              s_axis_tvalid,
    output logic              s_axis_tready,
    /* verilator lint_off UNUSEDSIGNAL */  // framing only: the command counts the beats
    input  logic              s_axis_tlast,
    /* verilator lint_on UNUSEDSIGNAL */
    // AXI4 write channels
    output logic [0:0]        m_axi_awid,
    output logic [ADDR_W-1:0] m_axi_awaddr,
    output logic [7:0]        m_axi_awlen,
    output logic [2:0]        m_axi_awsize,
    output logic [1:0]        m_axi_awburst,
    output logic              m_axi_awvalid,
    input  logic              m_axi_awready,
    output logic [DATA_W-1:0] m_axi_wdata,
    output logic [BYTES-1:0]  m_axi_wstrb,
    output logic              m_axi_wlast,
    output logic              m_axi_wvalid,
    input  logic              m_axi_wready,
    /* verilator lint_off UNUSEDSIGNAL */  // one ID; errors are not reported (no retry)
    input  logic [0:0]        m_axi_bid,
    input  logic [1:0]        m_axi_bresp,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic              m_axi_bvalid,
    output logic              m_axi_bready
);
  localparam logic [1:0] BURST_INCR = 2'b01;
  // states, plain codes (Icarus mis-evaluates enums)
  localparam logic [2:0] S_IDLE = 3'd0, S_PLAN = 3'd1, S_ADDR = 3'd2, S_DATA = 3'd3,
                         S_RESP = 3'd4;

  logic [2:0]       state;
  logic [ADDR_W-1:0] addr;
  logic [CNT_W-1:0] left;
  logic [BL_W-1:0]  burst, sent;
  logic [BOUND_W:0] to_bound;

  assign to_bound = (BOUND_W+1)'(BOUNDARY - 32'(addr[BOUND_W-1:0])) >> SIZE;
  assign cmd_ready = state == S_IDLE;
  assign m_axi_awid = '0;
  assign m_axi_awsize = 3'(SIZE);
  assign m_axi_awburst = BURST_INCR;
  assign m_axi_awlen = 8'(32'(burst) - 1);
  assign m_axi_awaddr = addr;
  assign m_axi_awvalid = state == S_ADDR;
  assign m_axi_wdata = s_axis_tdata;
  assign m_axi_wstrb = '1;
  assign m_axi_wlast = sent == burst - 1'b1;
  assign m_axi_wvalid = state == S_DATA && s_axis_tvalid;
  assign s_axis_tready = state == S_DATA && m_axi_wready;
  assign m_axi_bready = state == S_RESP;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= S_IDLE;
      done <= 1'b0;
    end else begin
      done <= 1'b0;
      case (state)
        S_IDLE: if (cmd_valid && cmd_beats != '0) begin
          addr <= cmd_addr;
          left <= cmd_beats;
          state <= S_PLAN;
        end
        S_PLAN: if (s_axis_tvalid) begin
          burst <= BL_W'(left < CNT_W'(MAX_BURST) ? 32'(left) : MAX_BURST);
          if (32'(to_bound) < MAX_BURST && CNT_W'(to_bound) < left) burst <= BL_W'(to_bound);
          sent <= '0;
          state <= S_ADDR;
        end
        S_ADDR: if (m_axi_awready) begin
          addr <= addr + ADDR_W'(32'(burst) << SIZE);
          left <= left - CNT_W'(burst);
          state <= S_DATA;
        end
        S_DATA: if (m_axi_wvalid && m_axi_wready) begin
          sent <= sent + 1'b1;
          if (m_axi_wlast) state <= S_RESP;
        end
        default: if (m_axi_bvalid) begin  // S_RESP
          if (left == '0) begin
            state <= S_IDLE;
            done <= 1'b1;
          end else begin
            state <= S_PLAN;
          end
        end
      endcase
    end
  end
endmodule
