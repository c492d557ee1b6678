/* Kernel bodies, included once per dtype by step.c with REAL, SUF, EXP and SQRT defined. */

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SUF)

static inline REAL FN(sigm)(REAL x) { return (REAL)1 / ((REAL)1 + EXP(-x)); }

/* x (B, D) += pending (D) or nothing; y = wb + sum_j window[j] w[j], window = [state (K-1 rows), x],
 * w (K, D) the depthwise weight transposed; then state keeps the last K-1 inputs. */
void FN(dec_conv)(int64_t B, int64_t D, int64_t K, REAL *x, const REAL *pending, REAL *state,
                  const REAL *w, const REAL *wb, REAL *y) {
    for (int64_t b = 0; b < B; ++b) {
        REAL *restrict xr = x + b * D, *restrict yr = y + b * D, *restrict s = state + b * (K - 1) * D;
        if (pending)
            for (int64_t d = 0; d < D; ++d) xr[d] += pending[d];
        for (int64_t d = 0; d < D; ++d) yr[d] = xr[d] * w[(K - 1) * D + d];
        for (int64_t j = 0; j < K - 1; ++j)
            for (int64_t d = 0; d < D; ++d) yr[d] += s[j * D + d] * w[j * D + d];
        for (int64_t d = 0; d < D; ++d) yr[d] += wb[d];
        if (K > 1) {
            memmove(s, s + D, (size_t)((K - 2) * D) * sizeof(REAL));
            memcpy(s + (K - 2) * D, xr, (size_t)D * sizeof(REAL));
        }
    }
}

/* x (B, D) += pending or nothing; y = x / sqrt(mean(x^2) + eps) * w (kind 0, RMSNorm) or
 * (x - mean) / sqrt(var + eps) * w + bias (kind 1, LayerNorm; bias may be NULL). */
void FN(dec_norm)(int64_t B, int64_t D, int kind, double eps, REAL *x, const REAL *pending,
                  const REAL *w, const REAL *bias, REAL *y) {
    for (int64_t b = 0; b < B; ++b) {
        REAL *restrict xr = x + b * D, *restrict yr = y + b * D;
        if (pending)
            for (int64_t d = 0; d < D; ++d) xr[d] += pending[d];
        REAL mean = 0, ss = 0;
        if (kind == 1) {
#pragma omp simd reduction(+ : mean)
            for (int64_t d = 0; d < D; ++d) mean += xr[d];
            mean /= (REAL)D;
        }
#pragma omp simd reduction(+ : ss)
        for (int64_t d = 0; d < D; ++d) ss += (xr[d] - mean) * (xr[d] - mean);
        REAL rs = (REAL)1 / SQRT(ss / (REAL)D + (REAL)eps);
        for (int64_t d = 0; d < D; ++d) yr[d] = (xr[d] - mean) * rs * w[d];
        if (bias)
            for (int64_t d = 0; d < D; ++d) yr[d] += bias[d];
    }
}

/* h (B, H) <- a h + b, from p (B, P): [k | h~ pre] (minGRU, P = 2H) or [f | i | h~ pre] (minLSTM,
 * P = 3H), biases already added. use_g: h~ = g(pre) (Appendix B), else h~ = pre (Appendix A). */
void FN(dec_gate)(int64_t B, int64_t H, int mode, int use_g, const REAL *p, REAL *h) {
    const int64_t P = mode == MODE_GRU ? 2 * H : 3 * H, off_h = mode == MODE_GRU ? H : 2 * H;
    for (int64_t b = 0; b < B; ++b) {
        const REAL *restrict pg = p + b * P, *restrict pi = pg + H, *restrict px = pg + off_h;
        REAL *restrict hr = h + b * H;
        for (int64_t c = 0; c < H; ++c) {
            REAL x = px[c], sx = FN(sigm)(x), cand = use_g ? (x >= 0 ? x + (REAL)0.5 : sx) : x;
            REAL a, bb;
            if (mode == MODE_GRU) {
                REAL z = FN(sigm)(pg[c]);
                a = (REAL)1 - z;
                bb = z * cand;
            } else {
                REAL f = FN(sigm)(pg[c]), i = FN(sigm)(pi[c]);
                if (mode == MODE_LSTM_NORM) {
                    REAL s = f + i;
                    f = f / s;
                    i = i / s;
                }
                a = f;
                bb = i * cand;
            }
            hr[c] = a * hr[c] + bb;
        }
    }
}

#undef CAT_
#undef CAT
#undef FN
