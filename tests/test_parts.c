/* test_parts.c - building a dataset in parts (issue 11): the plan's slicing
 * (pv__plan_part, pack/plan.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "build.h"

/* Every job in exactly one part, parts contiguous and in order, sizes within
 * one of each other, for N = 1..17 and n = 0..100. */
static void test_slices_cover_once(void **state) {
  (void)state;
  for (uint32_t n = 1; n <= 17; n++)
    for (uint64_t jobs = 0; jobs <= 100; jobs++) {
      unsigned seen[101];
      memset(seen, 0, sizeof seen);
      uint64_t prev_end = 0, lo = UINT64_MAX, hi = 0;
      for (uint32_t k = 0; k < n; k++) {
        uint64_t first = 99, end = 99;
        assert_int_equal(pv__plan_part(jobs, k, n, &first, &end), PV_OK);
        assert_true(first <= end);
        assert_true(end <= jobs);
        if (first != prev_end) fail_msg("N=%u n=%llu part %u starts at %llu, not %llu", n,
                                        (unsigned long long)jobs, k, (unsigned long long)first,
                                        (unsigned long long)prev_end);
        prev_end = end;
        for (uint64_t j = first; j < end; j++) seen[j]++;
        if (end - first < lo) lo = end - first;
        if (end - first > hi) hi = end - first;
        /* the documented formula */
        assert_int_equal(first, (uint64_t)k * jobs / n);
        assert_int_equal(end, (uint64_t)(k + 1) * jobs / n);
      }
      assert_int_equal(prev_end, jobs);
      assert_true(hi - lo <= 1);
      for (uint64_t j = 0; j < jobs; j++)
        if (seen[j] != 1) fail_msg("N=%u n=%llu: job %llu in %u parts", n,
                                   (unsigned long long)jobs, (unsigned long long)j, seen[j]);
    }
}

/* Large counts: no overflow where k*jobs does not fit in 64 bits. */
static void test_slices_large(void **state) {
  (void)state;
  const uint64_t jobs = UINT64_MAX - 3;
  const uint32_t n = UINT32_MAX;
  uint64_t prev_end = 0, first, end;
  const uint32_t ks[] = {0, 1, 2, 1000, n / 2, n - 2, n - 1};
  for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
    assert_int_equal(pv__plan_part(jobs, ks[i], n, &first, &end), PV_OK);
    assert_true(first <= end);
    uint64_t size = end - first;
    assert_true(size == jobs / n || size == jobs / n + 1);
    if (ks[i] == 0) assert_int_equal(first, 0);
    if (ks[i] == n - 1) assert_int_equal(end, jobs);
    (void)prev_end;
  }
  /* adjacent parts meet */
  uint64_t f2, e2;
  assert_int_equal(pv__plan_part(jobs, 1000, n, &first, &end), PV_OK);
  assert_int_equal(pv__plan_part(jobs, 1001, n, &f2, &e2), PV_OK);
  assert_int_equal(end, f2);
}

static void test_slices_invalid(void **state) {
  (void)state;
  uint64_t first = 5, end = 5;
  assert_int_equal(pv__plan_part(10, 0, 0, &first, &end), PV_ERR_INVALID_ARG);
  assert_int_equal(first, 0);
  assert_int_equal(end, 0);
  assert_int_equal(pv__plan_part(10, 3, 3, &first, &end), PV_ERR_INVALID_ARG);
  assert_int_equal(pv__plan_part(10, 7, 3, &first, &end), PV_ERR_INVALID_ARG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_slices_cover_once),
      cmocka_unit_test(test_slices_large),
      cmocka_unit_test(test_slices_invalid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
