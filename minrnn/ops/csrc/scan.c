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
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MODE_GRU 0       /* a = 1 - sigmoid(k), b = sigmoid(k) h~ */
#define MODE_LSTM 1      /* a = sigmoid(f), b = sigmoid(i) h~ */
#define MODE_LSTM_NORM 2 /* a = f / (f + i), b = i / (f + i) h~, f and i sigmoids */

/* exp for float32 that the compiler can vectorise: Cephes' expf (range reduction by ln 2 and a
 * degree-6 polynomial, ~1 ulp), inputs clamped to [-87.3, 88.7] so it never returns 0 or inf. */
static inline float exp_f32(float x) {
    x = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

#define REAL float
#define SUF f32
#define EXP exp_f32
#define SQRT sqrtf
#include "scan_impl.h"
#undef REAL
#undef SUF
#undef EXP
#undef SQRT

#define REAL double
#define SUF f64
#define EXP exp
#define SQRT sqrt
#include "scan_impl.h"
