// One processing element of the HP sparse matmul: the m kept weights of its row in the
// current block, each times the activation its in-block index selects from the Bi
// broadcast ones, summed.
// Balanced pruning is why this is enough: every PE reads exactly m values and m indices
// from its own bank, so PEs never contend and never idle.
// Pipelined in LATENCY register stages, so that no stage holds more than one of the Bi:1
// activation select, the 8x8 products (a DSP48E2 with its M register) and the m-way sum:
//   P1  a[j] = act[idx[j]], w[j]       (the select)
//   P2  p[j] = a[j] * w[j]             (the products)
//   P3  dot  = zero ? 0 : sum_j p[j]   (an empty block-row's null block gives 0)
// `en` advances every stage at once (the engine stalls as a whole).
/* verilator lint_off DECLFILENAME */  // the package belongs to this module's file
/* verilator lint_off UNUSEDPARAM */   // read by hp_spmm and sim/rtl/cycles.py
package hp_spmm_pe_pkg;
  localparam int LATENCY = 3;  // P1..P3: operands in to registered dot
endpackage
/* verilator lint_on UNUSEDPARAM */
/* verilator lint_on DECLFILENAME */

module hp_spmm_pe #(
    parameter int BI = 8,  // activations broadcast per step
    parameter int M = 2,   // kept weights per row of a block = MACs per cycle
    localparam int IDX_W = $clog2(BI)
) (
    input  logic                      clk,
    input  logic                      en,
    input  logic        [BI*8-1:0]    act,   // Bi int8 activations, element i at [8i +: 8]
    input  logic        [M*8-1:0]     vals,  // m int8 weights
    input  logic        [M*IDX_W-1:0] idx,   // m in-block columns
    input  logic                      zero,  // a null block: the dot is 0
    output logic signed [31:0]        dot
);
  localparam int PROD_W = 16;  // an int8 x int8 product
  logic [M*8-1:0]      a1, w1;   // packed: Icarus updates continuous reads of these
  logic [M*PROD_W-1:0] p2;
  logic                z1, z2;
  logic signed [31:0]  sum;

  always_comb begin
    sum = 32'sd0;
    for (int j = 0; j < M; j++) sum = sum + 32'($signed(p2[PROD_W*j +: PROD_W]));
  end

  always_ff @(posedge clk) begin
    if (en) begin
      for (int j = 0; j < M; j++) begin
        a1[8*j +: 8] <= act[8*idx[IDX_W*j +: IDX_W] +: 8];
        p2[PROD_W*j +: PROD_W] <= PROD_W'($signed(a1[8*j +: 8]) * $signed(w1[8*j +: 8]));
      end
      w1 <= vals;
      z1 <= zero;
      z2 <= z1;
      dot <= z2 ? 32'sd0 : sum;
    end
  end
endmodule
