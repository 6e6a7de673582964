// One PE group of the encoder-layer accelerator: an hp_spmm engine, the descriptors that
// say which of its stored block-rows each operator runs, and the tags that tell the layer
// where each output beat belongs.
//
// The group's weight and row memories hold its share of every linear of every layer,
// loaded once per model (s_axis_wgt, s_axis_row, s_axis_dest, s_axis_desc; each stream's
// tlast rewinds its write pointer). Operator `op_index` (layer * OPS_PER_LAYER + op) runs
// descriptor op_index:
//   desc beat  [31:0] rbase  first of its rows in the row memory
//              [63:32] wbase  first of its kept blocks in the weight memory
//              [79:64] nrows  block-rows it computes (0: the group idles this operator)
//              [87:80] phase, [95:88] nphase   token-tile split: it takes the tiles k with
//                             k mod nphase == phase (nphase 1: every tile)
//   dest beat  [DEST_W-1:0]  per stored row, where its outputs go (the layer decodes it)
// Activations arrive by broadcast: the layer offers each beat (one token's BI activations
// of one block column, token-major) to every group; `act_want` says this group takes it
// (its phase owns the beat's tile), `act_ready` that it can; the beat moves on `act_fire`
// when every group that wants it is ready. The group counts its tiles' tokens before it
// starts (one cycle per tile of the sequence).
// Outputs: one beat per (tile, row, token) as hp_spmm makes them, tagged in tuser with
// {token, dest}.
module spmm_group #(
    parameter int BO = 4,
    parameter int BI = 8,
    parameter int M = 2,
    parameter int T = 4,
    parameter int MAX_NBR = 8,
    parameter int MAX_NBC = 8,
    parameter int MAX_NNZB = 64,
    parameter int MAX_LEN = 128,
    parameter int MAX_OPS = 8,  // descriptors: layers * OPS_PER_LAYER
    parameter int DEST_W = 16,
    parameter int OUT_BITS = 16,
    localparam int LEN_W = $clog2(MAX_LEN + 1),
    localparam int TOK_W = $clog2(MAX_LEN),
    localparam int NBC_W = $clog2(MAX_NBC + 1),
    localparam int NBR_W = $clog2(MAX_NBR + 1),
    localparam int OPI_W = $clog2(MAX_OPS),
    localparam int RB_W = $clog2(MAX_NBR),
    localparam int WB_W = $clog2(MAX_NNZB),
    localparam int DESC_W = 96,
    localparam int DEST_F = 8 * ((DEST_W + 7) / 8)  // the dest beat is whole bytes
) (
    input  logic                   clk,
    input  logic                   rst_n,
    // operator control
    input  logic                   op_start,
    input  logic [OPI_W-1:0]       op_index,
    input  logic [LEN_W-1:0]       cfg_len,
    input  logic [NBC_W-1:0]       cfg_nbc,
    input  logic                   cfg_narrow,
    output logic                   op_armed,  // descriptor latched: act_want is valid
    output logic                   op_done,
    // activation broadcast
    input  logic [BI*8-1:0]        act_tdata,
    input  logic                   act_fire,
    input  logic                   act_tile_last,
    output logic                   act_want,
    output logic                   act_ready,
    // tagged outputs
    output logic [BO*OUT_BITS-1:0] m_axis_tdata,
    output logic [TOK_W+DEST_W-1:0] m_axis_tuser,  // {token, dest}
    output logic                   m_axis_tvalid,
    input  logic                   m_axis_tready,
    // model load
    input  logic [16+16*BO*M-1:0]  s_axis_wgt_tdata,
    input  logic                   s_axis_wgt_tvalid,
    output logic                   s_axis_wgt_tready,
    input  logic                   s_axis_wgt_tlast,
    input  logic [16+56*BO-1:0]    s_axis_row_tdata,
    input  logic                   s_axis_row_tvalid,
    output logic                   s_axis_row_tready,
    input  logic                   s_axis_row_tlast,
    /* verilator lint_off UNUSEDSIGNAL */  // byte padding of the dest and desc beats
    input  logic [DEST_F-1:0]      s_axis_dest_tdata,
    input  logic [DESC_W-1:0]      s_axis_desc_tdata,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic                   s_axis_dest_tvalid,
    output logic                   s_axis_dest_tready,
    input  logic                   s_axis_dest_tlast,
    input  logic                   s_axis_desc_tvalid,
    output logic                   s_axis_desc_tready,
    input  logic                   s_axis_desc_tlast
);
  localparam logic [LEN_W-1:0] T_LEN = LEN_W'(T);
  localparam logic [1:0] S_IDLE = 2'd0, S_COUNT = 2'd1, S_RUN = 2'd2, S_DONE = 2'd3;

  // ---------------------------------------------------------------- descriptors, dests
  logic [DESC_W-1:0] desc_mem[MAX_OPS];
  logic [DEST_W-1:0] dest_mem[MAX_NBR];
  logic [OPI_W-1:0]  desc_wp;
  logic [RB_W-1:0]   dest_wp;

  assign s_axis_desc_tready = 1'b1;
  assign s_axis_dest_tready = 1'b1;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      desc_wp <= '0;
      dest_wp <= '0;
    end else begin
      if (s_axis_desc_tvalid) begin
        desc_mem[desc_wp] <= s_axis_desc_tdata;
        desc_wp <= s_axis_desc_tlast ? '0 : desc_wp + 1'b1;
      end
      if (s_axis_dest_tvalid) begin
        dest_mem[dest_wp] <= s_axis_dest_tdata[DEST_W-1:0];
        dest_wp <= s_axis_dest_tlast ? '0 : dest_wp + 1'b1;
      end
    end
  end

  // ---------------------------------------------------------------- operator state
  logic [1:0]       state;
  logic [RB_W-1:0]  rbase;
  logic [WB_W-1:0]  wbase;
  logic [NBR_W-1:0] nrows;  // <= MAX_NBR rows (the descriptor field is 16 bits)
  logic [7:0]       phase, nphase, cur_phase, cnt_phase;
  logic [LEN_W-1:0] len, cnt_left, own_len;
  logic             spmm_start, spmm_busy, spmm_done;

  function automatic logic [LEN_W-1:0] tile_of(input logic [LEN_W-1:0] left);
    return left > T_LEN ? T_LEN : left;
  endfunction

  assign op_armed = state != S_IDLE;
  assign op_done = state == S_DONE;
  assign act_want = state != S_IDLE && nrows != '0 && cur_phase == phase;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= S_IDLE;
      spmm_start <= 1'b0;
    end else begin
      spmm_start <= 1'b0;
      if (op_start) begin
        rbase <= RB_W'(desc_mem[op_index][31:0]);
        wbase <= WB_W'(desc_mem[op_index][63:32]);
        nrows <= NBR_W'(desc_mem[op_index][79:64]);
        phase <= desc_mem[op_index][87:80];
        nphase <= desc_mem[op_index][95:88];
        len <= cfg_len;
        cnt_left <= cfg_len;
        cnt_phase <= '0;
        cur_phase <= '0;
        own_len <= '0;
        state <= S_COUNT;
      end else begin
        if (act_fire && act_tile_last) cur_phase <= cur_phase + 1'b1 == nphase ? '0 : cur_phase + 1'b1;
        case (state)
          S_COUNT: begin  // tokens of the tiles this group owns
            if (cnt_left == '0) begin
              if (own_len == '0 || nrows == '0) state <= S_DONE;
              else begin
                spmm_start <= 1'b1;
                state <= S_RUN;
              end
            end else begin
              if (cnt_phase == phase) own_len <= own_len + tile_of(cnt_left);
              cnt_left <= cnt_left - tile_of(cnt_left);
              cnt_phase <= cnt_phase + 1'b1 == nphase ? '0 : cnt_phase + 1'b1;
            end
          end
          S_RUN: if (spmm_done) state <= S_DONE;
          default: ;
        endcase
      end
    end
  end

  // ---------------------------------------------------------------- the engine
  logic [BO*OUT_BITS-1:0] out_tdata;
  logic                   out_tvalid, out_tlast;

  hp_spmm #(.BO(BO), .BI(BI), .M(M), .T(T), .MAX_NBR(MAX_NBR), .MAX_NBC(MAX_NBC),
            .MAX_NNZB(MAX_NNZB), .MAX_LEN(MAX_LEN), .OUT_BITS(OUT_BITS)) u_spmm (
      .clk, .rst_n,
      .start(spmm_start), .cfg_len(own_len), .cfg_nbr(nrows), .cfg_nbc,
      .cfg_rbase(rbase), .cfg_wbase(wbase), .cfg_narrow,
      .busy(spmm_busy), .done(spmm_done),
      .s_axis_wgt_tdata, .s_axis_wgt_tvalid, .s_axis_wgt_tready, .s_axis_wgt_tlast,
      .s_axis_row_tdata, .s_axis_row_tvalid, .s_axis_row_tready, .s_axis_row_tlast,
      .s_axis_act_tdata(act_tdata), .s_axis_act_tvalid(act_fire && act_want),
      .s_axis_act_tready(act_ready), .s_axis_act_tlast(1'b0),
      .m_axis_out_tdata(out_tdata), .m_axis_out_tvalid(out_tvalid),
      .m_axis_out_tready(m_axis_tready), .m_axis_out_tlast(out_tlast)
  );

  // ---------------------------------------------------------------- output tags
  // hp_spmm's order: for each of the group's tiles, each of its rows, each token.
  logic [LEN_W-1:0] o_tile_base, o_left, o_step;  // the tile's first token, tokens after it
  logic [LEN_W-1:0] o_t;
  logic [RB_W-1:0]  o_r;
  logic             out_fire, o_last_t, o_last_r;

  assign out_fire = out_tvalid && m_axis_tready;
  assign o_last_t = o_t == tile_of(o_left) - 1'b1;
  assign o_last_r = o_r == RB_W'(nrows - 1'b1);
  assign m_axis_tdata = out_tdata;
  assign m_axis_tvalid = out_tvalid;
  assign m_axis_tuser = {TOK_W'(o_tile_base + o_t), dest_mem[rbase + o_r]};

  always_ff @(posedge clk) begin
    if (spmm_start) begin
      o_tile_base <= LEN_W'(32'(phase) * T);
      o_left <= len - LEN_W'(32'(phase) * T);
      o_step <= LEN_W'(32'(nphase) * T);
      o_t <= '0;
      o_r <= '0;
    end else if (out_fire) begin
      if (!o_last_t) o_t <= o_t + 1'b1;
      else begin
        o_t <= '0;
        if (!o_last_r) o_r <= o_r + 1'b1;
        else begin
          o_r <= '0;
          o_tile_base <= o_tile_base + o_step;
          o_left <= o_left > o_step ? o_left - o_step : '0;
        end
      end
    end
  end

  /* verilator lint_off UNUSEDSIGNAL */
  logic unused;
  assign unused = spmm_busy ^ out_tlast;
  /* verilator lint_on UNUSEDSIGNAL */
endmodule
