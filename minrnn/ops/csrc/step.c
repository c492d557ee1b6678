/* CPU kernels for decoding one token through the Appendix C.2 block (minrnn.decode): the element-wise
 * parts of a step, each one pass over its rows, between the matrix products that torch does.
 *
 * Plain C99 like scan.c (built and loaded the same way, minrnn/ops/step.py). Rows are the batch;
 * all buffers are contiguous (B, D) or (B, K-1, D), and owned by the caller. Per dtype (step_impl.h):
 *   dec_conv   x += pending bias; y = the causal depthwise conv of [state, x] (kernel K); state shifted
 *   dec_norm   x += pending bias; y = RMSNorm(x) or LayerNorm(x) (kind 0 / 1)
 *   dec_gate   h = a h + b from the Linear outputs p (bias added): the sequential mode of minGRU
 *              (Algorithms 1, 5) and minLSTM (Algorithms 3, 7), in place on h
 * "pending bias": the bias of the Linear before, which torch's in-place x += u W^T leaves out.
 */
#include "common.h"

#define IMPL "step_impl.h"
#include "dtypes.h"
