// The encoder-layer accelerator as a Vitis RTL kernel: the `ap_ctrl_hs` AXI4-Lite control
// slave (axil_regs) with the HLS top's argument registers, and one AXI4 master per memory
// argument (like the HLS kernel's one bundle per m_axi port), around encoder_layer.
// docs/rtl_kernel.md has the register map, the image layout and the timing; every offset,
// code and field index below is a parameter that sim/rtl/kernel_case.py passes (it is the
// one place that lays them out; the rendered wrapper hw/templates/rtl_kernel_top.sv.j2
// passes the same values on the board).
//
// Arguments (the HLS top's: schedule, n_seq, act_in, act_out, image, n_layers, status):
//   m_axi_gmem_image     read, IMG_W bits: the model image, loaded into encoder_layer on
//                        the first start and whenever the image address changes
//   m_axi_gmem_schedule  read, 32 bits: SCHED_WORDS int32 per sequence
//   m_axi_gmem_act_in    read, W*8 bits: the packed int8 tokens (H bytes each)
//   m_axi_gmem_act_out   write, W*8 bits: the last layer's outputs, same packing
//   m_axi_gmem_status    write, 32 bits: one status word per sequence, written after
//                        its outputs are in memory (abi.STATUS_CODES; an invalid entry
//                        gets its error code and no work)
// The image (64-bit little-endian words): word 0 {version, magic}, word 1 {segments,
// layers}, then the N_BUCKETS bucket edges as u32 (two a word), HDR_WORDS words in all;
// then SEG_WORDS words per segment: {beats u32, words per beat u16, tdest u8, stream u8},
// {byte offset from the image base u64}; a segment is one frame of one load stream
// (STREAM_* ids), each beat padded to whole words.
module sbf_kernel #(
    // encoder_layer (sim/rtl/layer_case.py: LayerParams.hdl_parameters)
    parameter int W = 8,
    parameter int M = 2,
    parameter int T = 4,
    parameter int G = 2,
    parameter int A = 2,
    parameter int H = 32,
    parameter int F = 64,
    parameter int HEADS = 2,
    parameter int MAX_LEN = 24,
    parameter int MAX_K = 4,
    parameter int MAX_LAYERS = 2,
    parameter int G_MAX_NBR = 32,
    parameter int G_MAX_NNZB = 128,
    parameter int DEST_W = 16,
    parameter int RES_BITS = 16,
    parameter int Q4_MAX = 7,
    parameter int SCORE_BITS = 16,
    parameter int PROB_BITS = 8,
    parameter int RECIP_BITS = 40,
    parameter int EXP_MAX_SHIFT = 30,
    parameter LUT_FILE = "estimate_lut.hex",
    parameter int LN_PRM_W = 64,
    parameter int GELU_PRM_W = 64,
    parameter int LN_MEAN_MULT = 1,
    parameter int LN_MEAN_SHIFT = 0,
    // encoder_layer's load-stream widths (kernel_case.py: STREAM_BYTES)
    parameter int WGT_W = 16,
    parameter int ROW_W = 16,
    parameter int DEST_F = 16,
    parameter int DESC_W = 96,
    parameter int ATT_PRM_W = 144,
    // the control registers (kernel_case.py: REGISTERS)
    parameter int CTRL_ADDR_W = 7,
    parameter int ADDR_CTRL = 0,
    parameter int ADDR_GIE = 0,
    parameter int ADDR_IER = 0,
    parameter int ADDR_ISR = 0,
    parameter int ARG_BASE = 0,
    parameter int ARG_WORDS = 1,
    parameter int ADDR_SCHEDULE = 0,
    parameter int ADDR_N_SEQ = 0,
    parameter int ADDR_ACT_IN = 0,
    parameter int ADDR_ACT_OUT = 0,
    parameter int ADDR_IMAGE = 0,
    parameter int ADDR_N_LAYERS = 0,
    parameter int ADDR_STATUS = 0,
    // the schedule table and status codes (hw/hls/abi.py)
    parameter int SCHED_WORDS = 4,
    parameter int SCHED_OFFSET = 0,
    parameter int SCHED_LENGTH = 0,
    parameter int SCHED_BUCKET = 0,
    parameter int SCHED_TOPK = 0,
    parameter int STATUS_OK = 0,
    parameter int STATUS_BAD_IMAGE = 0,
    parameter int STATUS_BAD_LENGTH = 0,
    parameter int STATUS_BAD_BUCKET = 0,
    parameter int STATUS_BAD_TOPK = 0,
    parameter int STATUS_BAD_LAYERS = 0,
    // the image (kernel_case.py)
    parameter int IMAGE_MAGIC = 0,
    parameter int IMAGE_VERSION = 0,
    parameter int N_BUCKETS = 1,
    parameter int HDR_WORDS = 3,
    parameter int SEG_WORDS = 2,
    parameter int STREAM_WGT = 0,
    parameter int STREAM_ROW = 0,
    parameter int STREAM_DEST = 0,
    parameter int STREAM_DESC = 0,
    parameter int STREAM_ATTPRM = 0,
    parameter int STREAM_LNPRM = 0,
    parameter int STREAM_GELUPRM = 0,
    parameter int IMG_W = 64,
    parameter int MAX_WPB = 8,      // words per beat of the widest load stream
    parameter int MAX_BURST = 64,
    localparam int ADDR_W = 64,
    localparam int ACT_W = W * 8,
    localparam int ACT_BYTES = W,
    localparam int LEN_W = $clog2(MAX_LEN + 1),   // encoder_layer's run-time registers
    localparam int K_W = $clog2(MAX_K + 1),
    localparam int LAY_W = $clog2(MAX_LAYERS + 1),
    localparam int G_W = G > 1 ? $clog2(G) : 1,
    localparam int PERF_KINDS = 8
) (
    input  logic                   ap_clk,
    input  logic                   ap_rst_n,
    /* verilator lint_off SYMRSVDWORD */  // the name Vitis wants
    output logic                   interrupt,
    /* verilator lint_on SYMRSVDWORD */
    // AXI4-Lite control
    input  logic [CTRL_ADDR_W-1:0] s_axi_control_awaddr,
    input  logic                   s_axi_control_awvalid,
    output logic                   s_axi_control_awready,
    input  logic [31:0]            s_axi_control_wdata,
    input  logic [3:0]             s_axi_control_wstrb,
    input  logic                   s_axi_control_wvalid,
    output logic                   s_axi_control_wready,
    output logic [1:0]             s_axi_control_bresp,
    output logic                   s_axi_control_bvalid,
    input  logic                   s_axi_control_bready,
    input  logic [CTRL_ADDR_W-1:0] s_axi_control_araddr,
    input  logic                   s_axi_control_arvalid,
    output logic                   s_axi_control_arready,
    output logic [31:0]            s_axi_control_rdata,
    output logic [1:0]             s_axi_control_rresp,
    output logic                   s_axi_control_rvalid,
    input  logic                   s_axi_control_rready,
    // image: read
    output logic [0:0]             m_axi_gmem_image_arid,
    output logic [ADDR_W-1:0]      m_axi_gmem_image_araddr,
    output logic [7:0]             m_axi_gmem_image_arlen,
    output logic [2:0]             m_axi_gmem_image_arsize,
    output logic [1:0]             m_axi_gmem_image_arburst,
    output logic                   m_axi_gmem_image_arvalid,
    input  logic                   m_axi_gmem_image_arready,
    input  logic [0:0]             m_axi_gmem_image_rid,
    input  logic [IMG_W-1:0]       m_axi_gmem_image_rdata,
    input  logic [1:0]             m_axi_gmem_image_rresp,
    input  logic                   m_axi_gmem_image_rlast,
    input  logic                   m_axi_gmem_image_rvalid,
    output logic                   m_axi_gmem_image_rready,
    // schedule: read
    output logic [0:0]             m_axi_gmem_schedule_arid,
    output logic [ADDR_W-1:0]      m_axi_gmem_schedule_araddr,
    output logic [7:0]             m_axi_gmem_schedule_arlen,
    output logic [2:0]             m_axi_gmem_schedule_arsize,
    output logic [1:0]             m_axi_gmem_schedule_arburst,
    output logic                   m_axi_gmem_schedule_arvalid,
    input  logic                   m_axi_gmem_schedule_arready,
    input  logic [0:0]             m_axi_gmem_schedule_rid,
    input  logic [31:0]            m_axi_gmem_schedule_rdata,
    input  logic [1:0]             m_axi_gmem_schedule_rresp,
    input  logic                   m_axi_gmem_schedule_rlast,
    input  logic                   m_axi_gmem_schedule_rvalid,
    output logic                   m_axi_gmem_schedule_rready,
    // act_in: read
    output logic [0:0]             m_axi_gmem_act_in_arid,
    output logic [ADDR_W-1:0]      m_axi_gmem_act_in_araddr,
    output logic [7:0]             m_axi_gmem_act_in_arlen,
    output logic [2:0]             m_axi_gmem_act_in_arsize,
    output logic [1:0]             m_axi_gmem_act_in_arburst,
    output logic                   m_axi_gmem_act_in_arvalid,
    input  logic                   m_axi_gmem_act_in_arready,
    input  logic [0:0]             m_axi_gmem_act_in_rid,
    input  logic [ACT_W-1:0]       m_axi_gmem_act_in_rdata,
    input  logic [1:0]             m_axi_gmem_act_in_rresp,
    input  logic                   m_axi_gmem_act_in_rlast,
    input  logic                   m_axi_gmem_act_in_rvalid,
    output logic                   m_axi_gmem_act_in_rready,
    // act_out: write
    output logic [0:0]             m_axi_gmem_act_out_awid,
    output logic [ADDR_W-1:0]      m_axi_gmem_act_out_awaddr,
    output logic [7:0]             m_axi_gmem_act_out_awlen,
    output logic [2:0]             m_axi_gmem_act_out_awsize,
    output logic [1:0]             m_axi_gmem_act_out_awburst,
    output logic                   m_axi_gmem_act_out_awvalid,
    input  logic                   m_axi_gmem_act_out_awready,
    output logic [ACT_W-1:0]       m_axi_gmem_act_out_wdata,
    output logic [ACT_BYTES-1:0]   m_axi_gmem_act_out_wstrb,
    output logic                   m_axi_gmem_act_out_wlast,
    output logic                   m_axi_gmem_act_out_wvalid,
    input  logic                   m_axi_gmem_act_out_wready,
    input  logic [0:0]             m_axi_gmem_act_out_bid,
    input  logic [1:0]             m_axi_gmem_act_out_bresp,
    input  logic                   m_axi_gmem_act_out_bvalid,
    output logic                   m_axi_gmem_act_out_bready,
    // status: write
    output logic [0:0]             m_axi_gmem_status_awid,
    output logic [ADDR_W-1:0]      m_axi_gmem_status_awaddr,
    output logic [7:0]             m_axi_gmem_status_awlen,
    output logic [2:0]             m_axi_gmem_status_awsize,
    output logic [1:0]             m_axi_gmem_status_awburst,
    output logic                   m_axi_gmem_status_awvalid,
    input  logic                   m_axi_gmem_status_awready,
    output logic [31:0]            m_axi_gmem_status_wdata,
    output logic [3:0]             m_axi_gmem_status_wstrb,
    output logic                   m_axi_gmem_status_wlast,
    output logic                   m_axi_gmem_status_wvalid,
    input  logic                   m_axi_gmem_status_wready,
    input  logic [0:0]             m_axi_gmem_status_bid,
    input  logic [1:0]             m_axi_gmem_status_bresp,
    input  logic                   m_axi_gmem_status_bvalid,
    output logic                   m_axi_gmem_status_bready
);
  localparam int WORD_BYTES = IMG_W / 8;
  localparam int SCHED_BYTES = 4;
  localparam int WPB_W = $clog2(MAX_WPB + 1);
  localparam int BEAT_W = MAX_WPB * IMG_W;

  // controller states (plain codes: Icarus mis-evaluates enums here)
  localparam logic [3:0] K_IDLE = 4'd0, K_HDR_REQ = 4'd1, K_HDR = 4'd2, K_HDR_CHECK = 4'd3,
                         K_SEG_REQ = 4'd4, K_SEG = 4'd5, K_DATA_REQ = 4'd6, K_DATA = 4'd7,
                         K_NEXT = 4'd8, K_SCHED = 4'd9, K_CHECK = 4'd10, K_RUN = 4'd11,
                         K_WAIT = 4'd12, K_STATUS = 4'd13, K_STATUS_WAIT = 4'd14, K_DONE = 4'd15;

  logic clk, rst_n;
  assign clk = ap_clk;
  assign rst_n = ap_rst_n;

  // ---------------------------------------------------------------- control registers
  logic                   ap_start, ap_ready, ap_done, ap_idle;
  logic [32*ARG_WORDS-1:0] args;

  axil_regs #(.ADDR_W(CTRL_ADDR_W), .ADDR_CTRL(ADDR_CTRL), .ADDR_GIE(ADDR_GIE),
              .ADDR_IER(ADDR_IER), .ADDR_ISR(ADDR_ISR), .ARG_BASE(ARG_BASE),
              .ARG_WORDS(ARG_WORDS)) u_regs (
      .clk, .rst_n,
      .s_axil_awaddr(s_axi_control_awaddr), .s_axil_awvalid(s_axi_control_awvalid),
      .s_axil_awready(s_axi_control_awready), .s_axil_wdata(s_axi_control_wdata),
      .s_axil_wstrb(s_axi_control_wstrb), .s_axil_wvalid(s_axi_control_wvalid),
      .s_axil_wready(s_axi_control_wready), .s_axil_bresp(s_axi_control_bresp),
      .s_axil_bvalid(s_axi_control_bvalid), .s_axil_bready(s_axi_control_bready),
      .s_axil_araddr(s_axi_control_araddr), .s_axil_arvalid(s_axi_control_arvalid),
      .s_axil_arready(s_axi_control_arready), .s_axil_rdata(s_axi_control_rdata),
      .s_axil_rresp(s_axi_control_rresp), .s_axil_rvalid(s_axi_control_rvalid),
      .s_axil_rready(s_axi_control_rready),
      .ap_start, .ap_ready, .ap_done, .ap_idle, .args, .irq(interrupt));

  function automatic logic [31:0] arg_word(int addr);
    return args[32 * ((addr - ARG_BASE) / 4) +: 32];
  endfunction

  // the arguments, latched at start
  logic [ADDR_W-1:0] a_schedule, a_act_in, a_act_out, a_image, a_status;
  logic signed [31:0] a_n_seq, a_n_layers;

  // ---------------------------------------------------------------- controller
  logic [3:0]        state;
  logic              loaded, image_ok;
  logic [ADDR_W-1:0] loaded_image;
  // header, segment entry and schedule entry: shifted in a word at a time (the
  // command asks for exactly their words), so word i ends up at [i*width +: width]
  logic [HDR_WORDS*IMG_W-1:0]  hdr;
  logic [SEG_WORDS*IMG_W-1:0]  segd;
  logic [SCHED_WORDS*32-1:0]   sched;
  logic [31:0]       seg;
  logic signed [31:0] s;   // the schedule entry
  logic signed [31:0] code;
  logic              layer_fin, out_fin;

  logic [31:0] h_layers, h_segments;
  logic        hdr_ok;
  assign hdr_ok = hdr[0 +: 32] == 32'(IMAGE_MAGIC) && hdr[32 +: 32] == 32'(IMAGE_VERSION);
  assign h_layers = hdr[IMG_W +: 32];
  assign h_segments = hdr[IMG_W + 32 +: 32];

  // the segment being loaded
  logic [7:0]        seg_stream;
  logic [G_W-1:0]    seg_tdest;
  logic [WPB_W-1:0]  seg_wpb;
  logic [31:0]       seg_beats;
  logic [ADDR_W-1:0] seg_offset;
  assign seg_stream = segd[7:0];
  assign seg_tdest = G_W'(segd[15:8]);
  assign seg_wpb = WPB_W'(segd[31:16]);
  assign seg_beats = segd[63:32];
  assign seg_offset = ADDR_W'(segd[IMG_W +: IMG_W]);

  // the entry's fields and its status, as the HLS kernel's check_entry decides it
  logic signed [31:0] e_offset, e_length, e_bucket, e_topk;
  assign e_offset = sched[32 * SCHED_OFFSET +: 32];
  assign e_length = sched[32 * SCHED_LENGTH +: 32];
  assign e_bucket = sched[32 * SCHED_BUCKET +: 32];
  assign e_topk = sched[32 * SCHED_TOPK +: 32];

  function automatic logic signed [31:0] entry_code();
    logic signed [31:0] edge_b;
    edge_b = 0;
    for (int b = 0; b < N_BUCKETS; b++) begin
      if (e_bucket == b) edge_b = hdr[2 * IMG_W + 32 * b +: 32];
    end
    if (!image_ok) return STATUS_BAD_IMAGE;
    if (a_n_layers < 1 || a_n_layers > $signed(h_layers) || a_n_layers > MAX_LAYERS)
      return STATUS_BAD_LAYERS;
    if (e_length < 1 || e_length > MAX_LEN) return STATUS_BAD_LENGTH;
    if (e_bucket < 0 || e_bucket >= N_BUCKETS || e_length > edge_b) return STATUS_BAD_BUCKET;
    if (e_topk < 1 || e_topk > MAX_K) return STATUS_BAD_TOPK;
    return STATUS_OK;
  endfunction

  // ---------------------------------------------------------------- memory masters
  logic              img_cmd_valid, img_cmd_ready, img_tvalid, img_tready, img_tlast;
  logic [ADDR_W-1:0] img_cmd_addr;
  logic [31:0]       img_cmd_beats;
  logic [IMG_W-1:0]  img_tdata;

  logic [31:0] seg_at;  // the segment's entry in the table
  assign seg_at = 32'(HDR_WORDS * WORD_BYTES) + seg * 32'(SEG_WORDS * WORD_BYTES);

  always_comb begin
    img_cmd_valid = 1'b0;
    img_cmd_addr = a_image;
    img_cmd_beats = 32'(HDR_WORDS);
    case (state)
      K_HDR_REQ: img_cmd_valid = 1'b1;
      K_SEG_REQ: begin
        img_cmd_valid = seg != h_segments;
        img_cmd_addr = a_image + ADDR_W'(seg_at);
        img_cmd_beats = 32'(SEG_WORDS);
      end
      K_DATA_REQ: begin
        img_cmd_valid = 1'b1;
        img_cmd_addr = a_image + seg_offset;
        img_cmd_beats = seg_beats * 32'(seg_wpb);
      end
      default: ;
    endcase
  end

  axi_reader #(.ADDR_W(ADDR_W), .DATA_W(IMG_W), .MAX_BURST(MAX_BURST)) u_img (
      .clk, .rst_n, .cmd_valid(img_cmd_valid), .cmd_ready(img_cmd_ready),
      .cmd_addr(img_cmd_addr), .cmd_beats(img_cmd_beats),
      .m_axis_tdata(img_tdata), .m_axis_tvalid(img_tvalid), .m_axis_tready(img_tready),
      .m_axis_tlast(img_tlast),
      .m_axi_arid(m_axi_gmem_image_arid), .m_axi_araddr(m_axi_gmem_image_araddr),
      .m_axi_arlen(m_axi_gmem_image_arlen), .m_axi_arsize(m_axi_gmem_image_arsize),
      .m_axi_arburst(m_axi_gmem_image_arburst), .m_axi_arvalid(m_axi_gmem_image_arvalid),
      .m_axi_arready(m_axi_gmem_image_arready), .m_axi_rid(m_axi_gmem_image_rid),
      .m_axi_rresp(m_axi_gmem_image_rresp), .m_axi_rdata(m_axi_gmem_image_rdata),
      .m_axi_rlast(m_axi_gmem_image_rlast), .m_axi_rvalid(m_axi_gmem_image_rvalid),
      .m_axi_rready(m_axi_gmem_image_rready));

  // image words of a segment -> beats of its stream
  logic              gb_in_ready, gb_valid, gb_ready, gb_last;
  /* verilator lint_off UNUSEDSIGNAL */  // each stream takes its beat's low bits
  logic [BEAT_W-1:0] gb_data;
  /* verilator lint_on UNUSEDSIGNAL */
  assign img_tready = state == K_DATA ? gb_in_ready : 1'b1;

  axis_gearbox #(.WORD_W(IMG_W), .MAX_WORDS(MAX_WPB)) u_gearbox (
      .clk, .rst_n, .cfg_words(seg_wpb),
      .s_axis_tdata(img_tdata), .s_axis_tvalid(img_tvalid && state == K_DATA),
      .s_axis_tready(gb_in_ready), .s_axis_tlast(img_tlast),
      .m_axis_tdata(gb_data), .m_axis_tvalid(gb_valid), .m_axis_tready(gb_ready),
      .m_axis_tlast(gb_last));

  logic sch_cmd_valid, sch_cmd_ready_unused, sch_tvalid, sch_tlast;
  logic [31:0] sch_tdata;
  assign sch_cmd_valid = state == K_NEXT && s < a_n_seq;

  axi_reader #(.ADDR_W(ADDR_W), .DATA_W(32), .MAX_BURST(MAX_BURST)) u_sched (
      .clk, .rst_n, .cmd_valid(sch_cmd_valid), .cmd_ready(sch_cmd_ready_unused),
      .cmd_addr(a_schedule + ADDR_W'(s * SCHED_WORDS * SCHED_BYTES)),
      .cmd_beats(32'(SCHED_WORDS)),
      .m_axis_tdata(sch_tdata), .m_axis_tvalid(sch_tvalid), .m_axis_tready(1'b1),
      .m_axis_tlast(sch_tlast),
      .m_axi_arid(m_axi_gmem_schedule_arid), .m_axi_araddr(m_axi_gmem_schedule_araddr),
      .m_axi_arlen(m_axi_gmem_schedule_arlen), .m_axi_arsize(m_axi_gmem_schedule_arsize),
      .m_axi_arburst(m_axi_gmem_schedule_arburst),
      .m_axi_arvalid(m_axi_gmem_schedule_arvalid),
      .m_axi_arready(m_axi_gmem_schedule_arready), .m_axi_rid(m_axi_gmem_schedule_rid),
      .m_axi_rresp(m_axi_gmem_schedule_rresp), .m_axi_rdata(m_axi_gmem_schedule_rdata),
      .m_axi_rlast(m_axi_gmem_schedule_rlast), .m_axi_rvalid(m_axi_gmem_schedule_rvalid),
      .m_axi_rready(m_axi_gmem_schedule_rready));

  // the entry's tokens: H / W beats each, from token e_offset on
  logic [ADDR_W-1:0] act_off;
  logic [31:0]       act_beats;
  logic              run_cmd;
  assign act_off = ADDR_W'(e_offset) * ADDR_W'(H);
  assign act_beats = 32'(e_length) * 32'(H / W);
  assign run_cmd = state == K_RUN;

  logic              in_tvalid, in_tready, in_tlast, in_cmd_ready_unused;
  logic [ACT_W-1:0]  in_tdata;
  axi_reader #(.ADDR_W(ADDR_W), .DATA_W(ACT_W), .MAX_BURST(MAX_BURST)) u_act_in (
      .clk, .rst_n, .cmd_valid(run_cmd), .cmd_ready(in_cmd_ready_unused),
      .cmd_addr(a_act_in + act_off), .cmd_beats(act_beats),
      .m_axis_tdata(in_tdata), .m_axis_tvalid(in_tvalid), .m_axis_tready(in_tready),
      .m_axis_tlast(in_tlast),
      .m_axi_arid(m_axi_gmem_act_in_arid), .m_axi_araddr(m_axi_gmem_act_in_araddr),
      .m_axi_arlen(m_axi_gmem_act_in_arlen), .m_axi_arsize(m_axi_gmem_act_in_arsize),
      .m_axi_arburst(m_axi_gmem_act_in_arburst), .m_axi_arvalid(m_axi_gmem_act_in_arvalid),
      .m_axi_arready(m_axi_gmem_act_in_arready), .m_axi_rid(m_axi_gmem_act_in_rid),
      .m_axi_rresp(m_axi_gmem_act_in_rresp), .m_axi_rdata(m_axi_gmem_act_in_rdata),
      .m_axi_rlast(m_axi_gmem_act_in_rlast), .m_axi_rvalid(m_axi_gmem_act_in_rvalid),
      .m_axi_rready(m_axi_gmem_act_in_rready));

  logic              out_tvalid, out_tready, out_tlast, out_done, out_cmd_ready_unused;
  logic [ACT_W-1:0]  out_tdata;
  axi_writer #(.ADDR_W(ADDR_W), .DATA_W(ACT_W), .MAX_BURST(MAX_BURST)) u_act_out (
      .clk, .rst_n, .cmd_valid(run_cmd), .cmd_ready(out_cmd_ready_unused),
      .cmd_addr(a_act_out + act_off), .cmd_beats(act_beats), .done(out_done),
      .s_axis_tdata(out_tdata), .s_axis_tvalid(out_tvalid), .s_axis_tready(out_tready),
      .s_axis_tlast(out_tlast),
      .m_axi_awid(m_axi_gmem_act_out_awid), .m_axi_awaddr(m_axi_gmem_act_out_awaddr),
      .m_axi_awlen(m_axi_gmem_act_out_awlen), .m_axi_awsize(m_axi_gmem_act_out_awsize),
      .m_axi_awburst(m_axi_gmem_act_out_awburst), .m_axi_awvalid(m_axi_gmem_act_out_awvalid),
      .m_axi_awready(m_axi_gmem_act_out_awready), .m_axi_wdata(m_axi_gmem_act_out_wdata),
      .m_axi_wstrb(m_axi_gmem_act_out_wstrb), .m_axi_wlast(m_axi_gmem_act_out_wlast),
      .m_axi_wvalid(m_axi_gmem_act_out_wvalid), .m_axi_wready(m_axi_gmem_act_out_wready),
      .m_axi_bid(m_axi_gmem_act_out_bid), .m_axi_bresp(m_axi_gmem_act_out_bresp),
      .m_axi_bvalid(m_axi_gmem_act_out_bvalid), .m_axi_bready(m_axi_gmem_act_out_bready));

  logic st_valid, st_ready, st_done, st_cmd_ready_unused;
  axi_writer #(.ADDR_W(ADDR_W), .DATA_W(32), .MAX_BURST(MAX_BURST)) u_status (
      .clk, .rst_n, .cmd_valid(state == K_STATUS), .cmd_ready(st_cmd_ready_unused),
      .cmd_addr(a_status + ADDR_W'(s * SCHED_BYTES)), .cmd_beats(32'd1), .done(st_done),
      .s_axis_tdata(code), .s_axis_tvalid(st_valid), .s_axis_tready(st_ready),
      .s_axis_tlast(1'b1),
      .m_axi_awid(m_axi_gmem_status_awid), .m_axi_awaddr(m_axi_gmem_status_awaddr),
      .m_axi_awlen(m_axi_gmem_status_awlen), .m_axi_awsize(m_axi_gmem_status_awsize),
      .m_axi_awburst(m_axi_gmem_status_awburst), .m_axi_awvalid(m_axi_gmem_status_awvalid),
      .m_axi_awready(m_axi_gmem_status_awready), .m_axi_wdata(m_axi_gmem_status_wdata),
      .m_axi_wstrb(m_axi_gmem_status_wstrb), .m_axi_wlast(m_axi_gmem_status_wlast),
      .m_axi_wvalid(m_axi_gmem_status_wvalid), .m_axi_wready(m_axi_gmem_status_wready),
      .m_axi_bid(m_axi_gmem_status_bid), .m_axi_bresp(m_axi_gmem_status_bresp),
      .m_axi_bvalid(m_axi_gmem_status_bvalid), .m_axi_bready(m_axi_gmem_status_bready));

  // ---------------------------------------------------------------- the layer
  logic             layer_start, layer_busy_unused, layer_done;
  logic [LEN_W-1:0] cfg_len;
  logic [K_W-1:0]   cfg_k;
  logic [LAY_W-1:0] cfg_layers;
  logic [32*PERF_KINDS-1:0] perf_unused;
  assign cfg_len = LEN_W'(e_length);
  assign cfg_k = K_W'(e_topk < e_length ? e_topk : e_length);
  assign cfg_layers = LAY_W'(a_n_layers);
  assign layer_start = run_cmd;

  // the load streams, one beat of the gearbox each
  logic [6:0] ld_valid, ld_ready;
  logic       ld_last;
  assign ld_last = gb_last;
  always_comb begin
    ld_valid = '0;
    for (int i = 0; i < 7; i++) begin
      ld_valid[i] = gb_valid && 32'(seg_stream) == (i == 0 ? STREAM_WGT : i == 1 ? STREAM_ROW
                    : i == 2 ? STREAM_DEST : i == 3 ? STREAM_DESC : i == 4 ? STREAM_ATTPRM
                    : i == 5 ? STREAM_LNPRM : STREAM_GELUPRM);
    end
  end
  assign gb_ready = |(ld_valid & ld_ready);

  encoder_layer #(.W(W), .M(M), .T(T), .G(G), .A(A), .H(H), .F(F), .HEADS(HEADS),
                  .MAX_LEN(MAX_LEN), .MAX_K(MAX_K), .MAX_LAYERS(MAX_LAYERS),
                  .G_MAX_NBR(G_MAX_NBR), .G_MAX_NNZB(G_MAX_NNZB), .DEST_W(DEST_W),
                  .RES_BITS(RES_BITS), .Q4_MAX(Q4_MAX), .SCORE_BITS(SCORE_BITS),
                  .PROB_BITS(PROB_BITS), .RECIP_BITS(RECIP_BITS),
                  .EXP_MAX_SHIFT(EXP_MAX_SHIFT), .LUT_FILE(LUT_FILE), .LN_PRM_W(LN_PRM_W),
                  .GELU_PRM_W(GELU_PRM_W), .LN_MEAN_MULT(LN_MEAN_MULT),
                  .LN_MEAN_SHIFT(LN_MEAN_SHIFT)) u_layer (
      .clk, .rst_n, .start(layer_start), .cfg_len, .cfg_layers, .cfg_k,
      .busy(layer_busy_unused), .done(layer_done), .perf_cycles(perf_unused),
      .s_axis_in_tdata(in_tdata), .s_axis_in_tvalid(in_tvalid), .s_axis_in_tready(in_tready),
      .s_axis_in_tlast(in_tlast),
      .m_axis_out_tdata(out_tdata), .m_axis_out_tvalid(out_tvalid),
      .m_axis_out_tready(out_tready), .m_axis_out_tlast(out_tlast),
      .s_axis_wgt_tdata(gb_data[WGT_W-1:0]), .s_axis_wgt_tdest(seg_tdest),
      .s_axis_wgt_tvalid(ld_valid[0]), .s_axis_wgt_tready(ld_ready[0]),
      .s_axis_wgt_tlast(ld_last),
      .s_axis_row_tdata(gb_data[ROW_W-1:0]), .s_axis_row_tdest(seg_tdest),
      .s_axis_row_tvalid(ld_valid[1]), .s_axis_row_tready(ld_ready[1]),
      .s_axis_row_tlast(ld_last),
      .s_axis_dest_tdata(gb_data[DEST_F-1:0]), .s_axis_dest_tdest(seg_tdest),
      .s_axis_dest_tvalid(ld_valid[2]), .s_axis_dest_tready(ld_ready[2]),
      .s_axis_dest_tlast(ld_last),
      .s_axis_desc_tdata(gb_data[DESC_W-1:0]), .s_axis_desc_tdest(seg_tdest),
      .s_axis_desc_tvalid(ld_valid[3]), .s_axis_desc_tready(ld_ready[3]),
      .s_axis_desc_tlast(ld_last),
      .s_axis_attprm_tdata(gb_data[ATT_PRM_W-1:0]), .s_axis_attprm_tlast(ld_last),
      .s_axis_attprm_tvalid(ld_valid[4]), .s_axis_attprm_tready(ld_ready[4]),
      .s_axis_lnprm_tdata(gb_data[LN_PRM_W-1:0]), .s_axis_lnprm_tvalid(ld_valid[5]),
      .s_axis_lnprm_tready(ld_ready[5]), .s_axis_lnprm_tlast(ld_last),
      .s_axis_geluprm_tdata(gb_data[GELU_PRM_W-1:0]), .s_axis_geluprm_tvalid(ld_valid[6]),
      .s_axis_geluprm_tready(ld_ready[6]), .s_axis_geluprm_tlast(ld_last)
  );

  // ---------------------------------------------------------------- the sequencer
  assign ap_idle = state == K_IDLE;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= K_IDLE;
      loaded <= 1'b0;
      image_ok <= 1'b0;
      ap_ready <= 1'b0;
      ap_done <= 1'b0;
      st_valid <= 1'b0;
    end else begin
      ap_ready <= 1'b0;
      ap_done <= 1'b0;
      if (st_valid && st_ready) st_valid <= 1'b0;
      if (layer_done) layer_fin <= 1'b1;
      if (out_done) out_fin <= 1'b1;
      case (state)
        K_IDLE: if (ap_start && !ap_ready) begin
          a_schedule <= {arg_word(ADDR_SCHEDULE + 4), arg_word(ADDR_SCHEDULE)};
          a_act_in <= {arg_word(ADDR_ACT_IN + 4), arg_word(ADDR_ACT_IN)};
          a_act_out <= {arg_word(ADDR_ACT_OUT + 4), arg_word(ADDR_ACT_OUT)};
          a_image <= {arg_word(ADDR_IMAGE + 4), arg_word(ADDR_IMAGE)};
          a_status <= {arg_word(ADDR_STATUS + 4), arg_word(ADDR_STATUS)};
          a_n_seq <= arg_word(ADDR_N_SEQ);
          a_n_layers <= arg_word(ADDR_N_LAYERS);
          ap_ready <= 1'b1;
          s <= 0;
          state <= K_HDR_REQ;
        end
        K_HDR_REQ: begin
          // the model stays on chip while the image address does not change
          if (loaded && a_image == loaded_image) state <= K_NEXT;
          else if (img_cmd_ready) begin
            loaded <= 1'b0;
            state <= K_HDR;
          end
        end
        K_HDR: if (img_tvalid) begin
          hdr <= {img_tdata, hdr[HDR_WORDS*IMG_W-1:IMG_W]};
          if (img_tlast) state <= K_HDR_CHECK;
        end
        K_HDR_CHECK: begin
          image_ok <= hdr_ok;
          seg <= '0;
          state <= hdr_ok ? K_SEG_REQ : K_NEXT;
        end
        K_SEG_REQ: begin
          if (seg == h_segments) begin
            loaded <= 1'b1;
            loaded_image <= a_image;
            state <= K_NEXT;
          end else if (img_cmd_ready) begin
            state <= K_SEG;
          end
        end
        K_SEG: if (img_tvalid) begin
          segd <= {img_tdata, segd[SEG_WORDS*IMG_W-1:IMG_W]};
          if (img_tlast) state <= K_DATA_REQ;
        end
        K_DATA_REQ: if (img_cmd_ready) state <= K_DATA;
        K_DATA: if (gb_valid && gb_ready && gb_last) begin
          seg <= seg + 1'b1;
          state <= K_SEG_REQ;
        end
        K_NEXT: begin
          if (s >= a_n_seq) state <= K_DONE;
          else begin  // u_sched is idle here
            state <= K_SCHED;
          end
        end
        K_SCHED: if (sch_tvalid) begin
          sched <= {sch_tdata, sched[SCHED_WORDS*32-1:32]};
          if (sch_tlast) state <= K_CHECK;
        end
        K_CHECK: begin
          code <= entry_code();
          state <= entry_code() == STATUS_OK ? K_RUN : K_STATUS;
        end
        K_RUN: begin  // the layer and both activation masters are idle here
          layer_fin <= 1'b0;
          out_fin <= 1'b0;
          state <= K_WAIT;
        end
        K_WAIT: if (layer_fin && out_fin) state <= K_STATUS;
        K_STATUS: begin  // u_status is idle here
          st_valid <= 1'b1;
          state <= K_STATUS_WAIT;
        end
        K_STATUS_WAIT: if (st_done) begin
          s <= s + 1;
          state <= K_NEXT;
        end
        default: begin  // K_DONE
          ap_done <= 1'b1;
          state <= K_IDLE;
        end
      endcase
    end
  end

  /* verilator lint_off UNUSEDSIGNAL */
  logic unused;
  assign unused = sch_cmd_ready_unused ^ in_cmd_ready_unused ^ out_cmd_ready_unused
                  ^ st_cmd_ready_unused ^ layer_busy_unused ^ ^perf_unused;
  /* verilator lint_on UNUSEDSIGNAL */
endmodule
