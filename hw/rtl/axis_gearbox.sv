// Upsizer: gathers cfg_words words of WORD_W bits (first word lowest) into one beat of
// MAX_WORDS * WORD_W bits; the beat's tlast is the tlast of its last word. cfg_words is
// set between frames (1 <= cfg_words <= MAX_WORDS). The beat is registered; a full beat
// and the next beat's first word move in the same cycle.
module axis_gearbox #(
    parameter int WORD_W = 64,
    parameter int MAX_WORDS = 8,
    localparam int CW = $clog2(MAX_WORDS + 1)
) (
    input  logic                      clk,
    input  logic                      rst_n,
    input  logic [CW-1:0]             cfg_words,
    input  logic [WORD_W-1:0]         s_axis_tdata,
    input  logic                      s_axis_tvalid,
    output logic                      s_axis_tready,
    input  logic                      s_axis_tlast,
    output logic [MAX_WORDS*WORD_W-1:0] m_axis_tdata,
    output logic                      m_axis_tvalid,
    input  logic                      m_axis_tready,
    output logic                      m_axis_tlast
);
  logic [CW-1:0] wi;  // next word's slot
  logic          in_fire, full;

  assign s_axis_tready = !m_axis_tvalid || m_axis_tready;
  assign in_fire = s_axis_tvalid && s_axis_tready;
  assign full = wi == cfg_words - 1'b1;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      wi <= '0;
      m_axis_tvalid <= 1'b0;
      m_axis_tlast <= 1'b0;
    end else begin
      if (m_axis_tvalid && m_axis_tready) m_axis_tvalid <= 1'b0;
      if (in_fire) begin
        for (int i = 0; i < MAX_WORDS; i++) begin
          if (32'(wi) == i) m_axis_tdata[WORD_W*i +: WORD_W] <= s_axis_tdata;
        end
        if (full) begin
          wi <= '0;
          m_axis_tvalid <= 1'b1;
          m_axis_tlast <= s_axis_tlast;
        end else begin
          wi <= wi + 1'b1;
        end
      end
    end
  end
endmodule
