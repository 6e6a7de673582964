// GELU unit of the FFN1 output path: LANES x int16 in, LANES x int8 out per beat,
//   y = requantize(int_gelu(q, gelu), gelu_out.mult[ch], gelu_out.shift[ch], 8)
// exactly as sim/golden/encoder.py (int_gelu, then rescale by gelu_out), per element.
//
// Streams (AXI4-Stream, element i of a beat at [W*i +: W], little-endian):
//   s_axis       tdata LANES x int16 (GELU_IN_BITS); tdest = the beat's channel word
//                (channels tdest*LANES .. +LANES-1); tuser opaque; tlast passed through
//   m_axis_out   tdata LANES x int8; tuser, tdest, tlast of the input beat
//   s_axis_prm   parameter load, one beat per record, always ready. Header:
//                  [7:0] kind, [15:8] set, [31:16] word; payload from bit 32:
//                kind 0 (PRM_SCALARS, the set's GeluParams):
//                  [31:0] q_b (u32, Q_B_W bits used), [47:32] q_one (u16), [55:48] shift (u8)
//                kind 1 (PRM_CHANNELS, gelu_out of channel word `word`):
//                  LANES x u16 mult (15 bits used), then LANES x u8 shift (6 bits used)
//                (sim/rtl/vector_case.py packs these.) Load while no beat of that set is
//                in flight.
//   cfg_set      the parameter set of the beats that follow (sampled with each beat)
//
// Pipeline: 7 gelu_lane stages, then requant_pkg::LATENCY requantization stages, all
// advanced by one enable: en = m_axis_out_tready || !m_axis_out_tvalid (a stalled output
// stalls every stage), so s_axis_tready = en and one beat per cycle flows at full rate.
// Latency GELU_STAGES + requant_pkg::LATENCY cycles (docs/rtl.md, "Vector units").
module gelu_unit #(
    parameter int LANES = 8,
    parameter int CHANNELS = 64,     // channels per token (the FFN width)
    parameter int MAX_SETS = 2,      // parameter sets (one per layer)
    parameter int USER_W = 16,
    parameter int DEST_W = 8,
    parameter int IN_BITS = 16,      // sim/golden/params.py: GELU_IN_BITS
    parameter int ONE_BITS = 14,     // sim/golden/nonlinear.py: GELU_ONE_BITS
    parameter int OUT_BITS = 8,      // sim/golden/params.py: ACT_BITS
    parameter int MULT_W = 15,       // sim/golden/requant.py: MULT_BITS
    parameter int SHIFT_W = 6,       // requantize shifts in [SHIFT_MIN, SHIFT_MAX] = [1, 62]
    parameter int Q_B_W = IN_BITS + 1,  // clip point q_b < 2^Q_B_W (checked when packing);
                                     // t*t is then one DSP48E2 (17 x 17 unsigned)
    localparam int SET_W = MAX_SETS > 1 ? $clog2(MAX_SETS) : 1,
    localparam int WORDS = CHANNELS / LANES,
    localparam int WORD_W = WORDS > 1 ? $clog2(WORDS) : 1,
    localparam int HDR_W = 32,
    localparam int MULT_F = 16,      // byte-aligned fields of the 15-bit multiplier
    localparam int SHIFT_F = 8,      // and of the 6-bit shift
    localparam int SCALAR_W = 56,    // q_b, q_one, shift
    localparam int CHAN_W = (MULT_F + SHIFT_F) * LANES,
    localparam int PRM_W = HDR_W + (CHAN_W > SCALAR_W ? CHAN_W : SCALAR_W)
) (
    input  logic                      clk,
    input  logic                      rst_n,
    input  logic [SET_W-1:0]          cfg_set,
    // parameters
    /* verilator lint_off UNUSEDSIGNAL */  // padding bits of the byte-aligned layout
    input  logic [PRM_W-1:0]          s_axis_prm_tdata,
    input  logic                      s_axis_prm_tvalid,
    output logic                      s_axis_prm_tready,
    input  logic                      s_axis_prm_tlast,  // framing only
    /* verilator lint_on UNUSEDSIGNAL */
    // data
    input  logic [LANES*IN_BITS-1:0]  s_axis_tdata,
    input  logic                      s_axis_tvalid,
    output logic                      s_axis_tready,
    input  logic                      s_axis_tlast,
    input  logic [USER_W-1:0]         s_axis_tuser,
    input  logic [DEST_W-1:0]         s_axis_tdest,
    output logic [LANES*OUT_BITS-1:0] m_axis_out_tdata,
    output logic                      m_axis_out_tvalid,
    input  logic                      m_axis_out_tready,
    output logic                      m_axis_out_tlast,
    output logic [USER_W-1:0]         m_axis_out_tuser,
    output logic [DEST_W-1:0]         m_axis_out_tdest
);
  localparam int GELU_STAGES = 7;  // gelu_lane G1..G7
  localparam int STAGES = GELU_STAGES + requant_pkg::LATENCY;
  localparam int SQ_W = 2 * Q_B_W;
  localparam int ONE_SH_W = SQ_W + 1;
  localparam int Q_ONE_W = ONE_BITS + 1;
  localparam int GSH_W = 6;  // GeluParams.shift field width used
  localparam int ACC_W = 32;
  localparam logic [7:0] PRM_SCALARS = 8'd0;
  localparam logic [7:0] PRM_CHANNELS = 8'd1;

  // ---------------------------------------------------------------- parameters
  logic [Q_B_W-1:0]    p_q_b[MAX_SETS];
  logic [ONE_SH_W-1:0] p_one_sh[MAX_SETS];
  logic [GSH_W-1:0]    p_shift[MAX_SETS];
  logic [Q_ONE_W-1:0]  p_q_one[MAX_SETS];
  logic [LANES*(MULT_W+SHIFT_W)-1:0] chan_mem[MAX_SETS * WORDS];

  logic [7:0] prm_kind;
  logic [SET_W-1:0] prm_set;
  logic [WORD_W-1:0] prm_word;
  logic [Q_ONE_W-1:0] prm_q_one;
  logic [GSH_W-1:0] prm_shift;
  logic [LANES*(MULT_W+SHIFT_W)-1:0] prm_chan;

  assign s_axis_prm_tready = 1'b1;
  assign prm_kind = s_axis_prm_tdata[7:0];
  assign prm_set = s_axis_prm_tdata[8 +: SET_W];
  assign prm_word = s_axis_prm_tdata[16 +: WORD_W];
  assign prm_q_one = s_axis_prm_tdata[HDR_W + 32 +: Q_ONE_W];
  assign prm_shift = s_axis_prm_tdata[HDR_W + 48 +: GSH_W];

  always_comb begin
    for (int i = 0; i < LANES; i++) begin
      prm_chan[(MULT_W+SHIFT_W)*i +: MULT_W] = s_axis_prm_tdata[HDR_W + MULT_F*i +: MULT_W];
      prm_chan[(MULT_W+SHIFT_W)*i + MULT_W +: SHIFT_W] =
          s_axis_prm_tdata[HDR_W + MULT_F*LANES + SHIFT_F*i +: SHIFT_W];
    end
  end

  function automatic int unsigned chan_addr(logic [SET_W-1:0] set, logic [WORD_W-1:0] word);
    return int'(set) * WORDS + int'(word);
  endfunction

  always_ff @(posedge clk) begin
    if (s_axis_prm_tvalid) begin
      if (prm_kind == PRM_SCALARS) begin
        p_q_b[prm_set] <= s_axis_prm_tdata[HDR_W +: Q_B_W];
        p_q_one[prm_set] <= prm_q_one;
        p_shift[prm_set] <= prm_shift;
        p_one_sh[prm_set] <= ONE_SH_W'(prm_q_one) << prm_shift;
      end else if (prm_kind == PRM_CHANNELS) begin
        chan_mem[chan_addr(prm_set, prm_word)] <= prm_chan;
      end
    end
  end

  // ---------------------------------------------------------------- stage bookkeeping
  // index k = the beat after k register stages (1..STAGES); STAGES is the output
  logic en;
  logic [STAGES:1] vld, last;
  // packed: Icarus does not update a continuous assignment from an unpacked array word
  logic [GELU_STAGES:1][SET_W-1:0] set_p;
  logic [STAGES:1][DEST_W-1:0] dest_p;
  logic [STAGES:1][USER_W-1:0] user_p;
  logic [LANES*(MULT_W+SHIFT_W)-1:0] chan_rd;  // gelu_out of the beat in G7
  // the set's scalars, read a stage before the lane stage that uses them and registered
  // beside the beat, so no lane path starts with a LUT-RAM read (the parameters are
  // loaded while idle)
  logic [Q_B_W-1:0]    q_b_1;
  logic [ONE_SH_W-1:0] one_sh_3;
  logic [GSH_W-1:0]    shift_4;
  logic [Q_ONE_W-1:0]  q_one_5;

  assign en = m_axis_out_tready || !m_axis_out_tvalid;
  assign s_axis_tready = en;
  assign m_axis_out_tvalid = vld[STAGES];
  assign m_axis_out_tlast = last[STAGES];
  assign m_axis_out_tuser = user_p[STAGES];
  assign m_axis_out_tdest = dest_p[STAGES];

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      vld <= '0;
    end else if (en) begin
      vld <= {vld[STAGES-1:1], s_axis_tvalid};
    end
  end

  always_ff @(posedge clk) begin
    if (en) begin
      last <= {last[STAGES-1:1], s_axis_tlast};
      set_p[1] <= cfg_set;
      dest_p[1] <= s_axis_tdest;
      user_p[1] <= s_axis_tuser;
      for (int k = 2; k <= GELU_STAGES; k++) set_p[k] <= set_p[k-1];
      q_b_1 <= p_q_b[cfg_set];
      one_sh_3 <= p_one_sh[set_p[2]];
      shift_4 <= p_shift[set_p[3]];
      q_one_5 <= p_q_one[set_p[4]];
      for (int k = 2; k <= STAGES; k++) begin
        dest_p[k] <= dest_p[k-1];
        user_p[k] <= user_p[k-1];
      end
      // read so that the word is ready when the beat's product leaves G7
      chan_rd <= chan_mem[chan_addr(set_p[GELU_STAGES-1], WORD_W'(dest_p[GELU_STAGES-1]))];
    end
  end

  // ---------------------------------------------------------------- lanes
  for (genvar i = 0; i < LANES; i++) begin : g_lane
    logic signed [ACC_W-1:0] g;
    gelu_lane #(.IN_BITS(IN_BITS), .ONE_BITS(ONE_BITS), .Q_B_W(Q_B_W), .SH_W(GSH_W)) u_gelu (
        .clk(clk), .en(en), .q(s_axis_tdata[IN_BITS*i +: IN_BITS]),
        .q_b(q_b_1), .one_sh(one_sh_3), .shift(shift_4), .q_one(q_one_5), .out(g));
    requant #(.OUT_BITS(OUT_BITS)) u_rq (
        .clk(clk), .en(en), .acc(g), .bias('0),
        .mult(chan_rd[(MULT_W+SHIFT_W)*i +: MULT_W]),
        .shift(chan_rd[(MULT_W+SHIFT_W)*i + MULT_W +: SHIFT_W]),
        .narrow(1'b0), .y(m_axis_out_tdata[OUT_BITS*i +: OUT_BITS]));
  end
endmodule
