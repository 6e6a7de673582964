// Residual add + integer LayerNorm over the N channels of each token, LANES per beat:
//   x   = saturate(branch + requantize(skip, align.mult[ch], align.shift[ch], RES_BITS))
//   out = int_layernorm(x, ln)
// exactly as sim/golden/encoder.py (residual_add) and sim/golden/nonlinear.py
// (int_layernorm): mean = (sum x + N/2) // N, std = max(isqrt(sum (x-mean)^2), STD_MIN),
// recip = 2^RECIP_BITS // std, qn = sat((y*recip + 2^(R-K-1)) >> (R-K)), requantize(
// sat32(qn*gamma + beta), mult[ch], shift[ch], OUT_BITS).
//
// Streams (AXI4-Stream, element i of a beat at [W*i +: W], little-endian):
//   s_axis_branch  N/LANES beats per token of LANES x int16 (RES_BITS), channel order
//   s_axis_skip    N/LANES beats per token of LANES x int8 (SKIP_BITS), beside branch
//                  (the two are joined: a beat moves when both are valid); the tlast of
//                  both is framing only, the unit counts N/LANES beats per token
//   m_axis_out     N/LANES beats per token of LANES x int8, tlast on each token's last
//   s_axis_prm     parameter load, one beat per record, always ready. Header:
//                    [7:0] kind, [15:8] set, [31:16] word (channels word*LANES ..+LANES-1);
//                  payload from bit 32:
//                  kind 0 (PRM_ALIGN): LANES x u16 align mult (15 bits used),
//                    LANES x u8 align shift
//                  kind 1 (PRM_NORM): LANES x i16 gamma (GAMMA_BITS used), LANES x i32 beta,
//                    LANES x u16 out mult, LANES x u8 out shift
//                  (sim/rtl/vector_case.py packs these.) Load while no token of that set
//                  is in flight.
//   cfg_set        the parameter set of the tokens that follow (latched at a token's
//                  first beat)
//
// Dataflow, pipelined across tokens (docs/rtl.md, "Vector units", has the cycle formula):
//   input pass   one beat per cycle: align (requant), add, saturate, write x to the
//                token's slot of the buffer, and sum x and x*x (adder trees, then a token
//                accumulator). Free-running; a token starts only when a slot is free.
//   scalar pass  per token, fully pipelined (a new token every cycle if need be):
//                mean by an exact multiply with MEAN_MULT / 2^MEAN_SHIFT (vector_case.py
//                proves it), sum (x-mean)^2 = sum x^2 - mean*(2 sum x - N mean),
//                isqrt_pipe (one stage per root bit), clamp, recip_pipe (one stage per
//                quotient bit); the token's (set, mean, recip) go into a record FIFO.
//   output pass  reads the slot back one beat per cycle: y = x - mean, y*recip, round
//                shift, saturate, *gamma, requant (+beta, mult, shift); every stage is
//                held while m_axis_out is back-pressured (en = tready || !tvalid).
// Token t+1's input and scalar passes overlap token t's output pass: the interval per
// token is N/LANES cycles. NSLOT token slots cover the latency between the passes.
module residual_layernorm #(
    parameter int LANES = 8,
    parameter int N = 32,             // channels per token (the hidden size), N/LANES >= 2
    parameter int MAX_SETS = 2,       // parameter sets (layer * 2 + which LayerNorm)
    parameter int RES_BITS = 16,      // sim/golden/params.py: RES_BITS
    parameter int SKIP_BITS = 8,      // ACT_BITS: the skip input
    parameter int OUT_BITS = 8,       // ACT_BITS: the output
    parameter int MULT_W = 15,        // sim/golden/requant.py: MULT_BITS
    parameter int SHIFT_W = 6,        // requantize shifts in [1, 62]
    parameter int RECIP_BITS = 40,    // sim/golden/nonlinear.py: LN_RECIP_BITS
    parameter int NORM_BITS = 14,     // LN_NORM_BITS
    parameter int NORM_SAT_BITS = 16, // LN_NORM_SAT_BITS
    parameter int GAMMA_BITS = 12,    // GAMMA_BITS
    parameter int STD_MIN = 1,        // LN_STD_MIN
    parameter int MEAN_MULT = 2097152,   // vector_case.py:mean_divider(N) (these: N = 32):
    parameter int MEAN_SHIFT = 26,       //   floor(t/N) = (t * MEAN_MULT) >> MEAN_SHIFT
    localparam int BEATS = N / LANES,
    localparam int BEAT_W = $clog2(BEATS),
    localparam int SET_W = MAX_SETS > 1 ? $clog2(MAX_SETS) : 1,
    localparam int HDR_W = 32,
    localparam int MULT_F = 16,       // byte-aligned fields (see the stream table)
    localparam int SHIFT_F = 8,
    localparam int GAMMA_F = 16,
    localparam int BIAS_W = 32,
    localparam int PRM_W = HDR_W + (GAMMA_F + BIAS_W + MULT_F + SHIFT_F) * LANES
) (
    input  logic                       clk,
    input  logic                       rst_n,
    input  logic [SET_W-1:0]           cfg_set,
    // parameters
    /* verilator lint_off UNUSEDSIGNAL */  // padding bits of the byte-aligned layout
    input  logic [PRM_W-1:0]           s_axis_prm_tdata,
    input  logic                       s_axis_prm_tvalid,
    output logic                       s_axis_prm_tready,
    input  logic                       s_axis_prm_tlast,  // framing only
    /* verilator lint_on UNUSEDSIGNAL */
    // data
    input  logic [LANES*RES_BITS-1:0]  s_axis_branch_tdata,
    input  logic                       s_axis_branch_tvalid,
    output logic                       s_axis_branch_tready,
    /* verilator lint_off UNUSEDSIGNAL */
    input  logic                       s_axis_branch_tlast,  // framing only: N/LANES beats
    input  logic                       s_axis_skip_tlast,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic [LANES*SKIP_BITS-1:0] s_axis_skip_tdata,
    input  logic                       s_axis_skip_tvalid,
    output logic                       s_axis_skip_tready,
    output logic [LANES*OUT_BITS-1:0]  m_axis_out_tdata,
    output logic                       m_axis_out_tvalid,
    input  logic                       m_axis_out_tready,
    output logic                       m_axis_out_tlast
);
  // ---------------------------------------------------------------- depths and widths
  localparam int LAT = requant_pkg::LATENCY;
  localparam int TREE = $clog2(LANES);
  localparam int IN_STAGES = 5;      // accept, add, saturate, square, accumulate (+ LAT, TREE)
  localparam int SCALAR_STAGES = 11;  // P1..P8, P3a, P7a, the std clamp (+ isqrt, recip)
  localparam int OUT_STAGES = 7;     // read, y, y*hi|y*lo, carry, add, saturate, *gamma (+ LAT)
  localparam int CLOG_N = $clog2(N);
  localparam int SX_W = RES_BITS + CLOG_N + 1;   // sum x, signed
  localparam int VAR_W = 2 * RES_BITS + CLOG_N;  // sum x^2 and sum (x-mean)^2 < N * 2^32
  localparam int SQ_W = 2 * RES_BITS;            // x^2, as a signed tree input
  localparam int ROOT_W = (VAR_W + 1) / 2;
  localparam int Q_W = RECIP_BITS + 1;           // 2^RECIP_BITS // std, std >= 1
  localparam int M_W = RES_BITS + 1;             // mean, signed
  localparam int MM_W = $clog2(MEAN_MULT + 1);
  localparam int N_W = CLOG_N + 2;               // N as a signed factor
  localparam int Y_W = RES_BITS + 2;             // x - mean
  localparam int RSH = RECIP_BITS - NORM_BITS;   // the round shift of qn
  localparam int R_W = Y_W + Q_W + 1 - RSH;      // (y * recip) >> RSH, |y * recip| < 2^57
  localparam int G_W = NORM_SAT_BITS + GAMMA_BITS;
  localparam int ACC_W = 32;
  localparam int REC_LAT = IN_STAGES + LAT + TREE + SCALAR_STAGES + ROOT_W + Q_W;
  // a slot is held from its first input beat to its last read: about 2*BEATS + REC_LAT
  localparam int NSLOT = (3 * BEATS + REC_LAT + 1) / BEATS + 1;
  localparam int SLOT_W = $clog2(NSLOT);
  localparam int CNT_W = $clog2(NSLOT + 1);
  localparam int AROW_W = LANES * (MULT_W + SHIFT_W);
  localparam int NLANE_W = GAMMA_BITS + BIAS_W + MULT_W + SHIFT_W;
  localparam int NROW_W = LANES * NLANE_W;
  localparam int REC_W = SET_W + M_W + Q_W;
  localparam logic [7:0] PRM_ALIGN = 8'd0;
  localparam logic [7:0] PRM_NORM = 8'd1;
  localparam logic [BEAT_W-1:0] LAST_BEAT = BEAT_W'(BEATS - 1);
  localparam logic [SLOT_W-1:0] LAST_SLOT = SLOT_W'(NSLOT - 1);

  function automatic int unsigned prm_addr(logic [SET_W-1:0] set, logic [BEAT_W-1:0] word);
    return int'(set) * BEATS + int'(word);
  endfunction

  function automatic int unsigned buf_addr(logic [SLOT_W-1:0] slot, logic [BEAT_W-1:0] beat);
    return int'(slot) * BEATS + int'(beat);
  endfunction

  // ---------------------------------------------------------------- parameters
  logic [AROW_W-1:0] amem[MAX_SETS * BEATS];
  logic [NROW_W-1:0] nmem[MAX_SETS * BEATS];
  logic [7:0] prm_kind;
  logic [SET_W-1:0] prm_set;
  logic [BEAT_W-1:0] prm_word;
  logic [AROW_W-1:0] prm_arow;
  logic [NROW_W-1:0] prm_nrow;

  assign s_axis_prm_tready = 1'b1;
  assign prm_kind = s_axis_prm_tdata[7:0];
  assign prm_set = s_axis_prm_tdata[8 +: SET_W];
  assign prm_word = s_axis_prm_tdata[16 +: BEAT_W];

  always_comb begin
    for (int i = 0; i < LANES; i++) begin
      prm_arow[(MULT_W+SHIFT_W)*i +: MULT_W] = s_axis_prm_tdata[HDR_W + MULT_F*i +: MULT_W];
      prm_arow[(MULT_W+SHIFT_W)*i + MULT_W +: SHIFT_W] =
          s_axis_prm_tdata[HDR_W + MULT_F*LANES + SHIFT_F*i +: SHIFT_W];
      prm_nrow[NLANE_W*i +: GAMMA_BITS] = s_axis_prm_tdata[HDR_W + GAMMA_F*i +: GAMMA_BITS];
      prm_nrow[NLANE_W*i + GAMMA_BITS +: BIAS_W] =
          s_axis_prm_tdata[HDR_W + GAMMA_F*LANES + BIAS_W*i +: BIAS_W];
      prm_nrow[NLANE_W*i + GAMMA_BITS + BIAS_W +: MULT_W] =
          s_axis_prm_tdata[HDR_W + (GAMMA_F+BIAS_W)*LANES + MULT_F*i +: MULT_W];
      prm_nrow[NLANE_W*i + GAMMA_BITS + BIAS_W + MULT_W +: SHIFT_W] =
          s_axis_prm_tdata[HDR_W + (GAMMA_F+BIAS_W+MULT_F)*LANES + SHIFT_F*i +: SHIFT_W];
    end
  end

  always_ff @(posedge clk) begin
    if (s_axis_prm_tvalid) begin
      if (prm_kind == PRM_ALIGN) amem[prm_addr(prm_set, prm_word)] <= prm_arow;
      else if (prm_kind == PRM_NORM) nmem[prm_addr(prm_set, prm_word)] <= prm_nrow;
    end
  end

  // ---------------------------------------------------------------- token slots
  logic [LANES*RES_BITS-1:0] xbuf[NSLOT * BEATS];
  logic [CNT_W-1:0] used;         // slots between a token's first beat and its last read
  logic [BEAT_W-1:0] in_beat;
  logic [SLOT_W-1:0] in_slot;
  logic [SET_W-1:0] in_set, tok_set;
  logic slot_ok, accept, alloc, free;

  assign slot_ok = in_beat != '0 || used < CNT_W'(NSLOT);
  assign accept = s_axis_branch_tvalid && s_axis_skip_tvalid && slot_ok;
  assign s_axis_branch_tready = s_axis_skip_tvalid && slot_ok;
  assign s_axis_skip_tready = s_axis_branch_tvalid && slot_ok;
  assign alloc = accept && in_beat == '0;
  assign tok_set = in_beat == '0 ? cfg_set : in_set;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      used <= '0;
      in_beat <= '0;
      in_slot <= '0;
    end else begin
      used <= used + CNT_W'(alloc) - CNT_W'(free);
      if (accept) begin
        in_beat <= in_beat == LAST_BEAT ? '0 : in_beat + 1'b1;
        if (in_beat == LAST_BEAT) in_slot <= in_slot == LAST_SLOT ? '0 : in_slot + 1'b1;
      end
    end
    if (alloc) in_set <= cfg_set;
  end

  // ---------------------------------------------------------------- input pass
  // A1: the accepted beat and its align word
  logic a1_v, a1_first, a1_last;
  logic [BEAT_W-1:0] a1_beat;
  logic [SLOT_W-1:0] a1_slot;
  logic [SET_W-1:0] a1_set;
  logic [LANES*SKIP_BITS-1:0] a1_skip;
  logic [AROW_W-1:0] a1_arow;
  // branch and bookkeeping wait beside the requant lanes: index k = A1 + k cycles
  logic [LANES*RES_BITS-1:0] br_d[LAT+1];
  logic [LAT:0] al_v, al_first, al_last;
  logic [BEAT_W-1:0] al_beat[LAT+1];
  logic [SLOT_W-1:0] al_slot[LAT+1];
  logic [SET_W-1:0] al_set[LAT+1];
  logic [LANES*RES_BITS-1:0] aligned;  // requant outputs, A1 + LAT

  always_ff @(posedge clk) begin
    if (!rst_n) a1_v <= 1'b0;
    else a1_v <= accept;
    a1_first <= in_beat == '0;
    a1_last <= in_beat == LAST_BEAT;
    a1_beat <= in_beat;
    a1_slot <= in_slot;
    a1_set <= tok_set;
    a1_skip <= s_axis_skip_tdata;
    br_d[0] <= s_axis_branch_tdata;
    a1_arow <= amem[prm_addr(tok_set, in_beat)];
  end

  always_comb begin
    al_v[0] = a1_v;
    al_first[0] = a1_first;
    al_last[0] = a1_last;
    al_beat[0] = a1_beat;
    al_slot[0] = a1_slot;
    al_set[0] = a1_set;
  end

  always_ff @(posedge clk) begin
    if (!rst_n) al_v[LAT:1] <= '0;
    else al_v[LAT:1] <= al_v[LAT-1:0];
    al_first[LAT:1] <= al_first[LAT-1:0];
    al_last[LAT:1] <= al_last[LAT-1:0];
    for (int k = 1; k <= LAT; k++) begin
      br_d[k] <= br_d[k-1];
      al_beat[k] <= al_beat[k-1];
      al_slot[k] <= al_slot[k-1];
      al_set[k] <= al_set[k-1];
    end
  end

  for (genvar i = 0; i < LANES; i++) begin : g_align
    logic signed [RES_BITS-1:0] y;
    requant #(.OUT_BITS(RES_BITS)) u_rq (
        .clk(clk), .en(1'b1), .acc(ACC_W'($signed(a1_skip[SKIP_BITS*i +: SKIP_BITS]))),
        .bias('0), .mult(a1_arow[(MULT_W+SHIFT_W)*i +: MULT_W]),
        .shift(a1_arow[(MULT_W+SHIFT_W)*i + MULT_W +: SHIFT_W]), .narrow(1'b0), .y(y));
    assign aligned[RES_BITS*i +: RES_BITS] = y;
  end

  // A8: add, A9: saturate (SAT_RESIDUAL) and write the slot, A10: square
  localparam logic signed [RES_BITS:0] X_MAX = (RES_BITS + 1)'((1 << (RES_BITS - 1)) - 1);
  localparam logic signed [RES_BITS:0] X_MIN = -(RES_BITS + 1)'(1 << (RES_BITS - 1));
  logic [LANES*(RES_BITS+1)-1:0] a8_sum;
  logic [LANES*RES_BITS-1:0] a9_x, a10_x;
  logic [LANES*SQ_W-1:0] a10_sq;
  logic [2:0] ap_v, ap_first, ap_last;  // A8, A9, A10
  logic [SLOT_W-1:0] a8_slot, a9_slot;
  logic [BEAT_W-1:0] a8_beat, a9_beat;
  logic [SET_W-1:0] ap_set[3];

  always_ff @(posedge clk) begin
    if (!rst_n) ap_v <= '0;
    else ap_v <= {ap_v[1:0], al_v[LAT]};
    ap_first <= {ap_first[1:0], al_first[LAT]};
    ap_last <= {ap_last[1:0], al_last[LAT]};
    ap_set[0] <= al_set[LAT];
    ap_set[1] <= ap_set[0];
    ap_set[2] <= ap_set[1];
    a8_slot <= al_slot[LAT];
    a8_beat <= al_beat[LAT];
    a9_slot <= a8_slot;
    a9_beat <= a8_beat;
    for (int i = 0; i < LANES; i++) begin
      logic signed [RES_BITS:0] s;
      a8_sum[(RES_BITS+1)*i +: RES_BITS+1] <=
          (RES_BITS + 1)'($signed(br_d[LAT][RES_BITS*i +: RES_BITS]))
          + (RES_BITS + 1)'($signed(aligned[RES_BITS*i +: RES_BITS]));
      s = $signed(a8_sum[(RES_BITS+1)*i +: RES_BITS+1]);
      if (s > X_MAX) a9_x[RES_BITS*i +: RES_BITS] <= X_MAX[RES_BITS-1:0];
      else if (s < X_MIN) a9_x[RES_BITS*i +: RES_BITS] <= X_MIN[RES_BITS-1:0];
      else a9_x[RES_BITS*i +: RES_BITS] <= s[RES_BITS-1:0];
      a10_sq[SQ_W*i +: SQ_W] <= SQ_W'($signed(a9_x[RES_BITS*i +: RES_BITS]))
                                * SQ_W'($signed(a9_x[RES_BITS*i +: RES_BITS]));
    end
    a10_x <= a9_x;
    if (ap_v[1]) xbuf[buf_addr(a9_slot, a9_beat)] <= a9_x;
  end

  // sums over the lanes, then over the token's beats
  logic signed [SX_W-1:0] tree_sx;
  logic signed [VAR_W:0] tree_sq;
  logic [TREE:0] tr_v, tr_first, tr_last;
  logic [SET_W-1:0] tr_set[TREE+1];
  logic signed [SX_W-1:0] acc_sx;
  logic signed [VAR_W:0] acc_sq;
  logic rec_v;
  logic [SET_W-1:0] rec_set;

  reduce_tree #(.N(LANES), .IW(RES_BITS), .OW(SX_W)) u_sum_x (
      .clk(clk), .en(1'b1), .in(a10_x), .out(tree_sx));
  reduce_tree #(.N(LANES), .IW(SQ_W), .OW(VAR_W + 1)) u_sum_sq (
      .clk(clk), .en(1'b1), .in(a10_sq), .out(tree_sq));

  always_comb begin
    tr_v[0] = ap_v[2];
    tr_first[0] = ap_first[2];
    tr_last[0] = ap_last[2];
    tr_set[0] = ap_set[2];
  end

  if (TREE > 0) begin : g_tree_delay
    always_ff @(posedge clk) begin
      if (!rst_n) tr_v[TREE:1] <= '0;
      else tr_v[TREE:1] <= tr_v[TREE-1:0];
      tr_first[TREE:1] <= tr_first[TREE-1:0];
      tr_last[TREE:1] <= tr_last[TREE-1:0];
      for (int k = 1; k <= TREE; k++) tr_set[k] <= tr_set[k-1];
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) rec_v <= 1'b0;
    else rec_v <= tr_v[TREE] && tr_last[TREE];
    if (tr_v[TREE]) begin
      acc_sx <= (tr_first[TREE] ? '0 : acc_sx) + tree_sx;
      acc_sq <= (tr_first[TREE] ? '0 : acc_sq) + tree_sq;
    end
    rec_set <= tr_set[TREE];
  end

  // ---------------------------------------------------------------- scalar pass
  localparam logic signed [SX_W:0] HALF_N = (SX_W + 1)'(N / 2);
  localparam logic [MM_W-1:0] MMULT = MM_W'(MEAN_MULT);
  localparam logic signed [N_W-1:0] N_S = N_W'(N);
  // P3 multiplies in two cycles: the halves of p2_t times MEAN_MULT (a DSP each, P3a),
  // then their sum, so that no path holds both a DSP and a wide adder
  localparam int P3_LO_W = SX_W / 2;
  localparam int P3_HI_W = SX_W - P3_LO_W;
  // P7 likewise: p6_mean times the halves of p6_v (P7a), then their sum
  localparam int P7_LO_W = (SX_W + 2) / 2;
  localparam int P7_HI_W = SX_W + 2 - P7_LO_W;
  logic [10:1] p_v;
  logic [SET_W-1:0] p_set[1:10];
  logic signed [P7_LO_W:0] p6_vlo;  // the low half, as a non-negative signed factor
  logic signed [P7_HI_W-1:0] p6_vhi;
  logic signed [M_W+P7_LO_W:0] p7a_lo;
  logic signed [M_W+P7_HI_W-1:0] p7a_hi;
  logic signed [M_W-1:0] p7a_mean;
  logic [VAR_W-1:0] p7a_sq;
  logic [P3_LO_W+MM_W-1:0] p3a_lo;
  logic [P3_HI_W+MM_W-1:0] p3a_hi;
  logic p3a_neg;
  logic signed [SX_W-1:0] p3a_sx;
  logic [VAR_W-1:0] p3a_sq;
  logic signed [SX_W:0] p1_s;
  logic signed [SX_W-1:0] p1_sx, p2_sx, p3_sx, p4_sx, p5_sx;
  logic [VAR_W-1:0] p1_sq, p2_sq, p3_sq, p4_sq, p5_sq, p6_sq, p7_sq;
  logic p2_neg, p3_neg;
  logic [SX_W-1:0] p2_t;
  logic signed [M_W-1:0] p4_mean, p5_mean, p6_mean, p7_mean, p8_mean;
  logic signed [M_W+N_W-1:0] p5_u;
  logic signed [SX_W+1:0] p6_v;
  /* verilator lint_off UNUSEDSIGNAL */  // the bits below the shift, and known-sign tops
  logic [SX_W+MM_W-1:0] p3_p;
  logic [SX_W+MM_W-MEAN_SHIFT-1:0] p3_q;
  logic signed [M_W+SX_W+1:0] p7_w;
  logic signed [VAR_W+1:0] p8_var;  // >= 0 and < 2^VAR_W
  /* verilator lint_on UNUSEDSIGNAL */

  assign p3_q = p3_p[SX_W+MM_W-1:MEAN_SHIFT];
  assign p6_vlo = {1'b0, p6_v[P7_LO_W-1:0]};
  assign p6_vhi = p6_v[SX_W+1:P7_LO_W];

  always_ff @(posedge clk) begin
    if (!rst_n) p_v <= '0;
    else p_v <= {p_v[9:1], rec_v};
    p_set[1] <= rec_set;
    for (int k = 2; k <= 10; k++) p_set[k] <= p_set[k-1];
    // P1: sum + N/2 (the mean rounds half up)
    p1_s <= (SX_W + 1)'(acc_sx) + HALF_N;
    p1_sx <= acc_sx;
    p1_sq <= VAR_W'(acc_sq);
    // P2: fold the sign: floor(s/N) = -1 - floor((-s-1)/N) for s < 0, and -s-1 = ~s
    p2_neg <= p1_s[SX_W];
    p2_t <= p1_s[SX_W] ? ~p1_s[SX_W-1:0] : p1_s[SX_W-1:0];
    p2_sx <= p1_sx;
    p2_sq <= p1_sq;
    // P3a, P3: the exact multiply by MEAN_MULT
    p3a_lo <= (P3_LO_W + MM_W)'(p2_t[P3_LO_W-1:0]) * (P3_LO_W + MM_W)'(MMULT);
    p3a_hi <= (P3_HI_W + MM_W)'(p2_t[SX_W-1:P3_LO_W]) * (P3_HI_W + MM_W)'(MMULT);
    p3a_neg <= p2_neg;
    p3a_sx <= p2_sx;
    p3a_sq <= p2_sq;
    p3_p <= (SX_W + MM_W)'(p3a_lo) + ((SX_W + MM_W)'(p3a_hi) << P3_LO_W);
    p3_neg <= p3a_neg;
    p3_sx <= p3a_sx;
    p3_sq <= p3a_sq;
    // P4: >> MEAN_SHIFT, unfold the sign
    p4_mean <= p3_neg ? ~M_W'(p3_q) : M_W'(p3_q);
    p4_sx <= p3_sx;
    p4_sq <= p3_sq;
    // P5..P8: sum (x-mean)^2 = sum x^2 - mean * (2 sum x - N mean), exactly
    p5_u <= (M_W + N_W)'(p4_mean) * (M_W + N_W)'(N_S);
    p5_mean <= p4_mean;
    p5_sx <= p4_sx;
    p5_sq <= p4_sq;
    p6_v <= ((SX_W + 2)'(p5_sx) <<< 1) - (SX_W + 2)'(p5_u);
    p6_mean <= p5_mean;
    p6_sq <= p5_sq;
    p7a_lo <= (M_W + P7_LO_W + 1)'(p6_mean) * (M_W + P7_LO_W + 1)'(p6_vlo);
    p7a_hi <= (M_W + P7_HI_W)'(p6_mean) * (M_W + P7_HI_W)'(p6_vhi);
    p7a_mean <= p6_mean;
    p7a_sq <= p6_sq;
    p7_w <= ((M_W + SX_W + 2)'(p7a_hi) <<< P7_LO_W) + (M_W + SX_W + 2)'(p7a_lo);
    p7_mean <= p7a_mean;
    p7_sq <= p7a_sq;
    p8_var <= $signed((VAR_W + 2)'(p7_sq)) - (VAR_W + 2)'(p7_w);
    p8_mean <= p7_mean;
  end

  logic sq_v, sd_v, rc_v;
  logic [ROOT_W-1:0] root, sd_std;
  logic [SET_W+M_W-1:0] sq_carry, sd_carry, rc_carry;
  logic [Q_W-1:0] recip;

  isqrt_pipe #(.IN_W(VAR_W), .CARRY_W(SET_W + M_W)) u_isqrt (
      .clk(clk), .rst_n(rst_n), .in_valid(p_v[10]), .x(p8_var[VAR_W-1:0]),
      .in_carry({p_set[10], p8_mean}), .out_valid(sq_v), .root(root), .out_carry(sq_carry));

  always_ff @(posedge clk) begin  // P9: std = max(root, STD_MIN)
    if (!rst_n) sd_v <= 1'b0;
    else sd_v <= sq_v;
    sd_std <= root < ROOT_W'(STD_MIN) ? ROOT_W'(STD_MIN) : root;
    sd_carry <= sq_carry;
  end

  recip_pipe #(.NUM_BITS(RECIP_BITS), .DEN_W(ROOT_W), .CARRY_W(SET_W + M_W)) u_recip (
      .clk(clk), .rst_n(rst_n), .in_valid(sd_v), .d(sd_std), .in_carry(sd_carry),
      .out_valid(rc_v), .q(recip), .out_carry(rc_carry));

  // record FIFO: one (set, mean, recip) per token, at most NSLOT (one per held slot)
  logic [REC_W-1:0] rec_mem[NSLOT];
  logic [SLOT_W-1:0] rec_wp, rec_rp;
  logic [CNT_W-1:0] rec_cnt;
  logic pop;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      rec_wp <= '0;
      rec_rp <= '0;
      rec_cnt <= '0;
    end else begin
      if (rc_v) rec_wp <= rec_wp == LAST_SLOT ? '0 : rec_wp + 1'b1;
      if (pop) rec_rp <= rec_rp == LAST_SLOT ? '0 : rec_rp + 1'b1;
      rec_cnt <= rec_cnt + CNT_W'(rc_v) - CNT_W'(pop);
    end
    if (rc_v) rec_mem[rec_wp] <= {rc_carry, recip};
  end

  // ---------------------------------------------------------------- output pass
  logic en;  // every output-pass stage advances together
  logic active, issue, tok_end;
  logic [BEAT_W-1:0] ob;
  logic [SLOT_W-1:0] os;
  logic [SET_W-1:0] cur_set;
  logic signed [M_W-1:0] cur_mean;
  logic [Q_W-1:0] cur_recip;

  assign en = m_axis_out_tready || !m_axis_out_tvalid;
  assign issue = active && en;
  assign tok_end = issue && ob == LAST_BEAT;
  assign free = tok_end;
  assign pop = rec_cnt != '0 && (!active || tok_end);

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      active <= 1'b0;
      ob <= '0;
      os <= '0;
    end else begin
      if (pop) active <= 1'b1;
      else if (tok_end) active <= 1'b0;
      if (issue) ob <= ob == LAST_BEAT ? '0 : ob + 1'b1;
      if (tok_end) os <= os == LAST_SLOT ? '0 : os + 1'b1;
    end
    if (pop) {cur_set, cur_mean, cur_recip} <= rec_mem[rec_rp];
  end

  // y * recip is split at the round shift, recip = hi * 2^RSH + lo, so that each product
  // is one DSP-sized multiply and the rounding needs no wide add after it:
  //   (y*recip + 2^(RSH-1)) >> RSH = y*hi + (((y*lo) >>> (RSH-1)) + 1) >>> 1   (exactly)
  localparam int FV = OUT_STAGES + LAT;  // output register index
  localparam int HI_W = Q_W - RSH;             // recip's bits above the round shift
  localparam int PH_W = Y_W + HI_W + 1;        // y * hi
  localparam int PL_W = Y_W + RSH + 1;         // y * lo
  localparam int C_W = PL_W - RSH + 2;         // the rounded carry of y * lo
  localparam logic signed [R_W-1:0] QN_MAX = R_W'((1 << (NORM_SAT_BITS - 1)) - 1);
  localparam logic signed [R_W-1:0] QN_MIN = -R_W'(1 << (NORM_SAT_BITS - 1));
  logic [FV:1] f_v, f_last;
  logic [LANES*RES_BITS-1:0] f1_x;
  logic signed [M_W-1:0] f1_mean;
  logic [Q_W-1:0] f1_recip, f2_recip;
  logic [SET_W-1:0] f_set[1:4];
  logic [BEAT_W-1:0] f_beat[1:4];
  logic [LANES*Y_W-1:0] f2_y;
  logic [LANES*PH_W-1:0] f3_ph, f4_ph;
  /* verilator lint_off UNUSEDSIGNAL */  // the bits below the round shift
  logic [LANES*PL_W-1:0] f3_pl;
  /* verilator lint_on UNUSEDSIGNAL */
  logic [LANES*C_W-1:0] f4_c;
  logic [LANES*R_W-1:0] f5_r;
  logic [LANES*NORM_SAT_BITS-1:0] f6_qn;
  logic [NROW_W-1:0] f5_nrow, f6_nrow;  // the norm row, read in F5 and registered: no path
                                       // holds both the block RAM and the gamma multiply
  /* verilator lint_off UNUSEDSIGNAL */  // gamma was used in F7
  logic [NROW_W-1:0] f7_nrow;
  /* verilator lint_on UNUSEDSIGNAL */
  logic [LANES*ACC_W-1:0] f7_g;

  always_ff @(posedge clk) begin
    if (!rst_n) f_v <= '0;
    else if (en) f_v <= {f_v[FV-1:1], issue};
  end

  always_ff @(posedge clk) begin
    if (en) begin
      f_last <= {f_last[FV-1:1], ob == LAST_BEAT};
      // F1: read the slot
      f1_x <= xbuf[buf_addr(os, ob)];
      f1_mean <= cur_mean;
      f1_recip <= cur_recip;
      f_set[1] <= cur_set;
      f_beat[1] <= ob;
      for (int k = 2; k <= 4; k++) begin
        f_set[k] <= f_set[k-1];
        f_beat[k] <= f_beat[k-1];
      end
      f2_recip <= f1_recip;
      f5_nrow <= nmem[prm_addr(f_set[4], f_beat[4])];
      f6_nrow <= f5_nrow;
      f7_nrow <= f6_nrow;
      for (int i = 0; i < LANES; i++) begin
        logic signed [R_W-1:0] r;
        // F2: y = x - mean
        f2_y[Y_W*i +: Y_W] <= Y_W'($signed(f1_x[RES_BITS*i +: RES_BITS])) - Y_W'(f1_mean);
        // F3: y * hi and y * lo, one multiply each
        f3_ph[PH_W*i +: PH_W] <= PH_W'($signed(f2_y[Y_W*i +: Y_W]))
                                 * $signed(PH_W'(f2_recip[Q_W-1:RSH]));
        f3_pl[PL_W*i +: PL_W] <= PL_W'($signed(f2_y[Y_W*i +: Y_W]))
                                 * $signed(PL_W'(f2_recip[RSH-1:0]));
        // F4: round the low product half up to its carry into bit RSH
        f4_c[C_W*i +: C_W] <= (C_W'($signed(f3_pl[PL_W*i + RSH - 1 +: PL_W - RSH + 1]))
                               + C_W'(1)) >>> 1;
        f4_ph[PH_W*i +: PH_W] <= f3_ph[PH_W*i +: PH_W];
        // F5: (y * recip + 2^(RSH-1)) >> RSH
        f5_r[R_W*i +: R_W] <= R_W'($signed(f4_ph[PH_W*i +: PH_W]))
                              + R_W'($signed(f4_c[C_W*i +: C_W]));
        // F6: SAT_LN_NORM
        r = $signed(f5_r[R_W*i +: R_W]);
        if (r > QN_MAX) f6_qn[NORM_SAT_BITS*i +: NORM_SAT_BITS] <= QN_MAX[NORM_SAT_BITS-1:0];
        else if (r < QN_MIN) f6_qn[NORM_SAT_BITS*i +: NORM_SAT_BITS] <= QN_MIN[NORM_SAT_BITS-1:0];
        else f6_qn[NORM_SAT_BITS*i +: NORM_SAT_BITS] <= r[NORM_SAT_BITS-1:0];
        // F7: qn * gamma
        f7_g[ACC_W*i +: ACC_W] <= ACC_W'(
            G_W'($signed(f6_qn[NORM_SAT_BITS*i +: NORM_SAT_BITS]))
            * G_W'($signed(f6_nrow[NLANE_W*i +: GAMMA_BITS])));
      end
    end
  end

  for (genvar i = 0; i < LANES; i++) begin : g_out
    requant #(.OUT_BITS(OUT_BITS)) u_rq (
        .clk(clk), .en(en), .acc(f7_g[ACC_W*i +: ACC_W]),
        .bias(f7_nrow[NLANE_W*i + GAMMA_BITS +: BIAS_W]),
        .mult(f7_nrow[NLANE_W*i + GAMMA_BITS + BIAS_W +: MULT_W]),
        .shift(f7_nrow[NLANE_W*i + GAMMA_BITS + BIAS_W + MULT_W +: SHIFT_W]),
        .narrow(1'b0), .y(m_axis_out_tdata[OUT_BITS*i +: OUT_BITS]));
  end

  assign m_axis_out_tvalid = f_v[FV];
  assign m_axis_out_tlast = f_last[FV];
endmodule
