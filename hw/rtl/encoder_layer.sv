// The encoder-layer accelerator: G HP sparse-matmul PE groups, A top-k sparse attention
// engines, a residual+LayerNorm unit and a GELU unit around on-chip activation buffers,
// and a controller that runs every operator of a layer and loops over the layers.
// Bit-exact with sim/golden/encoder.py:encoder (top-k attention of
// sim/golden/sparse_attention.py); docs/rtl.md ("Encoder layer") has the schedule and
// the cycle formula, sim/rtl/layer_case.py packs the model and the streams.
//
// Per layer, one operator after another, each over the real length L:
//   QKV  x -> q, k, v           the three linears as one of 3H/W block-rows (int8 out)
//   ATT  q, k, v -> ctx         heads dealt over the A engines (head h on engine h mod A)
//   O    ctx -> res             attention output linear (16-bit out, residual scale)
//   LN1  res + x -> ln1         residual add + LayerNorm
//   F1   ln1 -> mid             FFN1 (16-bit out) through the GELU unit (int8 out)
//   F2   mid -> res             FFN2 (16-bit out)
//   LN2  res + ln1 -> x         the next layer's input; the last layer's also streams out
// A linear's block-rows are dealt over the G groups (sim/rtl/layer_case.py:deal_rows,
// balanced by kept blocks; where an operator has fewer block-rows than groups, token
// tiles are dealt too) and the activations are broadcast to all groups, tile by tile.
//
// Buffers hold words of W elements (W = BO = BI): token t's word w at t * words + w.
// q, k and v are banked per attention engine (rows of one head, D bytes) so that the A
// engines read in parallel; a QKV output word lands in its bank by the destination code
// its block-row carries: {bank (which * A + engine), local head, segment}.
//
// Streams (AXI4-Stream, little-endian):
//   s_axis_in       L * H/W beats of W int8: the layer-0 input, token-major
//   m_axis_out      L * H/W beats of W int8: the last layer's output; tlast on the last
//   s_axis_wgt/row/dest/desc   the model, per group (tdest = group), see spmm_group.sv
//   s_axis_attprm   one beat per layer: [15:0] score mult, [23:16] score shift,
//                   [55:24] exp q_ln2, [87:56] exp q_b, [119:88] exp q_c,
//                   [135:120] out mult, [143:136] out shift
//   s_axis_lnprm, s_axis_geluprm   the units' parameter streams, passed through
// Run-time registers, latched at start: cfg_len (L), cfg_layers, cfg_k (keys per query).
// perf_cycles: cycles spent in each operator kind (IN, QKV, ATT, O, LN1, F1, F2, LN2, 32
// bits each), summed over the layers.
module encoder_layer #(
    parameter int W = 8,            // elements per buffer word = BO = BI
    parameter int M = 2,            // MACs per PE per cycle
    parameter int T = 4,            // tokens per tile
    parameter int G = 2,            // PE groups
    parameter int A = 2,            // attention engines
    parameter int H = 32,           // hidden
    parameter int F = 64,           // FFN width
    parameter int HEADS = 2,
    parameter int MAX_LEN = 24,
    parameter int MAX_K = 4,
    parameter int MAX_LAYERS = 2,
    parameter int G_MAX_NBR = 32,   // block-rows each group stores (all layers)
    parameter int G_MAX_NNZB = 128, // kept blocks each group stores (all layers)
    parameter int DEST_W = 16,
    parameter int RES_BITS = 16,    // sim/golden/params.py: RES_BITS = GELU_IN_BITS
    parameter int Q4_MAX = 7,
    parameter int SCORE_BITS = 16,
    parameter int PROB_BITS = 8,
    parameter int RECIP_BITS = 40,
    parameter int EXP_MAX_SHIFT = 30,
    parameter LUT_FILE = "estimate_lut.hex",
    parameter int LN_PRM_W = 64,    // the units' parameter beats (sim/rtl/vector_case.py)
    parameter int GELU_PRM_W = 64,
    parameter int LN_MEAN_MULT = 1,  // the LayerNorm's exact division by H (vector_case.py)
    parameter int LN_MEAN_SHIFT = 0,
    localparam int D = H / HEADS,
    localparam int DW = D / W,      // words per head row
    localparam int NW_H = H / W,
    localparam int NW_F = F / W,
    localparam int HPE = HEADS / A, // heads per attention engine
    localparam int MAX_NBC = NW_F > NW_H ? NW_F : NW_H,
    localparam int LEN_W = $clog2(MAX_LEN + 1),
    localparam int TOK_W = $clog2(MAX_LEN),
    localparam int K_W = $clog2(MAX_K + 1),
    localparam int LAY_W = $clog2(MAX_LAYERS + 1),
    localparam int G_W = G > 1 ? $clog2(G) : 1,
    localparam int WGT_W = 16 + 16 * W * M,  // hp_spmm's weight and row beats
    localparam int ROW_W = 16 + 56 * W,
    localparam int DEST_F = 8 * ((DEST_W + 7) / 8),
    localparam int DESC_W = 96,
    localparam int ATT_PRM_W = 144,
    localparam int PERF_KINDS = 8
) (
    input  logic                    clk,
    input  logic                    rst_n,
    input  logic                    start,
    input  logic [LEN_W-1:0]        cfg_len,
    input  logic [LAY_W-1:0]        cfg_layers,
    input  logic [K_W-1:0]          cfg_k,
    output logic                    busy,
    output logic                    done,
    output logic [32*PERF_KINDS-1:0] perf_cycles,
    // activations
    input  logic [W*8-1:0]          s_axis_in_tdata,
    input  logic                    s_axis_in_tvalid,
    output logic                    s_axis_in_tready,
    /* verilator lint_off UNUSEDSIGNAL */  // framing only: the length is cfg_len
    input  logic                    s_axis_in_tlast,
    /* verilator lint_on UNUSEDSIGNAL */
    output logic [W*8-1:0]          m_axis_out_tdata,
    output logic                    m_axis_out_tvalid,
    input  logic                    m_axis_out_tready,
    output logic                    m_axis_out_tlast,
    // the model
    input  logic [WGT_W-1:0]        s_axis_wgt_tdata,
    input  logic [G_W-1:0]          s_axis_wgt_tdest,
    input  logic                    s_axis_wgt_tvalid,
    output logic                    s_axis_wgt_tready,
    input  logic                    s_axis_wgt_tlast,
    input  logic [ROW_W-1:0]        s_axis_row_tdata,
    input  logic [G_W-1:0]          s_axis_row_tdest,
    input  logic                    s_axis_row_tvalid,
    output logic                    s_axis_row_tready,
    input  logic                    s_axis_row_tlast,
    input  logic [DEST_F-1:0]       s_axis_dest_tdata,
    input  logic [G_W-1:0]          s_axis_dest_tdest,
    input  logic                    s_axis_dest_tvalid,
    output logic                    s_axis_dest_tready,
    input  logic                    s_axis_dest_tlast,
    input  logic [DESC_W-1:0]       s_axis_desc_tdata,
    input  logic [G_W-1:0]          s_axis_desc_tdest,
    input  logic                    s_axis_desc_tvalid,
    output logic                    s_axis_desc_tready,
    input  logic                    s_axis_desc_tlast,
    /* verilator lint_off UNUSEDSIGNAL */  // byte padding
    input  logic [ATT_PRM_W-1:0]    s_axis_attprm_tdata,
    input  logic                    s_axis_attprm_tlast,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic                    s_axis_attprm_tvalid,
    output logic                    s_axis_attprm_tready,
    input  logic [LN_PRM_W-1:0]     s_axis_lnprm_tdata,
    input  logic                    s_axis_lnprm_tvalid,
    output logic                    s_axis_lnprm_tready,
    input  logic                    s_axis_lnprm_tlast,
    input  logic [GELU_PRM_W-1:0]   s_axis_geluprm_tdata,
    input  logic                    s_axis_geluprm_tvalid,
    output logic                    s_axis_geluprm_tready,
    input  logic                    s_axis_geluprm_tlast
);
  localparam int OPS = 4;  // linear operators per layer, the descriptor order
  localparam int MAX_OPS = MAX_LAYERS * OPS;
  localparam int OPI_W = $clog2(MAX_OPS);
  localparam int LANE_W = RES_BITS;  // PE-group output lanes serve int8 and 16-bit results
  localparam int HBUF = MAX_LEN * NW_H;
  localparam int FBUF = MAX_LEN * NW_F;
  localparam int BANK = MAX_LEN * HPE > 1 ? MAX_LEN * HPE : 2;
  localparam int HA_W = $clog2(HBUF);
  localparam int FA_W = $clog2(FBUF);
  localparam int BA_W = $clog2(BANK);
  localparam int CNT_W = $clog2(MAX_LEN * (3 * NW_H > NW_F ? 3 * NW_H : NW_F) + 1);
  localparam int NBC_W = $clog2(MAX_NBC + 1);
  localparam int SG_W = DW > 1 ? $clog2(DW) : 1;
  localparam int HL_W = HPE > 1 ? $clog2(HPE) : 1;
  localparam int BK_W = $clog2(3 * A);
  localparam int HEAD_W = HEADS > 1 ? $clog2(HEADS) : 1;
  localparam int SET_W = $clog2(2 * MAX_LAYERS);
  localparam int GSET_W = MAX_LAYERS > 1 ? $clog2(MAX_LAYERS) : 1;
  // controller states; perf_cycles[32*(s-1) +: 32] counts the cycles of state s
  localparam logic [3:0] S_IDLE = 4'd0, S_IN = 4'd1, S_QKV = 4'd2, S_ATT = 4'd3, S_O = 4'd4,
                         S_LN1 = 4'd5, S_F1 = 4'd6, S_F2 = 4'd7, S_LN2 = 4'd8;
  localparam logic [1:0] OP_QKV = 2'd0, OP_O = 2'd1, OP_F1 = 2'd2, OP_F2 = 2'd3;

  // ---------------------------------------------------------------- controller
  logic [3:0]       state;
  logic [2:0]       perf_i;  // perf counter of the current state
  logic             go;  // first cycle of an operator
  logic [LEN_W-1:0] len;
  logic [LAY_W-1:0] layers, layer;
  logic [K_W-1:0]   k;
  logic             op_finished;
  logic             last_layer;
  logic [31:0]      perf[PERF_KINDS];

  assign last_layer = layer == layers - 1'b1;
  assign perf_i = 3'(state - 1'b1);
  assign busy = state != S_IDLE;
  for (genvar i = 0; i < PERF_KINDS; i++) begin : g_perf
    assign perf_cycles[32*i +: 32] = perf[i];
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= S_IDLE;
      go <= 1'b0;
      done <= 1'b0;
      for (int i = 0; i < PERF_KINDS; i++) perf[i] <= '0;
    end else begin
      go <= 1'b0;
      done <= 1'b0;
      if (state != S_IDLE) perf[perf_i] <= perf[perf_i] + 1;
      case (state)
        S_IDLE: if (start) begin
          len <= cfg_len;
          layers <= cfg_layers;
          k <= cfg_k;
          layer <= '0;
          for (int i = 0; i < PERF_KINDS; i++) perf[i] <= '0;
          state <= S_IN;
          go <= 1'b1;
        end
        default: if (op_finished && !go) begin
          go <= 1'b1;
          case (state)
            S_IN: state <= S_QKV;
            S_QKV: state <= S_ATT;
            S_ATT: state <= S_O;
            S_O: state <= S_LN1;
            S_LN1: state <= S_F1;
            S_F1: state <= S_F2;
            S_F2: state <= S_LN2;
            default: begin  // S_LN2
              if (last_layer) begin
                state <= S_IDLE;
                go <= 1'b0;
                done <= 1'b1;
              end else begin
                layer <= layer + 1'b1;
                state <= S_QKV;
              end
            end
          endcase
        end
      endcase
    end
  end

  // ---------------------------------------------------------------- buffers
  // x: layer input / LN2 output; ctx: attention output; ln1: LN1 output; mid: GELU
  // output; res: attention-output and FFN2 results (RES_BITS lanes).
  logic             x_we, x_re, ctx_we, ctx_re, ln1_we, ln1_re, mid_we, mid_re, res_we, res_re;
  logic [HA_W-1:0]  x_wa, x_ra, ctx_wa, ctx_ra, ln1_wa, ln1_ra, res_wa, res_ra;
  logic [FA_W-1:0]  mid_wa, mid_ra;
  logic [W*8-1:0]   x_wd, x_rd, ctx_wd, ctx_rd, ln1_wd, ln1_rd, mid_wd, mid_rd;
  logic [W*LANE_W-1:0] res_wd, res_rd;

  sdp_ram #(.WIDTH(W*8), .DEPTH(HBUF)) u_x (
      .clk, .we(x_we), .wseg(1'b1), .waddr(x_wa), .wdata(x_wd), .re(x_re), .raddr(x_ra),
      .rdata(x_rd));
  sdp_ram #(.WIDTH(W*8), .DEPTH(HBUF)) u_ctx (
      .clk, .we(ctx_we), .wseg(1'b1), .waddr(ctx_wa), .wdata(ctx_wd), .re(ctx_re),
      .raddr(ctx_ra), .rdata(ctx_rd));
  sdp_ram #(.WIDTH(W*8), .DEPTH(HBUF)) u_ln1 (
      .clk, .we(ln1_we), .wseg(1'b1), .waddr(ln1_wa), .wdata(ln1_wd), .re(ln1_re),
      .raddr(ln1_ra), .rdata(ln1_rd));
  sdp_ram #(.WIDTH(W*8), .DEPTH(FBUF)) u_mid (
      .clk, .we(mid_we), .wseg(1'b1), .waddr(mid_wa), .wdata(mid_wd), .re(mid_re),
      .raddr(mid_ra), .rdata(mid_rd));
  sdp_ram #(.WIDTH(W*LANE_W), .DEPTH(HBUF)) u_res (
      .clk, .we(res_we), .wseg(1'b1), .waddr(res_wa), .wdata(res_wd), .re(res_re),
      .raddr(res_ra), .rdata(res_rd));

  // ---------------------------------------------------------------- input load
  logic [CNT_W-1:0] in_count;
  logic [CNT_W-1:0] h_words;  // L * H/W
  assign h_words = CNT_W'(32'(len) * NW_H);
  assign s_axis_in_tready = state == S_IN && !go && in_count != h_words;

  always_ff @(posedge clk) begin
    if (go) in_count <= '0;
    else if (s_axis_in_tvalid && s_axis_in_tready) in_count <= in_count + 1'b1;
  end

  // ---------------------------------------------------------------- linear operators
  logic             lin_op, lin_narrow;
  logic [1:0]       lin_kind;
  logic [NBC_W-1:0] lin_nbc;
  logic [CNT_W-1:0] lin_rows_words;  // outputs the operator writes: L * its block-rows
  logic             lin_re;
  logic [FA_W-1:0]  lin_ra;
  logic [W*8-1:0]   lin_rd, act_tdata;
  logic             act_tvalid, act_tlast_unused, act_fire, act_tile_last, lin_busy_unused;
  logic [NBC_W-1:0] a_w;
  logic [LEN_W-1:0] a_tok;
  logic [$clog2(T)-1:0] a_tt;
  logic [G-1:0]     g_want, g_ready, g_armed, g_done, g_valid, g_ready_out;
  logic [W*LANE_W-1:0] g_data[G];
  logic [TOK_W+DEST_W-1:0] g_user[G];

  assign lin_op = state == S_QKV || state == S_O || state == S_F1 || state == S_F2;
  always_comb begin
    case (state)
      S_QKV: lin_kind = OP_QKV;
      S_O: lin_kind = OP_O;
      S_F1: lin_kind = OP_F1;
      default: lin_kind = OP_F2;
    endcase
  end
  assign lin_narrow = state == S_QKV;
  assign lin_nbc = state == S_F2 ? NBC_W'(NW_F) : NBC_W'(NW_H);
  always_comb begin
    case (state)
      S_QKV: lin_rows_words = CNT_W'(32'(len) * 3 * NW_H);
      S_F1: lin_rows_words = CNT_W'(32'(len) * NW_F);
      default: lin_rows_words = h_words;
    endcase
    case (state)
      S_QKV: lin_rd = x_rd;
      S_O: lin_rd = ctx_rd;
      S_F1: lin_rd = ln1_rd;
      default: lin_rd = mid_rd;
    endcase
  end

  buf_reader #(.WIDTH(W*8), .AW(FA_W), .CNT_W(CNT_W)) u_lin_rd (
      .clk, .rst_n, .start(go && lin_op), .cfg_base('0), .cfg_stride(FA_W'(1)),
      .cfg_count(state == S_F2 ? CNT_W'(32'(len) * NW_F) : h_words), .busy(lin_busy_unused),
      .re(lin_re), .raddr(lin_ra), .rdata(lin_rd),
      .m_axis_tdata(act_tdata), .m_axis_tvalid(act_tvalid), .m_axis_tready(act_fire),
      .m_axis_tlast(act_tlast_unused));

  // broadcast: a beat moves when every group that wants it is ready
  assign act_fire = lin_op && act_tvalid && &g_armed && &(~g_want | g_ready);
  assign act_tile_last = a_w == lin_nbc - 1'b1 && (32'(a_tt) == T - 1 || a_tok == len - 1'b1);

  always_ff @(posedge clk) begin
    if (go) begin
      a_w <= '0;
      a_tt <= '0;
      a_tok <= '0;
    end else if (act_fire) begin
      if (a_w != lin_nbc - 1'b1) a_w <= a_w + 1'b1;
      else begin
        a_w <= '0;
        a_tok <= a_tok + 1'b1;
        a_tt <= 32'(a_tt) == T - 1 ? '0 : a_tt + 1'b1;
      end
    end
  end

  logic [3:0] load_ready[G];  // always ready while idle: the layer's tready says so

  for (genvar g = 0; g < G; g++) begin : g_group
    spmm_group #(.BO(W), .BI(W), .M(M), .T(T), .MAX_NBR(G_MAX_NBR), .MAX_NBC(MAX_NBC),
                 .MAX_NNZB(G_MAX_NNZB), .MAX_LEN(MAX_LEN), .MAX_OPS(MAX_OPS),
                 .DEST_W(DEST_W), .OUT_BITS(LANE_W)) u_group (
        .clk, .rst_n,
        .op_start(go && lin_op), .op_index(OPI_W'(32'(layer) * OPS + 32'(lin_kind))),
        .cfg_len(len), .cfg_nbc(lin_nbc), .cfg_narrow(lin_narrow),
        .op_armed(g_armed[g]), .op_done(g_done[g]),
        .act_tdata, .act_fire, .act_tile_last, .act_want(g_want[g]), .act_ready(g_ready[g]),
        .m_axis_tdata(g_data[g]), .m_axis_tuser(g_user[g]), .m_axis_tvalid(g_valid[g]),
        .m_axis_tready(g_ready_out[g]),
        .s_axis_wgt_tdata, .s_axis_wgt_tvalid(s_axis_wgt_tvalid && s_axis_wgt_tdest == G_W'(g)),
        .s_axis_wgt_tready(load_ready[g][0]), .s_axis_wgt_tlast,
        .s_axis_row_tdata, .s_axis_row_tvalid(s_axis_row_tvalid && s_axis_row_tdest == G_W'(g)),
        .s_axis_row_tready(load_ready[g][1]), .s_axis_row_tlast,
        .s_axis_dest_tdata,
        .s_axis_dest_tvalid(s_axis_dest_tvalid && s_axis_dest_tdest == G_W'(g)),
        .s_axis_dest_tready(load_ready[g][2]), .s_axis_dest_tlast,
        .s_axis_desc_tdata,
        .s_axis_desc_tvalid(s_axis_desc_tvalid && s_axis_desc_tdest == G_W'(g)),
        .s_axis_desc_tready(load_ready[g][3]), .s_axis_desc_tlast
    );
  end
  // the groups take their model while idle, one beat per cycle
  assign s_axis_wgt_tready = state == S_IDLE;
  assign s_axis_row_tready = state == S_IDLE;
  assign s_axis_dest_tready = state == S_IDLE;
  assign s_axis_desc_tready = state == S_IDLE;

  // output arbiter: round robin over the groups, one beat per cycle
  logic [G_W-1:0]   rr, pick;
  logic             pick_valid, sink_ready, wb_fire;
  logic [W*LANE_W-1:0] wb_data;
  logic [TOK_W-1:0] wb_tok;
  logic [DEST_W-1:0] wb_dest;

  always_comb begin
    pick = rr;
    pick_valid = 1'b0;
    for (int i = G - 1; i >= 0; i--) begin
      /* verilator lint_off UNUSEDSIGNAL */
      int j;
      /* verilator lint_on UNUSEDSIGNAL */
      j = 32'(rr) + i >= G ? 32'(rr) + i - G : 32'(rr) + i;
      if (g_valid[j]) begin
        pick = G_W'(j);
        pick_valid = 1'b1;
      end
    end
  end
  assign wb_fire = pick_valid && sink_ready;
  assign {wb_tok, wb_dest} = g_user[pick];
  assign wb_data = g_data[pick];
  for (genvar g = 0; g < G; g++) begin : g_grant
    assign g_ready_out[g] = wb_fire && pick == G_W'(g);
  end
  always_ff @(posedge clk) begin
    if (!rst_n) rr <= '0;
    else if (wb_fire) rr <= 32'(pick) == G - 1 ? '0 : pick + 1'b1;
  end

  // int8 results sit sign-extended in the low byte of each lane
  logic [W*8-1:0] wb_bytes;
  for (genvar i = 0; i < W; i++) begin : g_bytes
    assign wb_bytes[8*i +: 8] = wb_data[LANE_W*i +: 8];
  end

  // QKV -> the engines' q/k/v banks; O, F2 -> res; F1 -> GELU -> mid
  logic [BK_W-1:0] wb_bank;
  logic [HL_W-1:0] wb_hl;
  logic [SG_W-1:0] wb_seg;
  assign wb_bank = wb_dest[HL_W+SG_W +: BK_W];
  assign wb_hl = HPE > 1 ? wb_dest[SG_W +: HL_W] : '0;
  assign wb_seg = DW > 1 ? wb_dest[0 +: SG_W] : '0;

  logic             gelu_in_ready, gelu_out_valid, gelu_out_last_unused;
  logic [W*8-1:0]   gelu_out_data;
  logic [FA_W-1:0]  gelu_out_addr;
  logic [DEST_W-1:0] gelu_out_dest_unused;
  assign sink_ready = state != S_F1 || gelu_in_ready;
  logic [FA_W-1:0]  gelu_in_addr;  // where the beat's GELU result goes in mid
  assign gelu_in_addr = FA_W'(32'(wb_tok) * NW_F + 32'(wb_dest));

  logic             bank_we[3*A];
  logic [BA_W-1:0]  bank_wa;
  logic [DW-1:0]    bank_wseg;
  logic [D*8-1:0]   bank_wd;
  logic [CNT_W-1:0] wb_count;

  always_ff @(posedge clk) begin
    for (int b = 0; b < 3 * A; b++) bank_we[b] <= 1'b0;
    res_we <= 1'b0;
    if (wb_fire && state == S_QKV) begin
      for (int b = 0; b < 3 * A; b++) bank_we[b] <= 32'(wb_bank) == b;
      bank_wa <= BA_W'(32'(wb_tok) * HPE + 32'(wb_hl));
      bank_wseg <= DW'(1) << wb_seg;
      bank_wd <= {DW{wb_bytes}};
    end
    if (wb_fire && (state == S_O || state == S_F2)) begin
      res_we <= 1'b1;
      res_wa <= HA_W'(32'(wb_tok) * NW_H + 32'(wb_dest));
      res_wd <= wb_data;
    end
    if (go) wb_count <= '0;
    else if ((wb_fire && state != S_F1) || (mid_we && state == S_F1)) wb_count <= wb_count + 1'b1;
  end

  gelu_unit #(.LANES(W), .CHANNELS(F), .MAX_SETS(MAX_LAYERS), .USER_W(FA_W),
              .DEST_W(DEST_W)) u_gelu (
      .clk, .rst_n, .cfg_set(GSET_W'(layer)),
      .s_axis_prm_tdata(s_axis_geluprm_tdata), .s_axis_prm_tvalid(s_axis_geluprm_tvalid),
      .s_axis_prm_tready(s_axis_geluprm_tready), .s_axis_prm_tlast(s_axis_geluprm_tlast),
      .s_axis_tdata(wb_data), .s_axis_tvalid(pick_valid && state == S_F1),
      .s_axis_tready(gelu_in_ready), .s_axis_tlast(1'b0),
      .s_axis_tuser(gelu_in_addr), .s_axis_tdest(wb_dest),
      .m_axis_out_tdata(gelu_out_data), .m_axis_out_tvalid(gelu_out_valid),
      .m_axis_out_tready(1'b1), .m_axis_out_tlast(gelu_out_last_unused),
      .m_axis_out_tuser(gelu_out_addr), .m_axis_out_tdest(gelu_out_dest_unused)
  );
  assign mid_we = gelu_out_valid;
  assign mid_wa = gelu_out_addr;
  assign mid_wd = gelu_out_data;

  // ---------------------------------------------------------------- attention
  logic [15:0] att_score_mult[MAX_LAYERS], att_out_mult[MAX_LAYERS];
  logic [7:0]  att_score_shift[MAX_LAYERS], att_out_shift[MAX_LAYERS];
  logic [31:0] att_q_ln2[MAX_LAYERS], att_q_b[MAX_LAYERS], att_q_c[MAX_LAYERS];
  logic [LAY_W-1:0] attprm_wp;
  assign s_axis_attprm_tready = state == S_IDLE;
  always_ff @(posedge clk) begin
    if (!rst_n) attprm_wp <= '0;
    else if (s_axis_attprm_tvalid && s_axis_attprm_tready) begin
      att_score_mult[attprm_wp[GSET_W-1:0]] <= s_axis_attprm_tdata[15:0];
      att_score_shift[attprm_wp[GSET_W-1:0]] <= s_axis_attprm_tdata[23:16];
      att_q_ln2[attprm_wp[GSET_W-1:0]] <= s_axis_attprm_tdata[55:24];
      att_q_b[attprm_wp[GSET_W-1:0]] <= s_axis_attprm_tdata[87:56];
      att_q_c[attprm_wp[GSET_W-1:0]] <= s_axis_attprm_tdata[119:88];
      att_out_mult[attprm_wp[GSET_W-1:0]] <= s_axis_attprm_tdata[135:120];
      att_out_shift[attprm_wp[GSET_W-1:0]] <= s_axis_attprm_tdata[143:136];
      attprm_wp <= s_axis_attprm_tlast ? '0 : attprm_wp + 1'b1;
    end
  end

  logic [A-1:0]     e_valid, e_ready, e_fin;
  logic [D*8-1:0]   e_data[A];
  logic [TOK_W-1:0] e_tok[A];
  logic [HEAD_W-1:0] e_head[A];

  for (genvar a = 0; a < A; a++) begin : g_att
    logic [D*8-1:0]  qr, kr, vr, qd, kd, vd;
    logic            q_re, k_re, v_re, qv, kv, vv, qy, ky, vy, ql, kl, vl;
    logic [BA_W-1:0] q_ra, k_ra, v_ra;
    logic [HL_W-1:0] hl;
    logic            eng_start, eng_busy, eng_done, running;
    logic [TOK_W-1:0] tok;
    logic [31:0]     perf_est_unused, perf_exact_unused;
    logic [MAX_K*TOK_W-1:0] tuser_unused;
    logic            out_last_unused;

    sdp_ram #(.WIDTH(D*8), .DEPTH(BANK), .SEGS(DW)) u_qb (
        .clk, .we(bank_we[a]), .wseg(bank_wseg), .waddr(bank_wa), .wdata(bank_wd),
        .re(q_re), .raddr(q_ra), .rdata(qr));
    sdp_ram #(.WIDTH(D*8), .DEPTH(BANK), .SEGS(DW)) u_kb (
        .clk, .we(bank_we[A + a]), .wseg(bank_wseg), .waddr(bank_wa), .wdata(bank_wd),
        .re(k_re), .raddr(k_ra), .rdata(kr));
    sdp_ram #(.WIDTH(D*8), .DEPTH(BANK), .SEGS(DW)) u_vb (
        .clk, .we(bank_we[2 * A + a]), .wseg(bank_wseg), .waddr(bank_wa), .wdata(bank_wd),
        .re(v_re), .raddr(v_ra), .rdata(vr));

    for (genvar r = 0; r < 3; r++) begin : g_rd
      // r: 0 q, 1 k, 2 v; each reads head hl's rows: hl, hl + HPE, ...
      logic            re_r, v_r, y_r, l_r;
      /* verilator lint_off UNUSEDSIGNAL */
      logic            busy_r;
      /* verilator lint_on UNUSEDSIGNAL */
      logic [BA_W-1:0] ra_r;
      logic [D*8-1:0]  rd_r, d_r;
      assign rd_r = r == 0 ? qr : (r == 1 ? kr : vr);
      buf_reader #(.WIDTH(D*8), .AW(BA_W), .CNT_W(LEN_W)) u_rd (
          .clk, .rst_n, .start(eng_start), .cfg_base(BA_W'(hl)), .cfg_stride(BA_W'(HPE)),
          .cfg_count(len), .busy(busy_r), .re(re_r), .raddr(ra_r), .rdata(rd_r),
          .m_axis_tdata(d_r), .m_axis_tvalid(v_r), .m_axis_tready(y_r), .m_axis_tlast(l_r));
      if (r == 0) begin : g_q
        assign q_re = re_r; assign q_ra = ra_r; assign qd = d_r; assign qv = v_r;
        assign y_r = qy; assign ql = l_r;
      end else if (r == 1) begin : g_k
        assign k_re = re_r; assign k_ra = ra_r; assign kd = d_r; assign kv = v_r;
        assign y_r = ky; assign kl = l_r;
      end else begin : g_v
        assign v_re = re_r; assign v_ra = ra_r; assign vd = d_r; assign vv = v_r;
        assign y_r = vy; assign vl = l_r;
      end
    end

    sparse_attention #(.D(D), .MAX_LEN(MAX_LEN), .MAX_K(MAX_K), .Q4_MAX(Q4_MAX),
                       .SCORE_BITS(SCORE_BITS), .PROB_BITS(PROB_BITS),
                       .RECIP_BITS(RECIP_BITS), .EXP_MAX_SHIFT(EXP_MAX_SHIFT),
                       .LUT_FILE(LUT_FILE)) u_eng (
        .clk, .rst_n, .start(eng_start), .cfg_len(len), .cfg_k(k),
        .cfg_score_mult(att_score_mult[layer[GSET_W-1:0]][14:0]),
        .cfg_score_shift(att_score_shift[layer[GSET_W-1:0]][5:0]),
        .cfg_exp_q_ln2(att_q_ln2[layer[GSET_W-1:0]]), .cfg_exp_q_b(att_q_b[layer[GSET_W-1:0]]),
        .cfg_exp_q_c(att_q_c[layer[GSET_W-1:0]]),
        .cfg_out_mult(att_out_mult[layer[GSET_W-1:0]][14:0]),
        .cfg_out_shift(att_out_shift[layer[GSET_W-1:0]][5:0]),
        .busy(eng_busy), .done(eng_done),
        .perf_estimate_cycles(perf_est_unused), .perf_exact_cycles(perf_exact_unused),
        .s_axis_k_tdata(kd), .s_axis_k_tvalid(kv), .s_axis_k_tready(ky), .s_axis_k_tlast(kl),
        .s_axis_v_tdata(vd), .s_axis_v_tvalid(vv), .s_axis_v_tready(vy), .s_axis_v_tlast(vl),
        .s_axis_q_tdata(qd), .s_axis_q_tvalid(qv), .s_axis_q_tready(qy), .s_axis_q_tlast(ql),
        .m_axis_out_tdata(e_data[a]), .m_axis_out_tuser(tuser_unused),
        .m_axis_out_tvalid(e_valid[a]), .m_axis_out_tready(e_ready[a]),
        .m_axis_out_tlast(out_last_unused)
    );

    // one head after another: hl = 0 .. HPE-1, then finished until the next ATT
    always_ff @(posedge clk) begin
      eng_start <= 1'b0;
      if (!rst_n) begin
        running <= 1'b0;
        e_fin[a] <= 1'b0;
      end else if (go && state == S_ATT) begin
        hl <= '0;
        tok <= '0;
        running <= 1'b1;
        eng_start <= 1'b1;
        e_fin[a] <= 1'b0;
      end else if (running && eng_done) begin
        tok <= '0;
        if (32'(hl) == HPE - 1) begin
          running <= 1'b0;
          e_fin[a] <= 1'b1;
        end else begin
          hl <= hl + 1'b1;
          eng_start <= 1'b1;
        end
      end else if (e_valid[a] && e_ready[a]) begin
        tok <= tok + 1'b1;
      end
    end
    assign e_tok[a] = tok;
    assign e_head[a] = HEAD_W'(32'(hl) * A + a);

    /* verilator lint_off UNUSEDSIGNAL */
    logic unused;
    assign unused = eng_busy ^ ^perf_est_unused ^ ^perf_exact_unused ^ ^tuser_unused
                    ^ out_last_unused;
    /* verilator lint_on UNUSEDSIGNAL */
  end

  // context writer: takes one engine's row, writes its DW words into ctx
  logic             cw_busy;
  logic [D*8-1:0]   cw_row;
  logic [HA_W-1:0]  cw_addr;
  logic [SG_W-1:0]  cw_seg;
  logic [$clog2(A > 1 ? A : 2)-1:0] cw_rr, cw_pick;
  logic             cw_pick_valid, cw_take;
  logic [CNT_W-1:0] ctx_count;

  always_comb begin
    cw_pick = cw_rr;
    cw_pick_valid = 1'b0;
    for (int i = A - 1; i >= 0; i--) begin
      /* verilator lint_off UNUSEDSIGNAL */
      int j;
      /* verilator lint_on UNUSEDSIGNAL */
      j = 32'(cw_rr) + i >= A ? 32'(cw_rr) + i - A : 32'(cw_rr) + i;
      if (e_valid[j]) begin
        cw_pick = j[$bits(cw_pick)-1:0];
        cw_pick_valid = 1'b1;
      end
    end
  end
  assign cw_take = !cw_busy && cw_pick_valid && state == S_ATT;
  for (genvar a = 0; a < A; a++) begin : g_att_ready
    assign e_ready[a] = cw_take && 32'(cw_pick) == a;
  end
  assign ctx_we = cw_busy;
  assign ctx_wa = cw_addr;
  assign ctx_wd = cw_row[W*8*cw_seg +: W*8];

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      cw_busy <= 1'b0;
      cw_rr <= '0;
    end else begin
      if (cw_take) begin
        cw_busy <= 1'b1;
        cw_row <= e_data[cw_pick];
        cw_addr <= HA_W'(32'(e_tok[cw_pick]) * NW_H + 32'(e_head[cw_pick]) * DW);
        cw_seg <= '0;
        cw_rr <= 32'(cw_pick) == A - 1 ? '0 : cw_pick + 1'b1;
      end else if (cw_busy) begin
        cw_addr <= cw_addr + 1'b1;
        cw_seg <= cw_seg + 1'b1;
        if (32'(cw_seg) == DW - 1) cw_busy <= 1'b0;
      end
    end
    if (go) ctx_count <= '0;
    else if (ctx_we) ctx_count <= ctx_count + 1'b1;
  end

  // ---------------------------------------------------------------- LayerNorm
  logic             ln_op;
  logic             br_re, sk_re, br_v, sk_v, br_y, sk_y, br_l_unused, sk_l_unused;
  logic [HA_W-1:0]  br_ra, sk_ra;
  logic [W*LANE_W-1:0] br_d;
  logic [W*8-1:0]   sk_rd, sk_d, ln_out;
  logic             ln_out_v, ln_out_y, ln_out_l_unused, br_busy_unused, sk_busy_unused;
  logic [$clog2(NW_H + 1)-1:0] br_w, sk_w;
  logic [CNT_W-1:0] ln_count;

  assign ln_op = state == S_LN1 || state == S_LN2;
  assign sk_rd = state == S_LN1 ? x_rd : ln1_rd;

  buf_reader #(.WIDTH(W*LANE_W), .AW(HA_W), .CNT_W(CNT_W)) u_br_rd (
      .clk, .rst_n, .start(go && ln_op), .cfg_base('0), .cfg_stride(HA_W'(1)),
      .cfg_count(h_words), .busy(br_busy_unused), .re(br_re), .raddr(br_ra), .rdata(res_rd),
      .m_axis_tdata(br_d), .m_axis_tvalid(br_v), .m_axis_tready(br_y),
      .m_axis_tlast(br_l_unused));
  buf_reader #(.WIDTH(W*8), .AW(HA_W), .CNT_W(CNT_W)) u_sk_rd (
      .clk, .rst_n, .start(go && ln_op), .cfg_base('0), .cfg_stride(HA_W'(1)),
      .cfg_count(h_words), .busy(sk_busy_unused), .re(sk_re), .raddr(sk_ra), .rdata(sk_rd),
      .m_axis_tdata(sk_d), .m_axis_tvalid(sk_v), .m_axis_tready(sk_y),
      .m_axis_tlast(sk_l_unused));

  always_ff @(posedge clk) begin
    if (go) begin
      br_w <= '0;
      sk_w <= '0;
    end else begin
      if (br_v && br_y) br_w <= 32'(br_w) == NW_H - 1 ? '0 : br_w + 1'b1;
      if (sk_v && sk_y) sk_w <= 32'(sk_w) == NW_H - 1 ? '0 : sk_w + 1'b1;
    end
  end

  residual_layernorm #(.LANES(W), .N(H), .MAX_SETS(2 * MAX_LAYERS), .RES_BITS(RES_BITS),
                       .MEAN_MULT(LN_MEAN_MULT), .MEAN_SHIFT(LN_MEAN_SHIFT)) u_ln (
      .clk, .rst_n, .cfg_set(SET_W'(32'(layer) * 2 + (state == S_LN2 ? 1 : 0))),
      .s_axis_prm_tdata(s_axis_lnprm_tdata), .s_axis_prm_tvalid(s_axis_lnprm_tvalid),
      .s_axis_prm_tready(s_axis_lnprm_tready), .s_axis_prm_tlast(s_axis_lnprm_tlast),
      .s_axis_branch_tdata(br_d), .s_axis_branch_tvalid(br_v && ln_op),
      .s_axis_branch_tready(br_y), .s_axis_branch_tlast(32'(br_w) == NW_H - 1),
      .s_axis_skip_tdata(sk_d), .s_axis_skip_tvalid(sk_v && ln_op),
      .s_axis_skip_tready(sk_y), .s_axis_skip_tlast(32'(sk_w) == NW_H - 1),
      .m_axis_out_tdata(ln_out), .m_axis_out_tvalid(ln_out_v), .m_axis_out_tready(ln_out_y),
      .m_axis_out_tlast(ln_out_l_unused)
  );

  // LN2 of the last layer also streams out; the buffer write waits for the consumer
  logic out_stream;
  assign out_stream = state == S_LN2 && last_layer;
  assign ln_out_y = !out_stream || m_axis_out_tready;
  assign m_axis_out_tvalid = out_stream && ln_out_v;
  assign m_axis_out_tdata = ln_out;
  assign m_axis_out_tlast = ln_count == h_words - 1'b1;

  always_ff @(posedge clk) begin
    if (go) ln_count <= '0;
    else if (ln_out_v && ln_out_y) ln_count <= ln_count + 1'b1;
  end

  // ---------------------------------------------------------------- buffer ports
  always_comb begin
    x_we = 1'b0;
    x_wa = '0;
    x_wd = s_axis_in_tdata;
    ln1_we = 1'b0;
    ln1_wa = ln_count[HA_W-1:0];
    ln1_wd = ln_out;
    if (state == S_IN) begin
      x_we = s_axis_in_tvalid && s_axis_in_tready;
      x_wa = in_count[HA_W-1:0];
    end else if (state == S_LN2) begin
      x_we = ln_out_v && ln_out_y;
      x_wa = ln_count[HA_W-1:0];
      x_wd = ln_out;
    end
    if (state == S_LN1) ln1_we = ln_out_v && ln_out_y;
    // reads
    x_re = state == S_QKV ? lin_re : sk_re;
    x_ra = state == S_QKV ? lin_ra[HA_W-1:0] : sk_ra;
    ln1_re = state == S_F1 ? lin_re : sk_re;
    ln1_ra = state == S_F1 ? lin_ra[HA_W-1:0] : sk_ra;
    ctx_re = lin_re;
    ctx_ra = lin_ra[HA_W-1:0];
    mid_re = lin_re;
    mid_ra = lin_ra;
    res_re = br_re;
    res_ra = br_ra;
  end

  // ---------------------------------------------------------------- operator completion
  always_comb begin
    case (state)
      S_IN: op_finished = in_count == h_words;
      S_ATT: op_finished = ctx_count == h_words;
      S_LN1, S_LN2: op_finished = ln_count == h_words;
      default: op_finished = wb_count == lin_rows_words && &g_done;
    endcase
  end

  /* verilator lint_off UNUSEDSIGNAL */
  logic unused;
  assign unused = act_tlast_unused ^ gelu_out_last_unused ^ ^gelu_out_dest_unused
                  ^ ^e_fin ^ ln_out_l_unused ^ br_busy_unused ^ sk_busy_unused
                  ^ lin_busy_unused;
  for (genvar g = 0; g < G; g++) begin : g_unused
    logic unused_ready;
    assign unused_ready = ^load_ready[g];
  end
  /* verilator lint_on UNUSEDSIGNAL */
endmodule
