// HP sparse matmul engine: y[t, :] = requant(W x[t, :] + bias) for t < L, W in HP storage.
//
// Schedule (docs/rtl.md has the exact cycle formula, sim/rtl/cycles.py the same in Python):
//   for each tile of T tokens (the last one partial):
//     for each block-row r:                 BO PEs compute BO output rows
//       for each kept block b of r:         (an empty block-row costs one null block)
//         for each token t of the tile:     one step per cycle: every PE does M MACs
// The activation tile is held on chip (ping-pong: the next tile streams in during compute)
// so every block-row re-reads it; the BO x T accumulators are two banks (hp_spmm_acc), so
// a finished block-row is requantized from one while the next accumulates in the other.
//
// Streams (all little-endian byte lanes):
//   s_axis_wgt  one beat per kept block in block-CSR order, tlast on the matrix's last:
//               [15:0] block column, then BO*M value bytes (PE-major), then BO*M index bytes
//   s_axis_row  one beat per block-row, tlast on the last:
//               [15:0] kept-block count, then BO x int32 bias, BO x uint16 mult (15 bits
//               used), BO x uint8 shift (6 bits used)
//   s_axis_act  one beat per (token, block column), token-major: BI int8 activations
//   m_axis_out  one beat per (tile, block-row, token): BO outputs of OUT_BITS; tlast on the last
// Weights and rows are loaded while idle (not in the start cycle); `start` latches L,
// block-rows and block columns.
module hp_spmm #(
    parameter int BO = 4,         // PEs: output rows per block
    parameter int BI = 8,         // block width: activations broadcast per step
    parameter int M = 2,          // kept weights per block row = MACs per PE per cycle
    parameter int T = 4,          // tokens per tile (>= 2)
    parameter int MAX_NBR = 8,    // block-rows the row memory holds
    parameter int MAX_NBC = 8,    // block columns the activation tile holds
    parameter int MAX_NNZB = 64,  // kept blocks the weight memories hold
    parameter int MAX_LEN = 128,  // longest sequence
    parameter int OUT_BITS = 8,   // output lane width; cfg_narrow saturates to int8 in it
    localparam int IDX_W = $clog2(BI),
    localparam int LEN_W = $clog2(MAX_LEN + 1),
    localparam int NBR_W = $clog2(MAX_NBR + 1),
    localparam int NBC_W = $clog2(MAX_NBC + 1),
    localparam int RB_W = $clog2(MAX_NBR),
    localparam int WB_W = $clog2(MAX_NNZB),
    // byte-aligned beat fields (see the stream table above)
    localparam int HDR_W = 16,    // block column / kept-block count
    localparam int BIAS_W = 32,
    localparam int MULT_F = 16,   // field of the 15-bit multiplier
    localparam int SHIFT_F = 8,   // field of the 6-bit shift
    localparam int WGT_VAL_AT = HDR_W,
    localparam int WGT_IDX_AT = HDR_W + 8 * BO * M,
    localparam int WGT_W = WGT_IDX_AT + 8 * BO * M,
    localparam int ROW_MULT_AT = HDR_W + BIAS_W * BO,
    localparam int ROW_SHIFT_AT = ROW_MULT_AT + MULT_F * BO,
    localparam int ROW_W = ROW_SHIFT_AT + SHIFT_F * BO
) (
    input  logic               clk,
    input  logic               rst_n,
    // control
    input  logic               start,
    input  logic [LEN_W-1:0]   cfg_len,
    input  logic [NBR_W-1:0]   cfg_nbr,
    input  logic [NBC_W-1:0]   cfg_nbc,
    input  logic [RB_W-1:0]    cfg_rbase,  // first row of this run in the row memory
    input  logic [WB_W-1:0]    cfg_wbase,  // its first kept block in the weight memory
    input  logic               cfg_narrow, // saturate the outputs to int8 (OUT_BITS > 8)
    output logic               busy,
    output logic               done,
    // weight load
    /* verilator lint_off UNUSEDSIGNAL */  // padding bits of the byte-aligned beat layouts
    input  logic [WGT_W-1:0]   s_axis_wgt_tdata,
    input  logic               s_axis_wgt_tvalid,
    output logic               s_axis_wgt_tready,
    input  logic               s_axis_wgt_tlast,
    input  logic [ROW_W-1:0]   s_axis_row_tdata,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic               s_axis_row_tvalid,
    output logic               s_axis_row_tready,
    input  logic               s_axis_row_tlast,
    // activations in, results out
    input  logic [BI*8-1:0]    s_axis_act_tdata,
    input  logic               s_axis_act_tvalid,
    output logic               s_axis_act_tready,
    /* verilator lint_off UNUSEDSIGNAL */
    input  logic               s_axis_act_tlast,  // framing only: the length is cfg_len
    /* verilator lint_on UNUSEDSIGNAL */
    output logic [BO*OUT_BITS-1:0] m_axis_out_tdata,
    output logic               m_axis_out_tvalid,
    input  logic               m_axis_out_tready,
    output logic               m_axis_out_tlast
);
  localparam int R_W = $clog2(MAX_NBR);
  localparam int C_W = $clog2(MAX_NBC);
  localparam int B_W = $clog2(MAX_NNZB);
  localparam int T_W = $clog2(T);
  localparam int TC_W = $clog2(T + 1);
  localparam int ACT_AW = 1 + T_W + C_W;  // {buffer, token, block column}
  localparam logic [LEN_W-1:0] T_LEN = LEN_W'(T);
  localparam int DRAIN_STAGES = requant_pkg::LATENCY;  // the requant lane's stages
  localparam int MULT_W = 15;  // sim/golden/requant.py: MULT_BITS
  localparam int SHIFT_W = 6;  // shifts in [1, 62]

  // ---------------------------------------------------------------- memories
  logic [BO*M*8-1:0]     wval_mem[MAX_NNZB];
  logic [BO*M*IDX_W-1:0] widx_mem[MAX_NNZB];
  logic [C_W-1:0]        wcol_mem[MAX_NNZB];
  // per block-row {count <= 1, count == 0, count - 1}: the issue logic's row flags,
  // worked out at load time rather than behind a row-memory read
  logic [NBC_W+1:0]      rcnt_mem[MAX_NBR];
  logic [BO*BIAS_W-1:0]  rbias_mem[MAX_NBR];
  logic [BO*MULT_W-1:0]  rmult_mem[MAX_NBR];
  logic [BO*SHIFT_W-1:0] rshift_mem[MAX_NBR];
  logic [BI*8-1:0]       act_mem[2**ACT_AW];

  // ---------------------------------------------------------------- weight/row load
  logic [B_W-1:0] wptr;
  logic [R_W-1:0] rptr;
  logic [BO*M*IDX_W-1:0] wgt_idx;
  logic [BO*MULT_W-1:0] row_mult;
  logic [BO*SHIFT_W-1:0] row_shift;
  logic [NBC_W-1:0] ld_cnt;  // the kept-block count of the row beat being loaded
  assign ld_cnt = s_axis_row_tdata[NBC_W-1:0];

  // not in the start cycle either: the run reads its first row in the cycle after
  assign s_axis_wgt_tready = !busy && !start;
  assign s_axis_row_tready = !busy && !start;

  always_comb begin
    for (int k = 0; k < BO * M; k++) begin
      wgt_idx[IDX_W*k +: IDX_W] = s_axis_wgt_tdata[WGT_IDX_AT + 8*k +: IDX_W];
    end
    for (int p = 0; p < BO; p++) begin
      row_mult[MULT_W*p +: MULT_W] = s_axis_row_tdata[ROW_MULT_AT + MULT_F*p +: MULT_W];
      row_shift[SHIFT_W*p +: SHIFT_W] = s_axis_row_tdata[ROW_SHIFT_AT + SHIFT_F*p +: SHIFT_W];
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      wptr <= '0;
      rptr <= '0;
    end else begin
      if (s_axis_wgt_tvalid && s_axis_wgt_tready) begin
        wval_mem[wptr] <= s_axis_wgt_tdata[WGT_VAL_AT +: BO*M*8];
        widx_mem[wptr] <= wgt_idx;
        wcol_mem[wptr] <= s_axis_wgt_tdata[C_W-1:0];
        wptr <= s_axis_wgt_tlast ? '0 : wptr + 1'b1;
      end
      if (s_axis_row_tvalid && s_axis_row_tready) begin
        rcnt_mem[rptr] <= {ld_cnt <= NBC_W'(1), ld_cnt == '0, ld_cnt - 1'b1};
        rbias_mem[rptr] <= s_axis_row_tdata[HDR_W +: BIAS_W*BO];
        rmult_mem[rptr] <= row_mult;
        rshift_mem[rptr] <= row_shift;
        rptr <= s_axis_row_tlast ? '0 : rptr + 1'b1;
      end
    end
  end

  // ---------------------------------------------------------------- run configuration
  logic [LEN_W-1:0] len;
  logic           narrow;
  logic [R_W-1:0] rbase;  // the run's rows and blocks start here (several layers share
  logic [B_W-1:0] wbase;  // the memories: a layer is a run with its own bases)
  logic [R_W-1:0] nbr_m1;
  logic [C_W-1:0] nbc_m1;

  function automatic logic [TC_W-1:0] tile_tokens(input logic [LEN_W-1:0] left);
    return left > T_LEN ? TC_W'(T) : TC_W'(left);
  endfunction

  // ---------------------------------------------------------------- activation loader
  logic             loading, lbuf;
  logic [T_W-1:0]   lt;
  logic [C_W-1:0]   lc;
  logic [TC_W-1:0]  l_tcur;
  logic [LEN_W-1:0] l_base;
  logic [1:0]       act_full;
  logic             act_fire, load_tile_done;

  assign s_axis_act_tready = loading && !act_full[lbuf];
  assign act_fire = s_axis_act_tvalid && s_axis_act_tready;
  assign load_tile_done = act_fire && lc == nbc_m1 && TC_W'(lt) == l_tcur - 1'b1;

  // ---------------------------------------------------------------- issue (stage 0)
  logic             issuing, cbuf;
  logic [T_W-1:0]   t;
  logic [TC_W-1:0]  tcur;
  logic [LEN_W-1:0] base;
  logic [R_W-1:0]   r;
  logic [NBC_W-1:0] bcnt;
  logic [B_W-1:0]   blk;
  logic             adv, issue;
  logic             op_zero, op_cap, op_end, op_final;
  // the current row's kept blocks - 1 and whether it has none, registered when the row is
  // entered (from the row memory's words {count <= 1, count == 0, count - 1} at rnext or
  // rbase), so the issue logic never waits on a row-memory read
  logic [NBC_W-1:0] row_cnt_m1;
  logic [NBC_W+1:0] cnt_next, cnt_base;
  logic             row_zero;
  // t == tcur - 1, bcnt == row_cnt_m1 (or an empty row), r == nbr_m1: each kept as a flag
  // updated beside its counter, so that no comparator sits between `adv` and the state
  logic             t_last, b_last, r_last;
  logic [TC_W-1:0]  tcur_next;  // the next tile's tokens, tile_tokens(len - base - T)
  // the cycle after `start`: the flags and tile sizes are worked out from the latched run
  // configuration, not from the cfg_* inputs
  logic             setup;
  // rbase + r + 1, kept as its own counter so that the next row's count is a row-memory
  // read straight from a register, with no adder in front of it
  logic [R_W-1:0]   rnext;

  assign op_zero   = row_zero;
  assign cnt_next  = rcnt_mem[rnext];
  assign cnt_base  = rcnt_mem[rbase];
  assign op_cap    = t_last && b_last;
  assign op_end    = op_cap && r_last;          // last step of the tile
  assign op_final  = op_end && len - base <= T_LEN;  // last step of the run
  assign issue     = issuing && act_full[cbuf] && adv;

  // ---------------------------------------------------------------- stage 1: operands
  logic             v1, first1, zero1, cap1, final1;
  logic [T_W-1:0]   t1;
  logic [R_W-1:0]   r1;
  logic [TC_W-1:0]  tcur1;
  logic [BI*8-1:0]  act1;
  logic [BO*M*8-1:0] wval1;
  logic [BO*M*IDX_W-1:0] widx1;

  // ---------------------------------------------------------------- stage 2: accumulate
  // stage 1 -> 2 goes through the PEs' PE_LAT registers; the control rides beside them
  localparam int PE_LAT = hp_spmm_pe_pkg::LATENCY;
  localparam int CTL_W = 4 + T_W + R_W + TC_W;  // {v, first, cap, final, t, r, tcur}
  logic [PE_LAT*CTL_W-1:0] ctl_q;  // packed: Icarus updates continuous reads of it
  logic             v2, first2, cap2, final2;
  logic [T_W-1:0]   t2;
  logic [R_W-1:0]   r2;
  logic [TC_W-1:0]  tcur2;
  logic signed [31:0] dot2[BO];

  assign {v2, first2, cap2, final2, t2, r2, tcur2} = ctl_q[(PE_LAT-1)*CTL_W +: CTL_W];
  logic pe_busy;  // a step is still in the PEs
  always_comb begin
    pe_busy = 1'b0;
    for (int k = 0; k < PE_LAT; k++) pe_busy = pe_busy | ctl_q[k*CTL_W + CTL_W - 1];
  end
  // the accumulators: two banks per PE (hp_spmm_acc); `wb` is the one accumulating, `db`
  // the one the drain reads while ob_full (always !wb: a flip-flop of its own, so that
  // the drain's LUT-RAM address needs no inverter)
  logic               wb, db;
  logic [T_W-1:0]     dt;      // the token the drain reads
  logic               dt_last; // dt == ob_tcur - 1, registered: the release, and through
                               // it `adv`, waits on no comparator
  logic [BO*32-1:0]   ob_acc;  // word {db, dt} of each PE, the drain's input (packed: Icarus)

  for (genvar p = 0; p < BO; p++) begin : g_pe
    hp_spmm_pe #(.BI(BI), .M(M)) u_pe (
        .clk(clk),
        .en(adv),
        .act(act1),
        .vals(wval1[8*M*p +: 8*M]),
        .idx(widx1[IDX_W*M*p +: IDX_W*M]),
        .zero(zero1),
        .dot(dot2[p])
    );
    // stage 2: the PE's dot accumulates in bank wb
    hp_spmm_acc #(.T(T)) u_acc (
        .clk(clk),
        .we(adv && v2),
        .first(first2),
        .waddr({wb, t2}),
        .dot(dot2[p]),
        .raddr({db, dt}),
        .rdata(ob_acc[32*p +: 32])
    );
  end

  // ---------------------------------------------------------------- drain (bank db)
  logic               ob_full, ob_final, ob_release, dadv;
  logic [TC_W-1:0]    ob_tcur;
  logic [BO*BIAS_W-1:0]  ob_bias;
  logic [BO*MULT_W-1:0]  ob_mult;
  logic [BO*SHIFT_W-1:0] ob_shift;
  logic [DRAIN_STAGES-1:0] dv, dlast;

  assign dadv       = !m_axis_out_tvalid || m_axis_out_tready;
  assign ob_release = ob_full && dadv && dt_last;
  assign adv        = !(v2 && cap2 && ob_full && !ob_release);

  for (genvar p = 0; p < BO; p++) begin : g_rq
    requant #(.OUT_BITS(OUT_BITS)) u_rq (
        .clk(clk),
        .en(dadv),
        .acc(ob_acc[32*p +: 32]),
        .bias(ob_bias[BIAS_W*p +: BIAS_W]),
        .mult(ob_mult[MULT_W*p +: MULT_W]),
        .shift(ob_shift[SHIFT_W*p +: SHIFT_W]),
        .narrow(narrow),
        .y(m_axis_out_tdata[OUT_BITS*p +: OUT_BITS])
    );
  end

  assign m_axis_out_tvalid = dv[DRAIN_STAGES-1];
  assign m_axis_out_tlast  = dlast[DRAIN_STAGES-1];

  // ---------------------------------------------------------------- sequencing
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      busy <= 1'b0;
      done <= 1'b0;
      setup <= 1'b0;
      loading <= 1'b0;
      issuing <= 1'b0;
      act_full <= '0;
      v1 <= 1'b0;
      ctl_q <= '0;
      ob_full <= 1'b0;
      wb <= 1'b0;
      db <= 1'b1;
      dt <= '0;
      dt_last <= 1'b0;
      dv <= '0;
      dlast <= '0;
    end else begin
      done <= 1'b0;
      setup <= start && !busy;
      if (setup) begin  // a run's first issue comes two cycles after its start at the earliest
        {b_last, row_zero, row_cnt_m1} <= cnt_base;
        r_last <= nbr_m1 == '0;
        tcur <= tile_tokens(len);
        t_last <= len == LEN_W'(1);
        tcur_next <= tile_tokens(len - T_LEN);
      end
      if (start && !busy) begin
        busy <= 1'b1;
        len <= cfg_len;
        nbr_m1 <= R_W'(cfg_nbr - 1'b1);
        nbc_m1 <= C_W'(cfg_nbc - 1'b1);
        loading <= cfg_len != '0;
        issuing <= cfg_len != '0;
        lbuf <= 1'b0;
        cbuf <= 1'b0;
        lt <= '0;
        lc <= '0;
        t <= '0;
        r <= '0;
        bcnt <= '0;
        blk <= cfg_wbase;
        rbase <= cfg_rbase;
        rnext <= cfg_rbase + 1'b1;
        narrow <= cfg_narrow;
        wbase <= cfg_wbase;
        base <= '0;
        l_base <= '0;
        l_tcur <= tile_tokens(cfg_len);
        act_full <= '0;
      end else if (busy && !issuing && !v1 && !pe_busy && !ob_full && dv == '0) begin
        busy <= 1'b0;
        done <= 1'b1;
      end

      // loader: fill the free buffer, token-major
      if (act_fire) begin
        act_mem[{lbuf, lt, lc}] <= s_axis_act_tdata;
        if (lc == nbc_m1) begin
          lc <= '0;
          if (load_tile_done) begin
            lt <= '0;
            lbuf <= !lbuf;
            l_base <= l_base + T_LEN;
            loading <= len - l_base > T_LEN;
            l_tcur <= tile_tokens(len - l_base - T_LEN);
          end else begin
            lt <= lt + 1'b1;
          end
        end else begin
          lc <= lc + 1'b1;
        end
      end
      for (int b = 0; b < 2; b++) begin
        if (load_tile_done && lbuf == b[0]) act_full[b] <= 1'b1;
        else if (issue && op_end && cbuf == b[0]) act_full[b] <= 1'b0;
      end

      // stage 0 -> 1: issue one (block, token) step, read its operands
      if (adv) begin
        v1 <= issue;
        if (issue) begin
          act1 <= act_mem[{cbuf, t, op_zero ? C_W'(0) : wcol_mem[blk]}];
          wval1 <= wval_mem[blk];
          widx1 <= widx_mem[blk];
          first1 <= bcnt == '0;
          zero1 <= op_zero;
          cap1 <= op_cap;
          final1 <= op_final;
          t1 <= t;
          r1 <= rbase + r;
          tcur1 <= tcur;
          if (!t_last) begin
            t <= t + 1'b1;
            t_last <= TC_W'(t) + TC_W'(2) == tcur;
          end else begin
            t <= '0;
            t_last <= tcur == TC_W'(1);
            if (!op_zero) blk <= blk + 1'b1;
            if (!b_last) begin
              bcnt <= bcnt + 1'b1;
              b_last <= bcnt + 1'b1 == row_cnt_m1;
            end else begin
              bcnt <= '0;
              if (!r_last) begin
                r <= r + 1'b1;
                r_last <= r + 1'b1 == nbr_m1;
                rnext <= rnext + 1'b1;
                {b_last, row_zero, row_cnt_m1} <= cnt_next;
              end else begin
                r <= '0;
                r_last <= nbr_m1 == '0;
                rnext <= rbase + 1'b1;
                {b_last, row_zero, row_cnt_m1} <= cnt_base;
                blk <= wbase;
                cbuf <= !cbuf;
                base <= base + T_LEN;
                issuing <= !op_final;
                tcur <= tcur_next;
                t_last <= tcur_next == TC_W'(1);
                tcur_next <= tile_tokens(len - base - 2 * T_LEN);
              end
            end
          end
        end
        // stage 1 -> 2
        ctl_q <= {ctl_q[0 +: (PE_LAT-1)*CTL_W], v1, first1, cap1, final1, t1, r1, tcur1};
      end

      // drain: one token per cycle into the requantization lanes
      if (dadv) begin
        dv <= {dv[DRAIN_STAGES-2:0], ob_full};
        dlast <= {dlast[DRAIN_STAGES-2:0], ob_full && ob_final && ob_release};
        if (ob_full) begin
          dt <= ob_release ? '0 : dt + 1'b1;
          dt_last <= !ob_release && TC_W'(dt) + TC_W'(2) == ob_tcur;
        end
      end
      if (adv && v2 && cap2) begin  // the block-row's last step: its bank goes to the drain
        wb <= !wb;
        db <= wb;
        ob_full <= 1'b1;
        ob_final <= final2;
        ob_tcur <= tcur2;
        dt_last <= tcur2 == TC_W'(1);
        ob_bias <= rbias_mem[r2];
        ob_mult <= rmult_mem[r2];
        ob_shift <= rshift_mem[r2];
        dt <= '0;
      end else if (ob_release) begin
        ob_full <= 1'b0;
      end
    end
  end
endmodule
