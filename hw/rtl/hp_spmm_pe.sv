// One processing element of the HP sparse matmul: the m kept weights of its row in the
// current block, each times the activation its in-block index selects from the Bi
// broadcast ones. Combinational; the engine registers the result.
// Balanced pruning is why this is enough: every PE reads exactly m values and m indices
// from its own bank, so PEs never contend and never idle.
module hp_spmm_pe #(
    parameter int BI = 8,  // activations broadcast per step
    parameter int M = 2,   // kept weights per row of a block = MACs per cycle
    localparam int IDX_W = $clog2(BI)
) (
    input  logic        [BI*8-1:0]    act,   // Bi int8 activations, element i at [8i +: 8]
    input  logic        [M*8-1:0]     vals,  // m int8 weights
    input  logic        [M*IDX_W-1:0] idx,   // m in-block columns
    output logic signed [31:0]        dot
);
  logic signed [15:0] a, w;  // operands sign-extended: the product needs 16 bits

  always_comb begin
    dot = 32'sd0;
    for (int j = 0; j < M; j++) begin
      a = 16'($signed(act[8*idx[IDX_W*j +: IDX_W] +: 8]));
      w = 16'($signed(vals[8*j +: 8]));
      dot = dot + 32'(a * w);
    end
  end
endmodule
