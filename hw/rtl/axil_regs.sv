// AXI4-Lite control slave with the Vitis `ap_ctrl_hs` register map, so that the host
// drives the RTL kernel exactly as it drives the HLS one. The offsets come in as
// parameters from sim/rtl/kernel_case.py (REGISTERS), the one place that lays them out:
//   ADDR_CTRL  bit 0 ap_start (R/W, cleared when the kernel takes it: ap_ready)
//              bit 1 ap_done (R, clear on read), bit 2 ap_idle (R),
//              bit 3 ap_ready (R, clear on read)
//   ADDR_GIE   bit 0 global interrupt enable
//   ADDR_IER   bit 0 ap_done, bit 1 ap_ready interrupt enable
//   ADDR_ISR   bit 0 ap_done, bit 1 ap_ready interrupt status (toggle on write)
//   ARG_BASE   ARG_WORDS words of arguments (pointers and scalars, reserved words too),
//              byte-writable, read back as written.
// One write and one read in flight at a time; bresp/rresp always OKAY.
module axil_regs #(
    parameter int ADDR_W = 7,
    parameter int ADDR_CTRL = 0,
    parameter int ADDR_GIE = 4,
    parameter int ADDR_IER = 8,
    parameter int ADDR_ISR = 12,
    parameter int ARG_BASE = 16,
    parameter int ARG_WORDS = 1,
    localparam int DATA_W = 32,
    localparam int STRB_W = DATA_W / 8
) (
    input  logic                    clk,
    input  logic                    rst_n,
    input  logic [ADDR_W-1:0]       s_axil_awaddr,
    input  logic                    s_axil_awvalid,
    output logic                    s_axil_awready,
    input  logic [DATA_W-1:0]       s_axil_wdata,
    input  logic [STRB_W-1:0]       s_axil_wstrb,
    input  logic                    s_axil_wvalid,
    output logic                    s_axil_wready,
    output logic [1:0]              s_axil_bresp,
    output logic                    s_axil_bvalid,
    input  logic                    s_axil_bready,
    input  logic [ADDR_W-1:0]       s_axil_araddr,
    input  logic                    s_axil_arvalid,
    output logic                    s_axil_arready,
    output logic [DATA_W-1:0]       s_axil_rdata,
    output logic [1:0]              s_axil_rresp,
    output logic                    s_axil_rvalid,
    input  logic                    s_axil_rready,
    // the kernel side
    output logic                    ap_start,
    input  logic                    ap_ready,  // one cycle: the kernel took the start
    input  logic                    ap_done,   // one cycle: all work done
    input  logic                    ap_idle,
    output logic [DATA_W*ARG_WORDS-1:0] args,
    output logic                    irq  // interrupt: GIE and an enabled status bit
);
  localparam int WORD_LSB = $clog2(STRB_W);
  localparam logic [1:0] RESP_OKAY = 2'b00;

  logic             aw_full, w_full;
  logic [ADDR_W-1:0] aw_addr;
  logic [DATA_W-1:0] w_data;
  logic [STRB_W-1:0] w_strb;
  logic             done_r, ready_r, gie;
  logic [1:0]       ier, isr;
  logic [DATA_W-1:0] arg[ARG_WORDS];
  logic             wr_fire, rd_fire;

  assign s_axil_awready = !aw_full;
  assign s_axil_wready = !w_full;
  assign s_axil_bresp = RESP_OKAY;
  assign s_axil_rresp = RESP_OKAY;
  assign s_axil_arready = !s_axil_rvalid;
  assign wr_fire = aw_full && w_full && !s_axil_bvalid;
  assign rd_fire = s_axil_arvalid && s_axil_arready;
  assign irq = gie && |isr;
  for (genvar i = 0; i < ARG_WORDS; i++) begin : g_args
    assign args[DATA_W*i +: DATA_W] = arg[i];
  end

  function automatic logic is_arg(logic [ADDR_W-1:0] a);
    return 32'(a) >= ARG_BASE && 32'(a) < ARG_BASE + STRB_W * ARG_WORDS;
  endfunction

  function automatic int unsigned arg_index(logic [ADDR_W-1:0] a);
    return (32'(a) - ARG_BASE) >> WORD_LSB;
  endfunction

  // ---------------------------------------------------------------- writes
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      aw_full <= 1'b0;
      w_full <= 1'b0;
      s_axil_bvalid <= 1'b0;
      ap_start <= 1'b0;
      gie <= 1'b0;
      ier <= '0;
      for (int i = 0; i < ARG_WORDS; i++) arg[i] <= '0;
    end else begin
      if (s_axil_awvalid && s_axil_awready) begin
        aw_full <= 1'b1;
        aw_addr <= s_axil_awaddr;
      end
      if (s_axil_wvalid && s_axil_wready) begin
        w_full <= 1'b1;
        w_data <= s_axil_wdata;
        w_strb <= s_axil_wstrb;
      end
      if (s_axil_bvalid && s_axil_bready) s_axil_bvalid <= 1'b0;
      if (ap_ready) ap_start <= 1'b0;
      if (wr_fire) begin
        aw_full <= 1'b0;
        w_full <= 1'b0;
        s_axil_bvalid <= 1'b1;
        if (32'(aw_addr) == ADDR_CTRL && w_strb[0] && w_data[0]) ap_start <= 1'b1;
        if (32'(aw_addr) == ADDR_GIE && w_strb[0]) gie <= w_data[0];
        if (32'(aw_addr) == ADDR_IER && w_strb[0]) ier <= w_data[1:0];
        if (is_arg(aw_addr)) begin
          for (int b = 0; b < STRB_W; b++) begin
            if (w_strb[b]) arg[arg_index(aw_addr)][8*b +: 8] <= w_data[8*b +: 8];
          end
        end
      end
    end
  end

  // ---------------------------------------------------------------- status bits
  // ap_done and ap_ready stick until the control word is read; the interrupt status
  // bits are set by their events (when enabled) and toggled by a write of 1.
  logic rd_ctrl;
  assign rd_ctrl = rd_fire && 32'(s_axil_araddr) == ADDR_CTRL;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      done_r <= 1'b0;
      ready_r <= 1'b0;
      isr <= '0;
    end else begin
      if (ap_done) done_r <= 1'b1;
      else if (rd_ctrl) done_r <= 1'b0;
      if (ap_ready) ready_r <= 1'b1;
      else if (rd_ctrl) ready_r <= 1'b0;
      for (int i = 0; i < 2; i++) begin
        if ((i == 0 ? ap_done : ap_ready) && ier[i]) isr[i] <= 1'b1;
        else if (wr_fire && 32'(aw_addr) == ADDR_ISR && w_strb[0] && w_data[i])
          isr[i] <= !isr[i];
      end
    end
  end

  // ---------------------------------------------------------------- reads
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      s_axil_rvalid <= 1'b0;
      s_axil_rdata <= '0;
    end else begin
      if (s_axil_rvalid && s_axil_rready) s_axil_rvalid <= 1'b0;
      if (rd_fire) begin
        s_axil_rvalid <= 1'b1;
        s_axil_rdata <= '0;
        if (32'(s_axil_araddr) == ADDR_CTRL)
          s_axil_rdata <= DATA_W'({ready_r, ap_idle, done_r, ap_start});
        else if (32'(s_axil_araddr) == ADDR_GIE) s_axil_rdata <= DATA_W'(gie);
        else if (32'(s_axil_araddr) == ADDR_IER) s_axil_rdata <= DATA_W'(ier);
        else if (32'(s_axil_araddr) == ADDR_ISR) s_axil_rdata <= DATA_W'(isr);
        else if (is_arg(s_axil_araddr)) s_axil_rdata <= arg[arg_index(s_axil_araddr)];
      end
    end
  end
endmodule
