// Top-k sparse attention engine for one head (Peng et al., DAC 2022), bit-exact with
// sim/golden/sparse_attention.py:sparse_attention_head and sim/golden/nonlinear.py.
//
// Per run: K and V (L rows of D int8 each) stream in and stay on chip; the K scale of the
// 4-bit estimate (max|K|) is taken while K loads. Then per query row (streamed in order):
//   EST    L+1 cycles   one key per cycle: D 4x4-bit products read from the 256-entry
//                       product table, summed; a sorted insertion network keeps the top
//                       k (estimate descending, ties to the lower key index)
//   EXACT  k+4          int8 q.k for the k kept keys, requantized to SCORE_BITS
//   EXP    k            i-exp of (score - max), summed
//   DIV    RECIP_BITS+1 one restoring-division step per cycle: 2^RECIP_BITS / sum
//   PV     k            probabilities (uint PROB_BITS) times the k V rows, accumulated
//   OUT    4 (+ wait)   requantization of the D sums to int8, one output beat
// So only EST grows with L; the rest is fixed for a fixed k (the linear exact part).
// m_axis_out_tuser carries the selected key indices (slot 0 first, unused slots 0) for
// inspection.
// The table is read from LUT_FILE (hex, written from ESTIMATE_LUT by the runner).
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
    input  logic [31:0]            cfg_exp_q_ln2,
    input  logic [31:0]            cfg_exp_q_b,
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
  localparam int LUT_SIZE = 1 << (2 * NIB_W);
  localparam int RQ_LAT = 1 + requant_pkg::LATENCY;  // dot register + the requant lane
  localparam int OUT_LAT = requant_pkg::LATENCY;  // the output requant lanes
  localparam int PROB_SHIFT = RECIP_BITS - PROB_BITS;
  localparam logic [63:0] PROB_MAX = (64'd1 << PROB_BITS) - 64'd1;
  localparam logic [3:0] S_IDLE = 4'd0, S_LOAD = 4'd1, S_QWAIT = 4'd2, S_EST = 4'd3,
                         S_EXACT = 4'd4, S_EXP = 4'd5, S_DIV = 4'd6, S_PV = 4'd7,
                         S_OUT = 4'd8, S_SEND = 4'd9;

  logic signed [7:0] lut[LUT_SIZE];
  initial $readmemh(LUT_FILE, lut);

  logic [D*8-1:0] kmem[MAX_LEN];
  logic [D*8-1:0] vmem[MAX_LEN];

  // ---------------------------------------------------------------- arithmetic helpers
  function automatic logic [7:0] abs8(input logic signed [7:0] x);
    return x < 0 ? 8'(-9'(x)) : 8'(x);
  endfunction

  // products in 32 bits: the arguments are sign-extended on the way in
  function automatic logic signed [31:0] smul(input logic signed [31:0] a,
                                              input logic signed [31:0] b);
    return a * b;
  endfunction

  function automatic logic [7:0] row_absmax(input logic [D*8-1:0] row);
    logic [7:0] m = 8'd0;
    for (int i = 0; i < D; i++) if (abs8(row[8*i +: 8]) > m) m = abs8(row[8*i +: 8]);
    return m;
  endfunction

  // quantize4: sign(x) * floor((2 Q4_MAX |x| + m) / (2m)), by Q4_MAX threshold compares
  function automatic logic [NIB_W-1:0] q4(input logic signed [7:0] x, input logic [7:0] m);
    logic [NIB_W-1:0] mag = '0;
    for (int j = 1; j <= Q4_MAX; j++) begin
      if (m != 0 && 32'(2 * Q4_MAX) * 32'(abs8(x)) >= 32'(2 * j - 1) * 32'(m)) mag = mag + 1'b1;
    end
    return x < 0 ? NIB_W'(-(NIB_W+1)'(mag)) : mag;
  endfunction

  // i-exp of q <= 0 (sim/golden/nonlinear.py:int_exp)
  function automatic logic [63:0] int_exp(input logic signed [63:0] q,
                                          input logic signed [63:0] q_ln2,
                                          input logic signed [63:0] q_b,
                                          input logic signed [63:0] q_c);
    logic signed [63:0] qc, r, t;
    logic [5:0] z = 6'd0;
    qc = q < -(64'(EXP_MAX_SHIFT) * q_ln2) ? -(64'(EXP_MAX_SHIFT) * q_ln2) : q;
    for (int j = 1; j <= EXP_MAX_SHIFT; j++) if (-qc >= 64'(j) * q_ln2) z = z + 1'b1;
    r = qc + 64'(z) * q_ln2;
    t = r + q_b;
    return 64'((t * t + q_c) >>> z);
  endfunction

  // ---------------------------------------------------------------- state
  logic [3:0]        state;
  logic [LEN_W-1:0]  len, kcnt, vcnt, qi, j;
  logic [K_W-1:0]    kk, s;
  logic [6:0]        cnt;  // phase cycle counter (DIV needs RECIP_BITS+1 steps)
  logic [7:0]        kmax;
  logic [14:0]       score_mult, out_mult;
  logic [5:0]        score_shift, out_shift;
  logic signed [63:0] q_ln2, q_b, q_c;
  logic [D*8-1:0]    qrow;
  logic [D*NIB_W-1:0] qcode;

  // top-k insertion network
  logic signed [31:0] slot_est[MAX_K];
  logic [IDX_W-1:0]   slot_idx[MAX_K];
  logic [MAX_K-1:0]   slot_v;
  logic signed [31:0] est_r;
  logic [IDX_W-1:0]   est_j;
  logic               est_v;

  // scores, exponentials, probabilities
  logic signed [31:0] dot_r;
  logic signed [SCORE_BITS-1:0] score_y, xmem[MAX_K], xmax;
  logic [63:0]        emem[MAX_K];
  logic [63:0]        total, recip;
  logic [62:0]        rem;  // < total
  logic signed [31:0] acc[D];
  logic [D*8-1:0]     out_y;

  logic k_fire, v_fire, q_fire;
  assign s_axis_k_tready = state == S_LOAD && kcnt != len;
  assign s_axis_v_tready = state == S_LOAD && vcnt != len;
  assign s_axis_q_tready = state == S_QWAIT;
  assign k_fire = s_axis_k_tvalid && s_axis_k_tready;
  assign v_fire = s_axis_v_tvalid && s_axis_v_tready;
  assign q_fire = s_axis_q_tvalid && s_axis_q_tready;

  // the estimate of key row j against the current query's codes
  logic signed [31:0] est_row;
  always_comb begin
    est_row = 32'sd0;
    for (int i = 0; i < D; i++) begin
      est_row = est_row + 32'(lut[{qcode[NIB_W*i +: NIB_W], q4(kmem[j[IDX_W-1:0]][8*i +: 8], kmax)}]);
    end
  end

  // exact score of the key in slot s
  logic signed [31:0] dot_row;
  logic [D*8-1:0] krow_sel;
  always_comb begin
    krow_sel = kmem[slot_idx[s[SI_W-1:0]]];
    dot_row = 32'sd0;
    for (int i = 0; i < D; i++) begin
      dot_row = dot_row + smul(32'($signed(qrow[8*i +: 8])), 32'($signed(krow_sel[8*i +: 8])));
    end
  end

  requant #(.OUT_BITS(SCORE_BITS)) u_score (
      .clk(clk), .en(1'b1), .acc(dot_r), .bias(32'sd0), .mult(score_mult),
      .shift(score_shift), .narrow(1'b0), .y(score_y));

  for (genvar i = 0; i < D; i++) begin : g_out
    requant #(.OUT_BITS(8)) u_out (
        .clk(clk), .en(1'b1), .acc(acc[i]), .bias(32'sd0), .mult(out_mult),
        .shift(out_shift), .narrow(1'b0), .y(out_y[8*i +: 8]));
  end

  assign m_axis_out_tdata = out_y;
  assign m_axis_out_tvalid = state == S_SEND;
  assign m_axis_out_tlast = qi == len - 1'b1;
  always_comb begin
    for (int i = 0; i < MAX_K; i++) begin
      m_axis_out_tuser[IDX_W*i +: IDX_W] = slot_v[i] ? slot_idx[i] : '0;  // unused slots: 0
    end
  end

  // the slot the new estimate goes to: after every kept entry that is >= it (those have
  // lower indices, so ties go to the lower index); the entries behind it move down one
  logic [MAX_K-1:0] keep_before, new_here;
  logic signed [31:0] down_est[MAX_K];
  logic [IDX_W-1:0]   down_idx[MAX_K];
  logic [MAX_K-1:0]   down_v;
  always_comb begin
    for (int i = 0; i < MAX_K; i++) keep_before[i] = slot_v[i] && slot_est[i] >= est_r;
    new_here[0] = !keep_before[0];
    down_est[0] = est_r;
    down_idx[0] = est_j;
    down_v[0] = 1'b1;
    for (int i = 1; i < MAX_K; i++) begin
      new_here[i] = !keep_before[i] && keep_before[i-1];
      down_est[i] = slot_est[i-1];
      down_idx[i] = slot_idx[i-1];
      down_v[i] = slot_v[i-1];
    end
  end

  // probability of slot s
  logic [63:0] prob;
  always_comb begin
    prob = (emem[s[SI_W-1:0]] * recip + (64'd1 << (PROB_SHIFT - 1))) >> PROB_SHIFT;
    if (prob > PROB_MAX) prob = PROB_MAX;
  end

  logic [D*8-1:0] vrow_sel;
  assign vrow_sel = vmem[slot_idx[s[SI_W-1:0]]];

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= S_IDLE;
      busy <= 1'b0;
      done <= 1'b0;
      est_v <= 1'b0;
    end else begin
      done <= 1'b0;
      if (state == S_EST) perf_estimate_cycles <= perf_estimate_cycles + 1;
      if (state >= S_EXACT) perf_exact_cycles <= perf_exact_cycles + 1;
      case (state)
        S_IDLE: if (start) begin
          busy <= 1'b1;
          len <= cfg_len;
          kk <= LEN_W'(cfg_k) > cfg_len ? K_W'(cfg_len) : cfg_k;  // min(k, L)
          score_mult <= cfg_score_mult;
          score_shift <= cfg_score_shift;
          out_mult <= cfg_out_mult;
          out_shift <= cfg_out_shift;
          q_ln2 <= 64'(cfg_exp_q_ln2);
          q_b <= 64'(cfg_exp_q_b);
          q_c <= 64'(cfg_exp_q_c);
          kcnt <= '0;
          vcnt <= '0;
          qi <= '0;
          kmax <= 8'd0;
          perf_estimate_cycles <= '0;
          perf_exact_cycles <= '0;
          state <= cfg_len == '0 ? S_IDLE : S_LOAD;
          if (cfg_len == '0) begin
            busy <= 1'b0;
            done <= 1'b1;
          end
        end
        S_LOAD: begin
          if (k_fire) begin
            kmem[kcnt[IDX_W-1:0]] <= s_axis_k_tdata;
            if (row_absmax(s_axis_k_tdata) > kmax) kmax <= row_absmax(s_axis_k_tdata);
            kcnt <= kcnt + 1'b1;
          end
          if (v_fire) begin
            vmem[vcnt[IDX_W-1:0]] <= s_axis_v_tdata;
            vcnt <= vcnt + 1'b1;
          end
          if ((kcnt == len || (k_fire && kcnt == len - 1'b1))
              && (vcnt == len || (v_fire && vcnt == len - 1'b1))) state <= S_QWAIT;
        end
        S_QWAIT: if (q_fire) begin
          qrow <= s_axis_q_tdata;
          for (int i = 0; i < D; i++) begin
            qcode[NIB_W*i +: NIB_W] <= q4(s_axis_q_tdata[8*i +: 8], row_absmax(s_axis_q_tdata));
          end
          slot_v <= '0;
          j <= '0;
          state <= S_EST;
        end
        S_EST: begin
          // stage 1: estimate key j; stage 2: insert it
          est_v <= j != len;
          est_r <= est_row;
          est_j <= j[IDX_W-1:0];
          if (j != len) j <= j + 1'b1;
          if (est_v) begin
            for (int i = 0; i < MAX_K; i++) begin
              if (new_here[i]) begin
                slot_est[i] <= est_r;
                slot_idx[i] <= est_j;
                slot_v[i] <= 1'b1;
              end else if (!keep_before[i]) begin
                slot_est[i] <= down_est[i];
                slot_idx[i] <= down_idx[i];
                slot_v[i] <= down_v[i];
              end
            end
          end
          if (j == len) begin
            state <= S_EXACT;
            s <= '0;
            cnt <= '0;
          end
        end
        S_EXACT: begin
          // issue slot s (dot register), collect slot cnt - RQ_LAT from the score lane
          dot_r <= dot_row;
          if (s != kk) s <= s + 1'b1;
          cnt <= cnt + 1'b1;
          if (cnt >= 7'(RQ_LAT)) begin
            xmem[SI_W'(cnt - 7'(RQ_LAT))] <= score_y;
            if (cnt == 7'(RQ_LAT) || score_y > xmax) xmax <= score_y;
            if (K_W'(cnt - 7'(RQ_LAT)) == kk - 1'b1) begin
              state <= S_EXP;
              s <= '0;
              total <= '0;
            end
          end
        end
        S_EXP: begin
          emem[s[SI_W-1:0]] <= int_exp(64'(xmem[s[SI_W-1:0]]) - 64'(xmax), q_ln2, q_b, q_c);
          total <= total + int_exp(64'(xmem[s[SI_W-1:0]]) - 64'(xmax), q_ln2, q_b, q_c);
          s <= s + 1'b1;
          if (s == kk - 1'b1) begin
            state <= S_DIV;
            cnt <= 7'(RECIP_BITS);
            rem <= '0;
            recip <= '0;
          end
        end
        S_DIV: begin
          // restoring division of 2^RECIP_BITS by total, quotient bit `cnt` per cycle
          if ({rem, cnt == 7'(RECIP_BITS)} >= total) begin
            rem <= 63'({rem, cnt == 7'(RECIP_BITS)} - total);
            recip[cnt[5:0]] <= 1'b1;
          end else begin
            rem <= {rem[61:0], cnt == 7'(RECIP_BITS)};
          end
          cnt <= cnt - 1'b1;
          if (cnt == '0) begin
            state <= S_PV;
            s <= '0;
          end
        end
        S_PV: begin
          for (int i = 0; i < D; i++) begin
            acc[i] <= (s == '0 ? 32'sd0 : acc[i])
                      + smul(32'(prob[PROB_BITS-1:0]), 32'($signed(vrow_sel[8*i +: 8])));
          end
          s <= s + 1'b1;
          if (s == kk - 1'b1) begin
            state <= S_OUT;
            cnt <= '0;
          end
        end
        S_OUT: begin
          cnt <= cnt + 1'b1;
          if (cnt == 7'(OUT_LAT)) state <= S_SEND;
        end
        S_SEND: if (m_axis_out_tready) begin
          qi <= qi + 1'b1;
          if (qi == len - 1'b1) begin
            state <= S_IDLE;
            busy <= 1'b0;
            done <= 1'b1;
          end else begin
            state <= S_QWAIT;
          end
        end
        default: state <= S_IDLE;
      endcase
    end
  end
endmodule
