/* Includes IMPL (a file of kernel bodies) once per dtype, with REAL, SUF, EXP and SQRT defined:
 * float (f32, the vectorisable exp_f32 of common.h) and double (f64). */
#define REAL float
#define SUF f32
#define EXP exp_f32
#define SQRT sqrtf
#include IMPL
#undef REAL
#undef SUF
#undef EXP
#undef SQRT

#define REAL double
#define SUF f64
#define EXP exp
#define SQRT sqrt
#include IMPL
#undef REAL
#undef SUF
#undef EXP
#undef SQRT
