// Streams COUNT words of an sdp_ram out as AXI4-Stream: addresses BASE, BASE + STRIDE, ...
// tlast on the last word. The RAM's one-cycle read latency is hidden by a small FIFO:
// a read is issued only while the FIFO has room for it, so the stream runs at one word per
// cycle and honours backpressure without losing a word.
module buf_reader #(
    parameter int WIDTH = 64,
    parameter int AW = 8,
    parameter int CNT_W = 16,
    parameter int FIFO_DEPTH = 4,  // >= 2; 4 sustains one word per cycle
    localparam int FP_W = $clog2(FIFO_DEPTH),
    localparam int FC_W = $clog2(FIFO_DEPTH + 1)
) (
    input  logic             clk,
    input  logic             rst_n,
    input  logic             start,
    input  logic [AW-1:0]    cfg_base,
    input  logic [AW-1:0]    cfg_stride,
    input  logic [CNT_W-1:0] cfg_count,
    output logic             busy,
    // the RAM's read port
    output logic             re,
    output logic [AW-1:0]    raddr,
    input  logic [WIDTH-1:0] rdata,
    output logic [WIDTH-1:0] m_axis_tdata,
    output logic             m_axis_tvalid,
    input  logic             m_axis_tready,
    output logic             m_axis_tlast
);
  logic [CNT_W-1:0] left;
  logic [AW-1:0]    stride;
  logic             inflight, inflight_last;
  logic [WIDTH-1:0] fifo_data[FIFO_DEPTH];
  logic             fifo_last[FIFO_DEPTH];
  logic [FP_W-1:0]  wp, rp;
  logic [FC_W-1:0]  count;
  logic             push, pop;

  assign re = left != '0 && 32'(count) + 32'(inflight) < FIFO_DEPTH;
  assign push = inflight;
  assign pop = m_axis_tvalid && m_axis_tready;
  assign m_axis_tvalid = count != '0;
  assign m_axis_tdata = fifo_data[rp];
  assign m_axis_tlast = fifo_last[rp];
  assign busy = left != '0 || inflight || count != '0;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      left <= '0;
      inflight <= 1'b0;
      wp <= '0;
      rp <= '0;
      count <= '0;
    end else begin
      if (start) begin
        left <= cfg_count;
        raddr <= cfg_base;
        stride <= cfg_stride;
      end else if (re) begin
        left <= left - 1'b1;
        raddr <= raddr + stride;
      end
      inflight <= re && !start;
      inflight_last <= left == CNT_W'(1);
      if (push) begin
        fifo_data[wp] <= rdata;
        fifo_last[wp] <= inflight_last;
        wp <= 32'(wp) == FIFO_DEPTH - 1 ? '0 : wp + 1'b1;
      end
      if (pop) rp <= 32'(rp) == FIFO_DEPTH - 1 ? '0 : rp + 1'b1;
      count <= count + FC_W'(push) - FC_W'(pop);
    end
  end
endmodule
