/* Shared by scan.c and step.c: the recurrences' numbers and a vectorisable exp. */
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
