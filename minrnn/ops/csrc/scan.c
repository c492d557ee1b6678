/* CPU kernels for the linear recurrence h_t = a_t * h_{t-1} + b_t (Section 2.3).
 *
 * Plain C99, no Python or torch headers: minrnn/native.py compiles this file with the system C
 * compiler on first use and calls it through ctypes (which releases the GIL, so Python threads
 * split the work across cores). Every function processes batch rows [b0, b1) and channels
 * [c0, c1) of tensors laid out as (B, T, C) with unit channel stride; `sb` and `st` are batch and
 * time strides in elements, so strided views (one part of a fused projection) need no copy.
 *
 * Two families (scan_impl.h), each in float (f32) and double (f64):
 *   scan_fwd / scan_bwd   generic: a and b given (any sign); scan.scan_cpu.
 *   gate_fwd / gate_bwd   fused minGRU / minLSTM: a and b are computed from the Linear outputs
 *                         inside the loop (Algorithms 1, 3, 5, 7) and recomputed in the backward.
 *   s6_fwd / s6_bwd       Mamba's selective scan over d_inner x d_state channels (baselines/mamba.py).
 *   rms_fwd / rms_bwd     RMSNorm over rows (the block's norms, minrnn.blocks.RMSNorm): not a scan,
 *                         but on CPU the composite torch op made norms the largest cost of a model.
 * The time loop is sequential, so results match the reference loop to rounding; channels are
 * vectorised (hence the branch-free inner loops and the polynomial expf below).
 */
#include "common.h"

#define IMPL "scan_impl.h"
#include "dtypes.h"
