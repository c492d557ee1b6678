/* Kernel bodies, included once per dtype by scan.c with REAL (float/double), SUF (f32/f64) and
 * EXP (an exp function) defined. See scan.c for the layout conventions. */

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SUF)

static inline REAL FN(sigm)(REAL x) { return (REAL)1 / ((REAL)1 + EXP(-x)); }

/* g(x) of Appendix B (Listing 6): x + 0.5 for x >= 0, sigmoid(x) otherwise; branch-free. */
static inline REAL FN(g)(REAL x, REAL sx) { return x >= 0 ? x + (REAL)0.5 : sx; }
static inline REAL FN(dg)(REAL x, REAL sx) { return x >= 0 ? (REAL)1 : sx * ((REAL)1 - sx); }

/* Software prefetch for the backward kernels, which walk time backwards: the hardware prefetchers
 * follow ascending streams, and without this the backward ran 5-10x slower out of cache than in it
 * (gate_bwd, B = 64, T = 512, H = 64: 9-23 ms, 2 ms with it, on an AMD EPYC). Touches channels
 * [c0, c1) of a row PREFETCH_AHEAD steps before the one being computed; changes no result. */
#ifndef PREFETCH_AHEAD
#define PREFETCH_AHEAD 8
#endif
static inline void FN(fetch)(const REAL *row, int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c += 64 / (int64_t)sizeof(REAL)) __builtin_prefetch(row + c, 0, 3);
}
static inline void FN(fetch_w)(REAL *row, int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c += 64 / (int64_t)sizeof(REAL)) __builtin_prefetch(row + c, 1, 3);
}

void FN(scan_fwd)(int64_t b0, int64_t b1, int64_t c0, int64_t c1, int64_t T,
                  const REAL *a, int64_t a_sb, int64_t a_st,
                  const REAL *b, int64_t b_sb, int64_t b_st,
                  const REAL *h0, int64_t h0_sb,
                  REAL *h, int64_t h_sb, int64_t h_st, REAL *zeros) {
    for (int64_t c = c0; c < c1; ++c) zeros[c] = 0;
    for (int64_t bi = b0; bi < b1; ++bi) {
        const REAL *prev = h0 ? h0 + bi * h0_sb : zeros;
        for (int64_t t = 0; t < T; ++t) {
            const REAL *restrict at = a + bi * a_sb + t * a_st;
            const REAL *restrict bt = b + bi * b_sb + t * b_st;
            const REAL *restrict pv = prev;
            REAL *restrict ht = h + bi * h_sb + t * h_st;
            for (int64_t c = c0; c < c1; ++c) ht[c] = at[c] * pv[c] + bt[c];
            prev = ht;
        }
    }
}

/* Reverse recurrence: g_t = dL/dh_t + a_{t+1} g_{t+1}; da_t = g_t h_{t-1}; db_t = g_t;
 * dL/dh0 = a_1 g_1. `carry` (C elements) holds a_{t+1} g_{t+1}. */
static inline __attribute__((always_inline)) void FN(scan_bwd_row)(
        int64_t c0, int64_t c1, const REAL *restrict at, const REAL *restrict pv,
        const REAL *restrict gt, REAL *restrict cr, REAL *restrict gat, REAL *restrict gbt) {
    for (int64_t c = c0; c < c1; ++c) {
        REAL g = gt[c] + cr[c];
        gat[c] = g * pv[c];
        gbt[c] = g;
        cr[c] = g * at[c];
    }
}

void FN(scan_bwd)(int64_t b0, int64_t b1, int64_t c0, int64_t c1, int64_t T,
                  const REAL *a, int64_t a_sb, int64_t a_st,
                  const REAL *h0, int64_t h0_sb,
                  const REAL *h, int64_t h_sb, int64_t h_st,
                  const REAL *gh, int64_t gh_sb, int64_t gh_st,
                  REAL *ga, REAL *gb, int64_t g_sb, int64_t g_st,
                  REAL *gh0, int64_t gh0_sb, REAL *carry, REAL *zeros) {
    for (int64_t c = c0; c < c1; ++c) zeros[c] = 0;
    for (int64_t bi = b0; bi < b1; ++bi) {
        for (int64_t c = c0; c < c1; ++c) carry[c] = 0;
        for (int64_t t = T - 1; t >= 0; --t) {
            const REAL *pv = t > 0 ? h + bi * h_sb + (t - 1) * h_st : (h0 ? h0 + bi * h0_sb : zeros);
            if (t > PREFETCH_AHEAD) {
                int64_t u = t - PREFETCH_AHEAD;
                FN(fetch)(a + bi * a_sb + u * a_st, c0, c1);
                FN(fetch)(h + bi * h_sb + (u - 1) * h_st, c0, c1);
                FN(fetch)(gh + bi * gh_sb + u * gh_st, c0, c1);
                FN(fetch_w)(ga + bi * g_sb + u * g_st, c0, c1);
                FN(fetch_w)(gb + bi * g_sb + u * g_st, c0, c1);
            }
            FN(scan_bwd_row)(c0, c1, a + bi * a_sb + t * a_st, pv, gh + bi * gh_sb + t * gh_st, carry,
                             ga + bi * g_sb + t * g_st, gb + bi * g_sb + t * g_st);
        }
        if (gh0)
            for (int64_t c = c0; c < c1; ++c) gh0[bi * gh0_sb + c] = carry[c];
    }
}

/* One time step of the fused forward for channels [c0, c1): h_t from the Linear outputs at t.
 * Gate channels at pg[c] (k = linear_z(x) for minGRU, linear_f(x) for minLSTM), input-gate
 * channels at pi[c] (minLSTM), candidate pre-activations at px[c]; the Linear biases qg, qi, qx
 * are added here (a zero vector when there are none), which saves the pass of writing them into
 * p. use_g: h~ = g(.) (Appendix B, log-space variant); otherwise h~ = Linear(x) (Appendix A).
 * Inlined with constant mode/use_g. */
static inline __attribute__((always_inline)) void FN(gate_fwd_row)(
        int64_t c0, int64_t c1, const int mode, const int use_g,
        const REAL *restrict pg, const REAL *restrict pi, const REAL *restrict px,
        const REAL *restrict qg, const REAL *restrict qi, const REAL *restrict qx,
        const REAL *restrict pv, REAL *restrict ht) {
    for (int64_t c = c0; c < c1; ++c) {
        REAL x = px[c] + qx[c], cand = use_g ? FN(g)(x, FN(sigm)(x)) : x;
        if (mode == MODE_GRU) {         /* h = (1 - z) h_prev + z h~   (Alg. 1, 5) */
            REAL z = FN(sigm)(pg[c] + qg[c]);
            ht[c] = pv[c] + z * (cand - pv[c]);
        } else if (mode == MODE_LSTM) { /* h = f h_prev + i h~         (official code) */
            ht[c] = FN(sigm)(pg[c] + qg[c]) * pv[c] + FN(sigm)(pi[c] + qi[c]) * cand;
        } else {                        /* h = f' h_prev + i' h~       (Alg. 3, 7) */
            REAL f = FN(sigm)(pg[c] + qg[c]), i = FN(sigm)(pi[c] + qi[c]);
            ht[c] = (f * pv[c] + i * cand) / (f + i);
        }
    }
}

/* One time step of the fused backward: g_t = dL/dh_t + carry; writes dL/dp at t into gpg/gpi/gpx,
 * adds it into the bias gradients sg/si/sx, and sets the new carry dL/dh_{t-1} = a_t g_t. Gates
 * are recomputed from p and the biases, not stored. */
static inline __attribute__((always_inline)) void FN(gate_bwd_row)(
        int64_t c0, int64_t c1, const int mode, const int use_g,
        const REAL *restrict pg, const REAL *restrict pi, const REAL *restrict px,
        const REAL *restrict qg, const REAL *restrict qi, const REAL *restrict qx,
        const REAL *restrict pv, const REAL *restrict gt, REAL *restrict cr,
        REAL *restrict gpg, REAL *restrict gpi, REAL *restrict gpx,
        REAL *restrict sg, REAL *restrict si, REAL *restrict sx_) {
    for (int64_t c = c0; c < c1; ++c) {
        REAL g = gt[c] + cr[c], x = px[c] + qx[c], sx = FN(sigm)(x);
        REAL cand = use_g ? FN(g)(x, sx) : x, dcand = use_g ? FN(dg)(x, sx) : (REAL)1;
        REAL dg_, di = 0, dx;
        if (mode == MODE_GRU) {
            REAL z = FN(sigm)(pg[c] + qg[c]);
            dg_ = g * (cand - pv[c]) * z * ((REAL)1 - z);
            dx = g * z * dcand;
            cr[c] = g * ((REAL)1 - z);
        } else if (mode == MODE_LSTM) {
            REAL f = FN(sigm)(pg[c] + qg[c]), i = FN(sigm)(pi[c] + qi[c]);
            dg_ = g * pv[c] * f * ((REAL)1 - f);
            di = g * cand * i * ((REAL)1 - i);
            dx = g * i * dcand;
            cr[c] = g * f;
        } else { /* u = i/(f+i), h = h_prev + u (h~ - h_prev); du/df = -i/s^2, du/di = f/s^2 */
            REAL f = FN(sigm)(pg[c] + qg[c]), i = FN(sigm)(pi[c] + qi[c]), s = f + i;
            REAL G = g * (cand - pv[c]) / (s * s);
            dg_ = -G * i * f * ((REAL)1 - f);
            di = G * f * i * ((REAL)1 - i);
            dx = g * (i / s) * dcand;
            cr[c] = g * (f / s);
        }
        gpg[c] = dg_;
        gpx[c] = dx;
        sg[c] += dg_;
        sx_[c] += dx;
        if (mode != MODE_GRU) {
            gpi[c] = di;
            si[c] += di;
        }
    }
}

/* Dispatch a row function on (mode, use_g) so each of the six variants is compiled separately. */
#define DISPATCH(row, ...)                                                                        \
    switch (mode * 2 + (use_g != 0)) {                                                            \
    case 0: row(c0, c1, MODE_GRU, 0, __VA_ARGS__); break;                                         \
    case 1: row(c0, c1, MODE_GRU, 1, __VA_ARGS__); break;                                         \
    case 2: row(c0, c1, MODE_LSTM, 0, __VA_ARGS__); break;                                        \
    case 3: row(c0, c1, MODE_LSTM, 1, __VA_ARGS__); break;                                        \
    case 4: row(c0, c1, MODE_LSTM_NORM, 0, __VA_ARGS__); break;                                   \
    default: row(c0, c1, MODE_LSTM_NORM, 1, __VA_ARGS__); break;                                  \
    }

/* Fused minGRU / minLSTM forward on the Linear outputs p (B, T, P): channel blocks at offsets
 * 0 (k or f), off_i (i, minLSTM) and off_h (candidate). r (B, T; row stride r_sb) or NULL: where
 * r[t] != 0 a new sequence starts, so the state before t is zeros (h_t = b_t; minrnn.resets). */
void FN(gate_fwd)(int64_t b0, int64_t b1, int64_t c0, int64_t c1, int64_t T,
                  int mode, int use_g, int64_t off_i, int64_t off_h,
                  const REAL *p, int64_t p_sb, int64_t p_st, const REAL *q,
                  const REAL *h0, int64_t h0_sb, const uint8_t *r, int64_t r_sb,
                  REAL *h, int64_t h_sb, int64_t h_st, REAL *zeros) {
    for (int64_t c = c0; c < c1; ++c) zeros[c] = 0;
    for (int64_t bi = b0; bi < b1; ++bi) {
        const REAL *prev = h0 ? h0 + bi * h0_sb : zeros;
        const uint8_t *rr = r ? r + bi * r_sb : 0;
        for (int64_t t = 0; t < T; ++t) {
            const REAL *pg = p + bi * p_sb + t * p_st;
            if (rr && rr[t]) prev = zeros;
            REAL *ht = h + bi * h_sb + t * h_st;
            DISPATCH(FN(gate_fwd_row), pg, pg + off_i, pg + off_h, q, q + off_i, q + off_h, prev, ht)
            prev = ht;
        }
    }
}

/* Fused backward: gp (same channel layout as p) receives dL/dp; gq (P, zeroed by the caller)
 * the bias gradient summed over rows [b0, b1) and all t; gh0 receives dL/dh0. At a reset (r as in
 * gate_fwd) the previous state was zeros and the carry to the steps before it is zero. */
void FN(gate_bwd)(int64_t b0, int64_t b1, int64_t c0, int64_t c1, int64_t T,
                  int mode, int use_g, int64_t off_i, int64_t off_h,
                  const REAL *p, int64_t p_sb, int64_t p_st, const REAL *q, REAL *gq,
                  const REAL *h0, int64_t h0_sb, const uint8_t *r, int64_t r_sb,
                  const REAL *h, int64_t h_sb, int64_t h_st,
                  const REAL *gh, int64_t gh_sb, int64_t gh_st,
                  REAL *gp, int64_t gp_sb, int64_t gp_st,
                  REAL *gh0, int64_t gh0_sb, REAL *carry, REAL *zeros) {
    for (int64_t c = c0; c < c1; ++c) zeros[c] = 0;
    for (int64_t bi = b0; bi < b1; ++bi) {
        const uint8_t *rr = r ? r + bi * r_sb : 0;
        for (int64_t c = c0; c < c1; ++c) carry[c] = 0;
        for (int64_t t = T - 1; t >= 0; --t) {
            const REAL *pg = p + bi * p_sb + t * p_st;
            const REAL *pv = t > 0 ? h + bi * h_sb + (t - 1) * h_st : (h0 ? h0 + bi * h0_sb : zeros);
            const int reset = rr && rr[t];
            REAL *gpg = gp + bi * gp_sb + t * gp_st;
            if (t > PREFETCH_AHEAD) {
                const REAL *pu = pg - PREFETCH_AHEAD * p_st;
                REAL *gpu = gpg - PREFETCH_AHEAD * gp_st;
                FN(fetch)(pu, c0, c1), FN(fetch)(pu + off_i, c0, c1), FN(fetch)(pu + off_h, c0, c1);
                FN(fetch)(pv - PREFETCH_AHEAD * h_st, c0, c1);
                FN(fetch)(gh + bi * gh_sb + (t - PREFETCH_AHEAD) * gh_st, c0, c1);
                FN(fetch_w)(gpu, c0, c1), FN(fetch_w)(gpu + off_i, c0, c1), FN(fetch_w)(gpu + off_h, c0, c1);
            }
            DISPATCH(FN(gate_bwd_row), pg, pg + off_i, pg + off_h, q, q + off_i, q + off_h, reset ? zeros : pv,
                     gh + bi * gh_sb + t * gh_st, carry, gpg, gpg + off_i, gpg + off_h, gq, gq + off_i,
                     gq + off_h)
            if (reset)
                for (int64_t c = c0; c < c1; ++c) carry[c] = 0;
        }
        if (gh0)
            for (int64_t c = c0; c < c1; ++c) gh0[bi * gh0_sb + c] = carry[c];
    }
}

#undef DISPATCH

/* S6, Mamba's selective scan (Gu & Dao, 2024), fused: for each batch row and channel d,
 *   h_t[n] = exp(delta_t A[d,n]) h_{t-1}[n] + delta_t B_t[n] u_t,   y_t = sum_n C_t[n] h_t[n].
 * u, delta, y: (B, L, D); Bm, Cm: (B, L, N); A: (D, N). hc: (B, ceil(L / K), D, N) receives the state
 * at the end of each chunk of K steps: all the backward keeps (it recomputes a chunk's states from the
 * state before it), instead of every (B, L, D, N) state. `state` is scratch of D*N elements. */
void FN(s6_fwd)(int64_t b0, int64_t b1, int64_t L, int64_t D, int64_t N, int64_t K,
                const REAL *u, const REAL *delta, const REAL *A, const REAL *Bm, const REAL *Cm,
                REAL *y, REAL *hc, REAL *state) {
    int64_t nc = (L + K - 1) / K;
    for (int64_t bi = b0; bi < b1; ++bi) {
        for (int64_t i = 0; i < D * N; ++i) state[i] = 0;
        for (int64_t t = 0; t < L; ++t) {
            const REAL *restrict Bt = Bm + (bi * L + t) * N, *restrict Ct = Cm + (bi * L + t) * N;
            for (int64_t d = 0; d < D; ++d) {
                int64_t k = (bi * L + t) * D + d;
                REAL dl = delta[k], du = dl * u[k], acc = 0;
                REAL *restrict h = state + d * N;
                const REAL *restrict Ad = A + d * N;
#pragma omp simd reduction(+ : acc)
                for (int64_t n = 0; n < N; ++n) {
                    REAL hn = EXP(dl * Ad[n]) * h[n] + du * Bt[n];
                    h[n] = hn;
                    acc += hn * Ct[n];
                }
                y[k] = acc;
            }
            if ((t + 1) % K == 0 || t == L - 1) {
                REAL *restrict out = hc + (bi * nc + t / K) * D * N;
                for (int64_t i = 0; i < D * N; ++i) out[i] = state[i];
            }
        }
    }
}

/* Reverse recurrence for s6_fwd, one chunk of K steps at a time from the last: the chunk's states are
 * recomputed from hc into `scratch` (K*D*N elements, then D*N for the carry), then
 *   g_t = C_t gy_t + exp(delta_{t+1} A) g_{t+1}.
 * Writes gu, gdelta (B, L, D); adds into gB, gC (B, L, N) (zeroed by the caller; rows b0..b1 belong to
 * this call) and gA (D, N) (this call's own partial sum). */
void FN(s6_bwd)(int64_t b0, int64_t b1, int64_t L, int64_t D, int64_t N, int64_t K,
                const REAL *u, const REAL *delta, const REAL *A, const REAL *Bm, const REAL *Cm,
                const REAL *hc, const REAL *gy, REAL *gu, REAL *gdelta, REAL *gA, REAL *gB, REAL *gC,
                REAL *scratch) {
    int64_t nc = (L + K - 1) / K, DN = D * N;
    REAL *restrict hs = scratch, *restrict carry = scratch + K * DN;
    for (int64_t bi = b0; bi < b1; ++bi) {
        for (int64_t i = 0; i < DN; ++i) carry[i] = 0;
        for (int64_t c = nc - 1; c >= 0; --c) {
            int64_t t0 = c * K, t1 = t0 + K < L ? t0 + K : L;
            const REAL *before = c > 0 ? hc + (bi * nc + c - 1) * DN : 0; /* h_{t0 - 1}; none at t = 0 */
            for (int64_t t = t0; t < t1; ++t) {
                const REAL *restrict Bt = Bm + (bi * L + t) * N;
                const REAL *restrict prev = t > t0 ? hs + (t - t0 - 1) * DN : before;
                for (int64_t d = 0; d < D; ++d) {
                    int64_t k = (bi * L + t) * D + d;
                    REAL dl = delta[k], du = dl * u[k];
                    REAL *restrict h = hs + (t - t0) * DN + d * N;
                    const REAL *restrict Ad = A + d * N;
                    for (int64_t n = 0; n < N; ++n)
                        h[n] = (prev ? EXP(dl * Ad[n]) * prev[d * N + n] : 0) + du * Bt[n];
                }
            }
            for (int64_t t = t1 - 1; t >= t0; --t) {
                const REAL *restrict Bt = Bm + (bi * L + t) * N, *restrict Ct = Cm + (bi * L + t) * N;
                REAL *restrict gBt = gB + (bi * L + t) * N, *restrict gCt = gC + (bi * L + t) * N;
                const REAL *hprev = t > t0 ? hs + (t - t0 - 1) * DN : before;
                for (int64_t d = 0; d < D; ++d) {
                    int64_t k = (bi * L + t) * D + d;
                    REAL dl = delta[k], ul = u[k], gyl = gy[k], gdl = 0, gul = 0;
                    const REAL *restrict h = hs + (t - t0) * DN + d * N, *restrict Ad = A + d * N;
                    const REAL *restrict hp = hprev ? hprev + d * N : 0;
                    REAL *restrict cr = carry + d * N, *restrict gAd = gA + d * N;
#pragma omp simd reduction(+ : gdl, gul)
                    for (int64_t n = 0; n < N; ++n) {
                        REAL g = gyl * Ct[n] + cr[n];
                        REAL dA = EXP(dl * Ad[n]);
                        REAL tprev = hp ? g * hp[n] * dA : (REAL)0; /* dL/d(delta A) */
                        gCt[n] += gyl * h[n];
                        gAd[n] += tprev * dl;
                        gBt[n] += g * dl * ul;
                        gdl += tprev * Ad[n] + g * ul * Bt[n];
                        gul += g * dl * Bt[n];
                        cr[n] = g * dA;
                    }
                    gdelta[k] = gdl;
                    gu[k] = gul;
                }
            }
        }
    }
}

/* RMSNorm over the last dimension of rows [r0, r1) of x (R, D): y = x * rstd * w with
 * rstd = 1 / sqrt(mean(x^2) + eps), in torch.nn.RMSNorm's order of operations; rstd (R) is kept
 * for the backward. One pass over x instead of the five of the composite (pow, mean, rsqrt, mul, mul). */
void FN(rms_fwd)(int64_t r0, int64_t r1, int64_t D, double eps, const REAL *x, const REAL *w, REAL *y,
                 REAL *rstd) {
    for (int64_t r = r0; r < r1; ++r) {
        const REAL *restrict xr = x + r * D;
        REAL *restrict yr = y + r * D;
        REAL ss = 0;
#pragma omp simd reduction(+ : ss)
        for (int64_t d = 0; d < D; ++d) ss += xr[d] * xr[d];
        REAL rs = (REAL)1 / SQRT(ss / (REAL)D + (REAL)eps);
        rstd[r] = rs;
        for (int64_t d = 0; d < D; ++d) yr[d] = xr[d] * rs * w[d];
    }
}

/* Its backward: with u = x * rstd, dL/dx = rstd * (gy w - u * mean(gy w u)) and dL/dw = sum_rows gy u.
 * gw (D) receives this call's partial sum over rows [r0, r1). */
void FN(rms_bwd)(int64_t r0, int64_t r1, int64_t D, const REAL *x, const REAL *w, const REAL *rstd,
                 const REAL *gy, REAL *gx, REAL *gw) {
    for (int64_t d = 0; d < D; ++d) gw[d] = 0;
    for (int64_t r = r0; r < r1; ++r) {
        const REAL *restrict xr = x + r * D, *restrict gr = gy + r * D;
        REAL *restrict gxr = gx + r * D, *restrict gwr = gw;
        REAL rs = rstd[r], dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int64_t d = 0; d < D; ++d) dot += gr[d] * w[d] * xr[d] * rs;
        dot /= (REAL)D;
        for (int64_t d = 0; d < D; ++d) {
            REAL u = xr[d] * rs;
            gxr[d] = rs * (gr[d] * w[d] - u * dot);
            gwr[d] += gr[d] * u;
        }
    }
}

#undef FN
#undef CAT
#undef CAT_
