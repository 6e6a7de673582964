// Top-k sparse attention engine for one head (Peng et al., DAC 2022), bit-exact with
// sim/golden/sparse_attention.py:sparse_attention_head and sim/golden/nonlinear.py.
//
// Per run: K and V (L rows of D int8 each) stream in and stay on chip; the K scale of the
// 4-bit estimate (max|K|, an abs stage and a max tree) is taken while K loads. Then the
// estimator and the exact unit work on consecutive queries at once (docs/rtl.md has the
// exact cycle recurrence):
//   estimator   one key per cycle, queries back to back: Q row -> abs, max tree,
//               thresholds, 4-bit codes (the Q pipeline); key row j -> abs, 4-bit codes,
//               D reads of the 256-entry product table, adder tree; a sorted insertion
//               network keeps the top k (estimate descending, ties to the lower index).
//               A query's last key hands its k indices and Q row to the exact unit.
//   exact unit  five stages, each on its own query: DOT (k int8 q.k, adder tree, requant
//               to SCORE_BITS), EXP (i-exp of score - max, summed), DIV (2^RECIP_BITS /
//               sum, radix 4), PV (probability times the k V rows, accumulated), OUT
//               (requant to int8, send).
// So a query costs max(L, the longest exact stage) in the steady state, not the estimate
// plus the exact part, nor the sum of the exact stages.
// Every stage holds at most one carry chain, one multiply or one table read (docs/rtl.md,
// "Logic depth"); the only loop is the insertion network (one compare + a 3:1 select).
// m_axis_out_tuser carries the selected key indices (slot 0 first, unused slots 0).
// The table is read from LUT_FILE (hex, written from ESTIMATE_LUT by the runner), one
// copy per lane (attn_est_rom).
//
// Widths of the exp datapath (AttentionParams.check_case rejects constants outside them):
// q_ln2 and q_b below 2^16 with q_ln2 <= q_b, q_c >= 0 and q_b^2 + q_c < 2^31, as
// ExpParams.derive gives for the fixed score scale.

// Latencies of the pipelined helpers below, for their users.
/* verilator lint_off DECLFILENAME */
package attn_pkg;
  localparam int Q4_STAGES = 4;  // attn_q4_row: 2 Q4_MAX |x|, split compares, combine, count
  // reduce_tree (reduce_tree.sv): one tree level per stage
  function automatic int tree_latency(input int n);
    return $clog2(n);
  endfunction
  // attn_mul: partial products, then an adder tree over them
  function automatic int mul_latency(input int a_w, input int b_w, input int a_chunk,
                                     input int b_chunk);
    return 1 + $clog2(((a_w + a_chunk - 1) / a_chunk) * ((b_w + b_chunk - 1) / b_chunk));
  endfunction
endpackage
/* verilator lint_on DECLFILENAME */

module sparse_attention #(
    parameter int D = 8,             // head dimension
    parameter int MAX_LEN = 32,      // longest sequence the K/V memories hold
    parameter int MAX_K = 4,         // largest k (size of the insertion network)
    parameter int Q4_MAX = 7,        // 4-bit codes lie in [-Q4_MAX, Q4_MAX]
    parameter int SCORE_BITS = 16,   // requantized score width (SAT_ATTN_SCORE)
    parameter int PROB_BITS = 8,     // probability width (SAT_SOFTMAX)
    parameter int RECIP_BITS = 40,   // softmax reciprocal: floor(2^RECIP_BITS / sum)
    parameter int EXP_MAX_SHIFT = 30,  // SAT_EXP
    parameter LUT_FILE = "estimate_lut.hex",
    localparam int LEN_W = $clog2(MAX_LEN + 1),
    localparam int K_W = $clog2(MAX_K + 1),
    localparam int IDX_W = $clog2(MAX_LEN),
    localparam int SI_W = $clog2(MAX_K)  // slot index (MAX_K >= 2)
) (
    input  logic                   clk,
    input  logic                   rst_n,
    // control, latched at start
    input  logic                   start,
    input  logic [LEN_W-1:0]       cfg_len,
    input  logic [K_W-1:0]         cfg_k,
    input  logic [14:0]            cfg_score_mult,
    input  logic [5:0]             cfg_score_shift,
    /* verilator lint_off UNUSEDSIGNAL */  // the exp constants use their low bits (see above)
    input  logic [31:0]            cfg_exp_q_ln2,
    input  logic [31:0]            cfg_exp_q_b,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic [31:0]            cfg_exp_q_c,
    input  logic [14:0]            cfg_out_mult,
    input  logic [5:0]             cfg_out_shift,
    output logic                   busy,
    output logic                   done,
    output logic [31:0]            perf_estimate_cycles,
    output logic [31:0]            perf_exact_cycles,
    // streams: one row of D int8 per beat
    input  logic [D*8-1:0]         s_axis_k_tdata,
    input  logic                   s_axis_k_tvalid,
    output logic                   s_axis_k_tready,
    /* verilator lint_off UNUSEDSIGNAL */  // framing only: the length is cfg_len
    input  logic                   s_axis_k_tlast,
    input  logic                   s_axis_v_tlast,
    input  logic                   s_axis_q_tlast,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic [D*8-1:0]         s_axis_v_tdata,
    input  logic                   s_axis_v_tvalid,
    output logic                   s_axis_v_tready,
    input  logic [D*8-1:0]         s_axis_q_tdata,
    input  logic                   s_axis_q_tvalid,
    output logic                   s_axis_q_tready,
    output logic [D*8-1:0]         m_axis_out_tdata,
    output logic [MAX_K*IDX_W-1:0] m_axis_out_tuser,
    output logic                   m_axis_out_tvalid,
    input  logic                   m_axis_out_tready,
    output logic                   m_axis_out_tlast
);
  localparam int NIB_W = 4;  // 4-bit codes
  localparam int RQ_LAT = requant_pkg::LATENCY;
  localparam int TREE_LAT = attn_pkg::tree_latency(D);  // every tree over the D lanes
  localparam int TH_W = $clog2(2 * Q4_MAX * 128 + 1);   // 2 Q4_MAX |x| and (2j-1) m
  localparam int EST_W = $clog2(Q4_MAX * Q4_MAX * D + 1) + 1;  // |estimate| <= Q4_MAX^2 D
  localparam int P8_W = 16;                  // int8 x int8, uint8 x int8 products
  localparam int DOT_W = P8_W + TREE_LAT;    // a sum of D of them
  localparam int Q_W = 16;                   // q_ln2, q_b
  localparam int Z_W = $clog2(EXP_MAX_SHIFT + 1);  // the i-exp shift z
  localparam int A_W = SCORE_BITS;           // max - x in [0, 2^SCORE_BITS)
  localparam int CAP_W = Q_W + Z_W;          // EXP_MAX_SHIFT * q_ln2
  localparam int CMP_W = A_W + 1 > CAP_W ? A_W + 1 : CAP_W;
  localparam int T_W = Q_W + 1;              // t = r + q_b, signed
  localparam int POLY_W = 2 * T_W + 1;       // t^2 + q_c, signed
  localparam int E_W = 32;                   // e <= q_b^2 + q_c < 2^31
  localparam int TOTAL_W = E_W + $clog2(MAX_K);
  localparam int NDIG = (RECIP_BITS + 2) / 2;  // radix-4 digits of the RECIP_BITS+1 bit quotient
  localparam int RECIP_W = 2 * NDIG;
  localparam int DD_W = $clog2(NDIG);
  localparam int PP_W = RECIP_BITS + 2;      // e * recip <= 2^RECIP_BITS, plus the rounding
  localparam int PROB_SHIFT = RECIP_BITS - PROB_BITS;
  localparam int MUL_A_CHUNK = 16;           // DSP48E2: 18-bit signed port
  localparam int MUL_B_CHUNK = 24;           //          27-bit signed port
  localparam int MUL_LAT = attn_pkg::mul_latency(E_W, RECIP_W, MUL_A_CHUNK, MUL_B_CHUNK);
  localparam logic [PROB_BITS-1:0] PROB_MAX = '1;
  localparam logic [RECIP_W-1:0] DIVIDEND = RECIP_W'(1) << RECIP_BITS;
  // pipeline positions (stage 0 = the issuing register)
  localparam int Q_CODE = 2 + TREE_LAT + attn_pkg::Q4_STAGES;  // accept, abs, tree, thr, q4
  localparam int E_CODE = 2 + attn_pkg::Q4_STAGES;             // key: read, abs, q4
  localparam int E_EST = E_CODE + 1 + TREE_LAT;  // then the table read and the adder tree
  localparam int SC_LAT = 2 + TREE_LAT + RQ_LAT;  // exact: K read, products, tree, requant
  localparam int EX_LAT = 6 + Z_W;        // sub, clamp, Z_W division steps, t, t^2, + q_c, >>
  localparam int PV_LAT = MUL_LAT + 3;    // e * recip, round, clip (+ V read), p * v
  localparam logic [1:0] T_IDLE = 2'd0, T_LOAD = 2'd1, T_RUN = 2'd2;
  localparam int DV_CNT_W = $clog2(NDIG + 2);  // DIV's cycle count, 0..NDIG+1
  localparam int O_CNT_W = $clog2(RQ_LAT + 1);  // OUT's, 0..RQ_LAT

  logic [D*8-1:0] kmem[MAX_LEN];
  logic [D*8-1:0] vmem[MAX_LEN];

  function automatic logic [7:0] abs8(input logic signed [7:0] x);
    return x < 0 ? 8'(-9'(x)) : 8'(x);
  endfunction

  function automatic logic [D*8-1:0] abs_row(input logic [D*8-1:0] row);
    logic [D*8-1:0] a;
    for (int i = 0; i < D; i++) a[8*i +: 8] = abs8(row[8*i +: 8]);
    return a;
  endfunction

  function automatic logic [D-1:0] sign_row(input logic [D*8-1:0] row);
    logic [D-1:0] s;
    for (int i = 0; i < D; i++) s[i] = row[8*i + 7];
    return s;
  endfunction

  // the Q4_MAX thresholds (2j - 1) * m of quantize4: constant multiples of m
  function automatic logic [Q4_MAX*TH_W-1:0] thresholds(input logic [7:0] m);
    logic [Q4_MAX*TH_W-1:0] t;
    for (int j = 1; j <= Q4_MAX; j++) t[TH_W*(j-1) +: TH_W] = TH_W'(2 * j - 1) * TH_W'(m);
    return t;
  endfunction

  // ---------------------------------------------------------------- run state
  logic [1:0]        tstate;
  logic [LEN_W-1:0]  len, len_m1, len_m2, kcnt, vcnt, qacc, qout;  // L - 1, L - 2: compares
  logic [K_W-1:0]    kk, kk_m1, kk_m2;                               // against registers
  logic [14:0]       score_mult, out_mult;
  logic [5:0]        score_shift, out_shift;
  logic [Q_W-1:0]    q_ln2, q_b;
  logic signed [31:0] q_c;
  logic [CAP_W-1:0]  q_cap;  // EXP_MAX_SHIFT * q_ln2, one cycle after start

  logic k_fire, v_fire, q_fire, k_last_beat, v_last_beat;
  assign s_axis_k_tready = tstate == T_LOAD && kcnt != len;
  assign s_axis_v_tready = tstate == T_LOAD && vcnt != len;
  assign k_fire = s_axis_k_tvalid && s_axis_k_tready;
  assign v_fire = s_axis_v_tvalid && s_axis_v_tready;
  assign k_last_beat = kcnt == len || (k_fire && kcnt == len_m1);
  assign v_last_beat = vcnt == len || (v_fire && vcnt == len_m1);

  // ---------------------------------------------------------------- K scale (while loading)
  logic             kready;
  logic [D*8-1:0]   ka_ax;
  logic [TREE_LAT:0] km_v;  // valid along the abs stage and the max tree
  logic [7:0]       km_out, kmax;
  logic [Q4_MAX*TH_W-1:0] kthr;
  logic             kzero;

  reduce_tree #(.N(D), .IW(8), .OW(8), .MAX(1'b1)) u_kmax (
      .clk(clk), .en(1'b1), .in(ka_ax), .out(km_out));

  // ---------------------------------------------------------------- Q pipeline
  logic             q_en, q_take, qnext_v;
  logic             q_open;  // queries left to accept (a register: tready stays shallow)
  logic [Q_CODE:0]  qv;
  logic [D*8-1:0]   qrow_p[Q_CODE+1];
  logic [D*8-1:0]   qax_p[TREE_LAT+2:1];
  logic [7:0]       q_m;
  logic [Q4_MAX*TH_W-1:0] q_thr;
  logic             q_zero;
  logic [D*NIB_W-1:0] qnext_code;

  assign qnext_v = qv[Q_CODE];
  assign q_en = !qnext_v || q_take;
  assign s_axis_q_tready = q_open && q_en;
  assign q_fire = s_axis_q_tvalid && s_axis_q_tready;

  reduce_tree #(.N(D), .IW(8), .OW(8), .MAX(1'b1)) u_qmax (
      .clk(clk), .en(q_en), .in(qax_p[1]), .out(q_m));
  attn_q4_row #(.D(D), .Q4_MAX(Q4_MAX), .TH_W(TH_W)) u_q4q (
      .clk(clk), .en(q_en), .sign(sign_row(qrow_p[TREE_LAT+2])), .ax(qax_p[TREE_LAT+2]),
      .thr(q_thr), .zero(q_zero), .code(qnext_code));

  // ---------------------------------------------------------------- estimator pipeline
  logic               est_en, i_done;
  logic [E_EST:0]     ev, efirst, elast;
  logic [IDX_W-1:0]   ej[E_EST+1];
  logic [D*NIB_W-1:0] eqc[E_CODE+1];
  logic [D*8-1:0]     eqr[E_EST+1];
  logic [D*8-1:0]     e_krow, e_kax;
  logic [D-1:0]       e_ksign;
  logic [D*NIB_W-1:0] e_kcode;
  logic [D*8-1:0]     e_lut;  // D table values (int8 each)
  logic [EST_W-1:0]   e_est;

  attn_q4_row #(.D(D), .Q4_MAX(Q4_MAX), .TH_W(TH_W)) u_q4k (
      .clk(clk), .en(est_en), .sign(e_ksign), .ax(e_kax), .thr(kthr), .zero(kzero),
      .code(e_kcode));
  for (genvar i = 0; i < D; i++) begin : g_est_rom
    attn_est_rom #(.AW(2 * NIB_W), .LUT_FILE(LUT_FILE)) u_rom (
        .clk(clk), .en(est_en),
        .addr({eqc[E_CODE][NIB_W*i +: NIB_W], e_kcode[NIB_W*i +: NIB_W]}),
        .data(e_lut[8*i +: 8]));
  end
  reduce_tree #(.N(D), .IW(8), .OW(EST_W)) u_est (
      .clk(clk), .en(est_en), .in(e_lut), .out(e_est));

  // the top-k insertion network: the new estimate goes after every kept entry that is >= it
  // (those have lower indices, so ties go to the lower index); the entries behind move down
  logic signed [EST_W-1:0] slot_est[MAX_K], nx_est[MAX_K];
  logic [IDX_W-1:0]   slot_idx[MAX_K], nx_idx[MAX_K];
  logic [MAX_K-1:0]   slot_v, nx_v, keep, here;
  logic               ins_v, ins_first, ins_last;
  logic               ins_vlast;  // = ins_v && ins_last, in its own register for est_en
  assign ins_v = ev[E_EST];
  assign ins_first = efirst[E_EST];
  assign ins_last = elast[E_EST];
  always_comb begin
    for (int i = 0; i < MAX_K; i++) begin
      keep[i] = slot_v[i] && !ins_first && slot_est[i] >= $signed(e_est);
      here[i] = !keep[i] && (i == 0 || keep[(i == 0) ? 0 : i - 1]);
      if (keep[i]) begin
        nx_est[i] = slot_est[i];
        nx_idx[i] = slot_idx[i];
        nx_v[i] = 1'b1;
      end else if (here[i]) begin
        nx_est[i] = $signed(e_est);
        nx_idx[i] = ej[E_EST];
        nx_v[i] = 1'b1;
      end else begin
        nx_est[i] = slot_est[(i == 0) ? 0 : i - 1];
        nx_idx[i] = slot_idx[(i == 0) ? 0 : i - 1];
        nx_v[i] = !ins_first && slot_v[(i == 0) ? 0 : i - 1];
      end
    end
  end

  // the hand-off: the selection and Q row of the last estimated query
  logic               res_full;
  logic [IDX_W-1:0]   res_idx[MAX_K];
  logic [D*8-1:0]     res_q;
  assign est_en = !(ins_vlast && res_full);
  assign i_done = !ev[0] || elast[0];
  assign q_take = est_en && i_done && qnext_v && kready;

  // ---------------------------------------------------------------- exact unit
  // Five stages, each on its own query: DOT -> EXP -> DIV -> PV -> OUT (which also sends).
  // A stage runs a query, then holds it (full) until the next stage is free and takes it;
  // the free, run and full flags are registers, so each take is one LUT from flip-flops
  // and a hand-over costs one cycle. Up to five queries are in flight, and in the steady
  // state a query costs the longest stage plus its two hand-over cycles, not the sum of
  // the stages (DOT at the default D = 32, k = 16; DIV for small k; EXP for D <= 2).
  // What a stage hands on it copies at the take (the selection, the max, the sum, the
  // exps, the reciprocal), because its predecessor starts the next query at once. The
  // one exception is xmem: EXP reads score j one cycle after its take plus j, and the next
  // query's score j reaches xmem a DOT pipeline later than that.
  logic               d_free, d_full;  // DOT (attn_issue_stage)
  logic               e_free, e_full;  // EXP (attn_issue_stage)
  logic               dv_free, dv_run, dv_full;  // DIV
  logic               p_free, p_full;  // PV (attn_issue_stage)
  logic               o_free, o_run, o_full;  // OUT; o_full: the output beat is valid
  logic               d_take, e_take, dv_take, p_take, o_take;
  assign d_take = res_full && d_free;
  assign e_take = d_full && e_free;
  assign dv_take = e_full && dv_free;
  assign p_take = dv_full && p_free;
  assign o_take = p_full && o_free;

  // DOT: address, K row, D products, adder tree, score requant, running max
  logic [IDX_W-1:0]   d_sel[MAX_K];
  logic [D*8-1:0]     xq;
  /* verilator lint_off UNUSEDSIGNAL */  // slot index bits; all of them are the sequencer's
  logic [K_W-1:0]     d_iss, d_wc;  // slots issued / completed (attn_issue_stage)
  /* verilator lint_on UNUSEDSIGNAL */
  logic               d_issue, d0_v;
  logic [SC_LAT-1:0]  dvp;
  // the K row: read in the issue cycle, then a register between the block RAM and the
  // multipliers (its output register), so neither path holds both
  logic [D*8-1:0]     d_krow, d_kq;
  logic [D*P8_W-1:0]  d_prod;
  logic [DOT_W-1:0]   d_dot;
  logic signed [SCORE_BITS-1:0] score_y, xmem[MAX_K], xmax;

  reduce_tree #(.N(D), .IW(P8_W), .OW(DOT_W)) u_dot (
      .clk(clk), .en(1'b1), .in(d_prod), .out(d_dot));
  requant #(.OUT_BITS(SCORE_BITS)) u_score (
      .clk(clk), .en(1'b1), .acc(32'($signed(d_dot))), .bias(32'sd0), .mult(score_mult),
      .shift(score_shift), .narrow(1'b0), .y(score_y));

  // EXP: i-exp of x - max (sim/golden/nonlinear.py:int_exp), one stage per step, summed
  logic [IDX_W-1:0]   e_sel[MAX_K];
  logic signed [SCORE_BITS-1:0] e_xmax;
  /* verilator lint_off UNUSEDSIGNAL */  // slot index bits; all of them are the sequencer's
  logic [K_W-1:0]     e_iss, e_wc;  // slots issued / completed (attn_issue_stage)
  /* verilator lint_on UNUSEDSIGNAL */
  logic               e_issue, e0_v;
  logic [EX_LAT-1:0]  evp;
  logic signed [SCORE_BITS-1:0] e_x;
  logic [A_W:0]       e_a;            // max - x (>= 0), then clamped to q_cap
  logic [CAP_W-1:0]   e_rem[Z_W+1];   // remainder of the division by q_ln2, step by step
  logic [Z_W-1:0]     e_z[Z_W+1];
  logic signed [T_W-1:0] e_t;
  logic [Z_W-1:0]     e_zt, e_zs, e_zp;
  logic signed [2*T_W-1:0] e_sq;
  logic signed [POLY_W-1:0] e_poly;
  logic [E_W-1:0]     e_e, emem[MAX_K];
  logic [TOTAL_W-1:0] total;

  // DIV: radix-4 restoring division 2^RECIP_BITS / total
  logic [IDX_W-1:0]   dv_sel[MAX_K];
  logic [E_W-1:0]     dv_emem[MAX_K];
  logic [TOTAL_W-1:0] dv_total;
  logic [TOTAL_W+1:0] total3;
  logic [DV_CNT_W-1:0] dv_cnt;
  logic               dv_clast;  // dv_cnt at the last digit: a look-ahead flag
  logic [DD_W-1:0]    dd;       // the quotient digit of this step
  logic [TOTAL_W-1:0] rem;
  logic [RECIP_W-1:0] recip;
  logic [TOTAL_W+2:0] r4, r4m1, r4m2, r4m3;

  // PV: e * recip, round, clip; the V row read meets p; p * v; accumulate
  logic [IDX_W-1:0]   p_sel[MAX_K];
  logic [E_W-1:0]     p_emem[MAX_K];
  logic [RECIP_W-1:0] p_recip;
  logic [K_W-1:0]     p_iss;
  /* verilator lint_off UNUSEDSIGNAL */  // PV's results need no slot: only the sequencer counts
  logic [K_W-1:0]     p_wc;
  /* verilator lint_on UNUSEDSIGNAL */
  logic               p_issue, p0_v, p0_first;
  logic [E_W-1:0]     p0_e;
  logic [IDX_W-1:0]   p_addr[MUL_LAT+1];
  logic [PV_LAT-1:0]  pvp, pfirst;
  logic [PP_W-1:0]    p_prod, p_round;
  logic [PROB_BITS-1:0] p_p;
  logic [D*8-1:0]     p_vrow, p_vq;  // V row read a cycle early, then registered (as K)
  logic signed [P8_W-1:0] p_pv[D];
  logic signed [31:0] acc[D];

  // OUT: the D output requant lanes read acc, which stays put until PV's next query
  // accumulates (at least a PV pipeline after the take); the result waits in o_y to be sent
  logic [IDX_W-1:0]   o_sel[MAX_K];
  logic [O_CNT_W-1:0] o_cnt;
  logic               o_clast;
  logic [D*8-1:0]     out_y, o_y;

  attn_mul #(.A_W(E_W), .B_W(RECIP_W), .OUT_W(PP_W), .A_CHUNK(MUL_A_CHUNK),
             .B_CHUNK(MUL_B_CHUNK)) u_pmul (
      .clk(clk), .en(1'b1), .a(p0_e), .b(p_recip), .p(p_prod));

  for (genvar i = 0; i < D; i++) begin : g_out
    requant #(.OUT_BITS(8)) u_out (
        .clk(clk), .en(1'b1), .acc(acc[i]), .bias(32'sd0), .mult(out_mult),
        .shift(out_shift), .narrow(1'b0), .y(out_y[8*i +: 8]));
  end

  assign m_axis_out_tdata = o_y;
  assign m_axis_out_tvalid = o_full;
  assign m_axis_out_tlast = qout == len_m1;
  always_comb begin
    for (int i = 0; i < MAX_K; i++) begin
      m_axis_out_tuser[IDX_W*i +: IDX_W] = o_sel[i];
    end
  end

  // division step operands
  always_comb begin
    r4 = {1'b0, rem, DIVIDEND[2*dd +: 2]};
    r4m1 = r4 - (TOTAL_W + 3)'(dv_total);
    r4m2 = r4 - ((TOTAL_W + 3)'(dv_total) << 1);
    r4m3 = r4 - (TOTAL_W + 3)'(total3);
  end

  // ---------------------------------------------------------------- datapath registers
  always_ff @(posedge clk) begin
    // K row memories, and the K scale: abs, max tree, running max
    if (k_fire) kmem[kcnt[IDX_W-1:0]] <= s_axis_k_tdata;
    if (v_fire) vmem[vcnt[IDX_W-1:0]] <= s_axis_v_tdata;
    ka_ax <= abs_row(s_axis_k_tdata);

    // Q pipeline
    if (q_en) begin
      qrow_p[0] <= s_axis_q_tdata;
      for (int s = 1; s <= Q_CODE; s++) qrow_p[s] <= qrow_p[s-1];
      qax_p[1] <= abs_row(qrow_p[0]);
      for (int s = 2; s <= TREE_LAT + 2; s++) qax_p[s] <= qax_p[s-1];
      q_thr <= thresholds(q_m);
      q_zero <= q_m == 8'd0;
    end

    // estimator pipeline
    if (est_en) begin
      for (int s = 1; s <= E_EST; s++) begin
        ej[s] <= ej[s-1];
        eqr[s] <= eqr[s-1];
      end
      for (int s = 1; s <= E_CODE; s++) eqc[s] <= eqc[s-1];
      e_krow <= kmem[ej[0]];
      e_kax <= abs_row(e_krow);
      e_ksign <= sign_row(e_krow);
      if (ins_v) begin
        for (int i = 0; i < MAX_K; i++) begin
          slot_est[i] <= nx_est[i];
          slot_idx[i] <= nx_idx[i];
        end
        if (ins_last) begin
          for (int i = 0; i < MAX_K; i++) res_idx[i] <= nx_idx[i];
          res_q <= eqr[E_EST];
        end
      end
    end

    // exact unit: DOT
    d_krow <= kmem[d_sel[d_iss[SI_W-1:0]]];
    d_kq <= d_krow;
    for (int i = 0; i < D; i++) begin
      d_prod[P8_W*i +: P8_W] <= P8_W'($signed(xq[8*i +: 8]) * $signed(d_kq[8*i +: 8]));
    end
    // EXP
    e_a <= (A_W + 1)'(e_xmax) - (A_W + 1)'(e_x);
    e_rem[0] <= CMP_W'(e_a) > CMP_W'(q_cap) ? q_cap : CAP_W'(e_a);  // SAT_EXP
    e_z[0] <= '0;
    for (int b = 0; b < Z_W; b++) begin
      // step b: quotient bit Z_W-1-b of (max - x) / q_ln2
      if (e_rem[b] >= (CAP_W'(q_ln2) << (Z_W - 1 - b))) begin
        e_rem[b+1] <= e_rem[b] - (CAP_W'(q_ln2) << (Z_W - 1 - b));
        e_z[b+1] <= e_z[b] | (Z_W'(1) << (Z_W - 1 - b));
      end else begin
        e_rem[b+1] <= e_rem[b];
        e_z[b+1] <= e_z[b];
      end
    end
    e_t <= $signed({1'b0, q_b}) - $signed({1'b0, e_rem[Z_W][Q_W-1:0]});
    e_zt <= e_z[Z_W];
    e_sq <= e_t * e_t;
    e_zs <= e_zt;
    e_poly <= POLY_W'(e_sq) + POLY_W'(q_c);
    e_zp <= e_zs;
    e_e <= E_W'(e_poly >>> e_zp);
    // PV
    p_round <= p_prod + (PP_W'(1) << (PROB_SHIFT - 1));
    p_p <= (p_round >> PROB_SHIFT) > PP_W'(PROB_MAX) ? PROB_MAX : PROB_BITS'(p_round >> PROB_SHIFT);
    for (int s = 1; s < MUL_LAT + 1; s++) p_addr[s] <= p_addr[s-1];
    p_vrow <= vmem[p_addr[MUL_LAT]];
    p_vq <= p_vrow;
    for (int i = 0; i < D; i++) begin
      p_pv[i] <= P8_W'($signed({1'b0, p_p}) * $signed(p_vq[8*i +: 8]));
    end

    // exact unit: what each take hands on, and each stage's issue registers
    if (d_take) begin
      for (int i = 0; i < MAX_K; i++) d_sel[i] <= res_idx[i];
      xq <= res_q;
    end
    if (e_take) begin
      for (int i = 0; i < MAX_K; i++) e_sel[i] <= d_sel[i];
      e_xmax <= xmax;
    end
    if (dv_take) begin
      for (int i = 0; i < MAX_K; i++) begin
        dv_sel[i] <= e_sel[i];
        dv_emem[i] <= emem[i];
      end
      dv_total <= total;
    end
    if (p_take) begin
      for (int i = 0; i < MAX_K; i++) begin
        p_sel[i] <= dv_sel[i];
        p_emem[i] <= dv_emem[i];
      end
      p_recip <= recip;
    end
    if (o_take) begin
      for (int i = 0; i < MAX_K; i++) o_sel[i] <= K_W'(i) < kk ? p_sel[i] : '0;  // unused: 0
    end
    if (o_run && o_clast) o_y <= out_y;
    e_x <= xmem[e_iss[SI_W-1:0]];
    p0_e <= p_emem[p_iss[SI_W-1:0]];
    p0_first <= p_iss == '0;
    p_addr[0] <= p_sel[p_iss[SI_W-1:0]];
  end

  // DOT, EXP and PV issue a query's kept slots one per cycle into their pipelines and
  // collect the results at its end: the same sequencing each
  attn_issue_stage #(.K_W(K_W)) u_dot_seq (
      .clk, .rst_n, .take(d_take), .give(e_take), .result(dvp[SC_LAT-1]),
      .kk, .kk_m1, .kk_m2, .free(d_free), .full(d_full), .issue(d_issue), .iss(d_iss),
      .wc(d_wc));
  attn_issue_stage #(.K_W(K_W)) u_exp_seq (
      .clk, .rst_n, .take(e_take), .give(dv_take), .result(evp[EX_LAT-1]),
      .kk, .kk_m1, .kk_m2, .free(e_free), .full(e_full), .issue(e_issue), .iss(e_iss),
      .wc(e_wc));
  attn_issue_stage #(.K_W(K_W)) u_pv_seq (
      .clk, .rst_n, .take(p_take), .give(o_take), .result(pvp[PV_LAT-1]),
      .kk, .kk_m1, .kk_m2, .free(p_free), .full(p_full), .issue(p_issue), .iss(p_iss),
      .wc(p_wc));

  // ---------------------------------------------------------------- control
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      tstate <= T_IDLE;
      {dv_free, o_free} <= '1;
      {dv_run, o_run} <= '0;
      {dv_full, o_full} <= '0;
      busy <= 1'b0;
      done <= 1'b0;
      km_v <= '0;
      kready <= 1'b0;
      qv <= '0;
      ev <= '0;
      ins_vlast <= 1'b0;
      q_open <= 1'b0;
      res_full <= 1'b0;
      d0_v <= 1'b0;
      dvp <= '0;
      e0_v <= 1'b0;
      evp <= '0;
      p0_v <= 1'b0;
      pvp <= '0;
    end else begin
      done <= 1'b0;
      if (ev[0] && est_en) perf_estimate_cycles <= perf_estimate_cycles + 1;
      if (!(d_free && e_free && dv_free && p_free && o_free)) begin  // a query in the unit
        perf_exact_cycles <= perf_exact_cycles + 1;
      end
      q_cap <= CAP_W'(EXP_MAX_SHIFT) * CAP_W'(q_ln2);

      // K scale: valid along abs and tree, then the running max and the thresholds
      km_v <= (km_v << 1) | (TREE_LAT + 1)'(k_fire);
      if (km_v[TREE_LAT] && km_out > kmax) kmax <= km_out;
      if (tstate == T_RUN && !kready && km_v == '0) begin
        kthr <= thresholds(kmax);
        kzero <= kmax == 8'd0;
        kready <= 1'b1;
      end

      case (tstate)
        T_IDLE: if (start) begin
          busy <= 1'b1;
          len <= cfg_len;
          len_m1 <= cfg_len - 1'b1;
          len_m2 <= cfg_len - LEN_W'(2);
          kk <= LEN_W'(cfg_k) > cfg_len ? K_W'(cfg_len) : cfg_k;  // min(k, L)
          kk_m1 <= LEN_W'(cfg_k) > cfg_len ? K_W'(cfg_len - 1'b1) : cfg_k - 1'b1;
          kk_m2 <= LEN_W'(cfg_k) > cfg_len ? K_W'(cfg_len - LEN_W'(2)) : cfg_k - K_W'(2);
          score_mult <= cfg_score_mult;
          score_shift <= cfg_score_shift;
          out_mult <= cfg_out_mult;
          out_shift <= cfg_out_shift;
          q_ln2 <= cfg_exp_q_ln2[Q_W-1:0];
          q_b <= cfg_exp_q_b[Q_W-1:0];
          q_c <= cfg_exp_q_c;
          kcnt <= '0;
          vcnt <= '0;
          qacc <= '0;
          qout <= '0;
          kmax <= 8'd0;
          kready <= 1'b0;
          perf_estimate_cycles <= '0;
          perf_exact_cycles <= '0;
          tstate <= cfg_len == '0 ? T_IDLE : T_LOAD;
          if (cfg_len == '0) begin
            busy <= 1'b0;
            done <= 1'b1;
          end
        end
        T_LOAD: begin
          if (k_fire) kcnt <= kcnt + 1'b1;
          if (v_fire) vcnt <= vcnt + 1'b1;
          if (k_last_beat && v_last_beat) begin
            tstate <= T_RUN;
            q_open <= 1'b1;
          end
        end
        default: ;  // T_RUN: the units below; the last send ends the run
      endcase

      // Q pipeline valids
      if (q_en) begin
        qv <= {qv[Q_CODE-1:0], q_fire};
        if (q_fire) begin
          qacc <= qacc + 1'b1;
          if (qacc == len_m1) q_open <= 1'b0;
        end
      end

      // estimator: issue keys 0..L-1 of each query, back to back
      if (est_en) begin
        ev[E_EST:1] <= ev[E_EST-1:0];
        efirst[E_EST:1] <= efirst[E_EST-1:0];
        elast[E_EST:1] <= elast[E_EST-1:0];
        if (!i_done) begin
          ej[0] <= ej[0] + 1'b1;
          efirst[0] <= 1'b0;
          elast[0] <= LEN_W'(ej[0]) == len_m2;
        end else if (q_take) begin
          ev[0] <= 1'b1;
          ej[0] <= '0;
          efirst[0] <= 1'b1;
          elast[0] <= len_m1 == '0;
          eqc[0] <= qnext_code;
          eqr[0] <= qrow_p[Q_CODE];
        end else begin
          ev[0] <= 1'b0;
        end
        if (ins_v) slot_v <= nx_v;
        ins_vlast <= ev[E_EST-1] && elast[E_EST-1];
      end
      if (est_en && ins_vlast) res_full <= 1'b1;
      else if (d_take) res_full <= 1'b0;

      // exact unit pipelines' valids
      dvp <= {dvp[SC_LAT-2:0], d0_v};
      evp <= {evp[EX_LAT-2:0], e0_v};
      pvp <= {pvp[PV_LAT-2:0], p0_v};
      pfirst <= {pfirst[PV_LAT-2:0], p0_first};
      d0_v <= d_issue;
      e0_v <= e_issue;
      p0_v <= p_issue;

      // DOT: the scores and their max
      if (dvp[SC_LAT-1]) begin
        xmem[d_wc[SI_W-1:0]] <= score_y;
        if (d_wc == '0 || score_y > xmax) xmax <= score_y;
      end

      // EXP: i-exp of each score against the max, summed
      if (e_take) total <= '0;
      if (evp[EX_LAT-1]) begin
        emem[e_wc[SI_W-1:0]] <= e_e;
        total <= total + TOTAL_W'(e_e);
      end

      // DIV: cycle 0 forms 3 * total and clears the remainder; then one digit per cycle
      if (dv_take) begin
        dv_free <= 1'b0;
        dv_run <= 1'b1;
        dv_cnt <= '0;
        dv_clast <= 1'b0;
      end
      if (dv_run) begin
        dv_cnt <= dv_cnt + 1'b1;
        dv_clast <= dv_cnt == DV_CNT_W'(NDIG - 1);
        if (dv_clast) begin
          dv_run <= 1'b0;
          dv_full <= 1'b1;
        end
        if (dv_cnt == '0) begin
          total3 <= (TOTAL_W + 2)'(dv_total) + ((TOTAL_W + 2)'(dv_total) << 1);
          rem <= '0;
          dd <= DD_W'(NDIG - 1);
        end else begin
          if (!r4m3[TOTAL_W+2]) begin
            rem <= TOTAL_W'(r4m3);
            recip <= {recip[RECIP_W-3:0], 2'd3};
          end else if (!r4m2[TOTAL_W+2]) begin
            rem <= TOTAL_W'(r4m2);
            recip <= {recip[RECIP_W-3:0], 2'd2};
          end else if (!r4m1[TOTAL_W+2]) begin
            rem <= TOTAL_W'(r4m1);
            recip <= {recip[RECIP_W-3:0], 2'd1};
          end else begin
            rem <= TOTAL_W'(r4);
            recip <= {recip[RECIP_W-3:0], 2'd0};
          end
          dd <= dd - 1'b1;
        end
      end
      if (p_take) begin
        dv_full <= 1'b0;
        dv_free <= 1'b1;
      end

      // PV: probability times each kept V row, accumulated
      if (pvp[PV_LAT-1]) begin
        for (int i = 0; i < D; i++) acc[i] <= (pfirst[PV_LAT-1] ? 32'sd0 : acc[i]) + 32'(p_pv[i]);
      end

      // OUT: RQ_LAT cycles of the requant lanes, then the beat waits in o_y for tready
      if (o_take) begin
        o_free <= 1'b0;
        o_run <= 1'b1;
        o_cnt <= '0;
        o_clast <= RQ_LAT == 1;
      end
      if (o_run) begin
        o_cnt <= o_cnt + 1'b1;
        o_clast <= o_cnt == O_CNT_W'(RQ_LAT - 2);
        if (o_clast) begin
          o_run <= 1'b0;
          o_full <= 1'b1;
        end
      end
      if (o_full && m_axis_out_tready) begin
        o_full <= 1'b0;
        o_free <= 1'b1;
        qout <= qout + 1'b1;
        if (qout == len_m1) begin
          tstate <= T_IDLE;
          busy <= 1'b0;
          done <= 1'b1;
        end
      end
    end
  end
endmodule

/* verilator lint_off DECLFILENAME */
// The sequencing of an exact-unit stage that issues a query's k kept slots into its
// pipeline, one per cycle, and collects the k results: free -> (take) run -> (its last
// result) full -> (give: the next stage takes the query) free. Flags and counters are
// registers, so a take upstream is one LUT from flip-flops; `issue` is one compare.
module attn_issue_stage #(
    parameter int K_W = 3
) (
    input  logic           clk,
    input  logic           rst_n,
    input  logic           take,    // this stage takes a query (only while free)
    input  logic           give,    // the next stage takes it (only while full)
    input  logic           result,  // one of the query's results is back
    input  logic [K_W-1:0] kk,      // kept slots, minus 1, minus 2 (registered at start)
    input  logic [K_W-1:0] kk_m1,
    input  logic [K_W-1:0] kk_m2,
    output logic           free,
    output logic           full,
    output logic           issue,   // slot `iss` is issued this cycle
    output logic [K_W-1:0] iss,     // slots issued
    output logic [K_W-1:0] wc       // results collected
);
  logic run, wlast;  // wlast: wc == kk - 1, a look-ahead flag
  assign issue = run && iss != kk;
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      free <= 1'b1;
      run <= 1'b0;
      full <= 1'b0;
    end else begin
      if (take) begin
        free <= 1'b0;
        run <= 1'b1;
        iss <= '0;
        wc <= '0;
        wlast <= kk_m1 == '0;
      end
      if (issue) iss <= iss + 1'b1;
      if (result) begin
        wc <= wc + 1'b1;
        wlast <= wc == kk_m2;
        if (wlast) begin
          run <= 1'b0;
          full <= 1'b1;
        end
      end
      if (give) begin
        full <= 1'b0;
        free <= 1'b1;
      end
    end
  end
endmodule

// Unsigned A_W x B_W product modulo 2^OUT_W: A_CHUNK x B_CHUNK partial products (one DSP
// each) in the first stage, then an adder tree over them, one level per stage.
module attn_mul #(
    parameter int A_W = 32,
    parameter int B_W = 42,
    parameter int OUT_W = 42,
    parameter int A_CHUNK = 16,
    parameter int B_CHUNK = 24
) (
    input  logic             clk,
    input  logic             en,
    input  logic [A_W-1:0]   a,
    input  logic [B_W-1:0]   b,
    output logic [OUT_W-1:0] p
);
  localparam int NA = (A_W + A_CHUNK - 1) / A_CHUNK;
  localparam int NB = (B_W + B_CHUNK - 1) / B_CHUNK;
  localparam int PW = A_CHUNK + B_CHUNK;
  logic [NA*A_CHUNK-1:0] ax;
  logic [NB*B_CHUNK-1:0] bx;
  logic [NA*NB*OUT_W-1:0] pp;  // partial products, shifted into place
  assign ax = (NA * A_CHUNK)'(a);
  assign bx = (NB * B_CHUNK)'(b);
  always_ff @(posedge clk) begin
    if (en) begin
      for (int i = 0; i < NA; i++) begin
        for (int j = 0; j < NB; j++) begin
          pp[OUT_W*(i*NB + j) +: OUT_W] <= OUT_W'(PW'(ax[A_CHUNK*i +: A_CHUNK])
                                                  * PW'(bx[B_CHUNK*j +: B_CHUNK]))
                                           << (i*A_CHUNK + j*B_CHUNK);
        end
      end
    end
  end
  reduce_tree #(.N(NA*NB), .IW(OUT_W), .OW(OUT_W)) u_sum (
      .clk(clk), .en(en), .in(pp), .out(p));
endmodule

// quantize4 of a row by threshold compares (sim/golden/sparse_attention.py:quantize4):
// |x'| = #{j : 2 Q4_MAX |x| >= (2j - 1) m}, 0 where m = 0. attn_pkg::Q4_STAGES stages:
// the constant multiple 2 Q4_MAX |x|; each compare as two half-width compares (high part
// greater or equal, low part at least); their combination; the count with the sign.
// For Q4_MAX = 2^n - 1 (the 4-bit code's 7) the multiple is one subtract,
// (|x| << n+1) - (|x| << 1): a product by a constant costs Yosys a DSP48E2 per lane.
module attn_q4_row #(
    parameter int D = 8,
    parameter int Q4_MAX = 7,
    parameter int TH_W = 11
) (
    input  logic                   clk,
    input  logic                   en,
    input  logic [D-1:0]           sign,
    input  logic [D*8-1:0]         ax,    // |x| per lane
    input  logic [Q4_MAX*TH_W-1:0] thr,   // (2j - 1) m, j = 1..Q4_MAX
    input  logic                   zero,  // m = 0
    output logic [D*4-1:0]         code
);
  localparam int LO_W = TH_W / 2;  // the compares split here
  localparam int HI_W = TH_W - LO_W;
  localparam int Q4_SH = $clog2(Q4_MAX + 1);
  logic [D*TH_W-1:0]     ax2, ax2_d;  // 2 Q4_MAX |x|: registered, and its input
  logic [D-1:0]          sign1, sign2, sign3;
  logic [Q4_MAX*TH_W-1:0] thr1;
  logic                  zero1, zero2;
  logic [Q4_MAX-1:0]     gt_hi[D], eq_hi[D], ge_lo[D], ge[D];
  logic [3:0]            mag[D];
  always_comb begin
    for (int i = 0; i < D; i++) begin
      mag[i] = '0;
      for (int j = 0; j < Q4_MAX; j++) mag[i] = mag[i] + 4'(ge[i][j]);
    end
  end
  for (genvar i = 0; i < D; i++) begin : g_ax2
    if ((1 << Q4_SH) - 1 == Q4_MAX) begin : g_sub
      assign ax2_d[TH_W*i +: TH_W] = (TH_W'(ax[8*i +: 8]) << (Q4_SH + 1))
                                     - (TH_W'(ax[8*i +: 8]) << 1);
    end else begin : g_mul
      assign ax2_d[TH_W*i +: TH_W] = TH_W'(2 * Q4_MAX) * TH_W'(ax[8*i +: 8]);
    end
  end
  always_ff @(posedge clk) begin
    if (en) begin
      ax2 <= ax2_d;
      sign1 <= sign;
      thr1 <= thr;
      zero1 <= zero;
      for (int i = 0; i < D; i++) begin
        for (int j = 0; j < Q4_MAX; j++) begin
          gt_hi[i][j] <= ax2[TH_W*i + LO_W +: HI_W] > thr1[TH_W*j + LO_W +: HI_W];
          eq_hi[i][j] <= ax2[TH_W*i + LO_W +: HI_W] == thr1[TH_W*j + LO_W +: HI_W];
          ge_lo[i][j] <= ax2[TH_W*i +: LO_W] >= thr1[TH_W*j +: LO_W];
        end
      end
      sign2 <= sign1;
      zero2 <= zero1;
      for (int i = 0; i < D; i++) ge[i] <= zero2 ? '0 : gt_hi[i] | (eq_hi[i] & ge_lo[i]);
      sign3 <= sign2;
      for (int i = 0; i < D; i++) code[4*i +: 4] <= sign3[i] ? 4'(-mag[i]) : mag[i];
    end
  end
endmodule

// One lane's read of the 4x4-bit product table, registered. A copy per lane, each with a
// single read port: one table with D read ports made Yosys 0.70's memory_libmap crash
// (D >= 16), and a single-port ROM maps to LUTs or a block RAM like any other.
module attn_est_rom #(
    parameter int AW = 8,
    parameter LUT_FILE = "estimate_lut.hex"
) (
    input  logic          clk,
    input  logic          en,
    input  logic [AW-1:0] addr,
    output logic [7:0]    data
);
  logic [7:0] rom[1 << AW];
  initial $readmemh(LUT_FILE, rom);
  always_ff @(posedge clk) begin
    if (en) data <= rom[addr];
  end
endmodule
/* verilator lint_on DECLFILENAME */
