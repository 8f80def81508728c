/* bench_util.h - what the C benchmarks share: a monotonic clock and the
 * seeded generator (splitmix64) their random crops are drawn from, as the
 * uniform source pv__rrc_params takes. Header only: bench/CMakeLists.txt
 * builds every C file of bench/ as its own executable. */
#ifndef PV_BENCH_UTIL_H
#define PV_BENCH_UTIL_H

#include <stdint.h>
#include <time.h>

static inline double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct rng {
  uint64_t s;
} rng;

static inline uint64_t rng_next(rng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static inline double rng_uniform(void *ctx) {
  return (double)(rng_next(ctx) >> 11) * (1.0 / 9007199254740992.0);
}

#endif /* PV_BENCH_UTIL_H */
