/* test_codec.c - the record codec table (codec/codec.h): one entry per
 * codec of the format, named as format/ names it, and, for hostile and good
 * payloads of every codec (hostile_codecs.h), its entries agree with each
 * other: decode and region (whole, a crop at full scale, a crop at the
 * codec's smallest scale, from a splice and without) accept exactly the
 * same payloads with the same status, validate refuses nothing they accept
 * (and gives their status for every limit and every rule it checks), and
 * decode and region give the same pixels. The read paths above the table (pv_decoder_*, the loader,
 * the CLI, Python) are compared in test_hostile_decode.c and
 * python/tests/test_hostile.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "hostile_codecs.h"
#include "pv_format.h"
#include "testutil.h"

static void test_table(void **state) {
  (void)state;
  for (int i = 0; i < PV_CODEC_COUNT; i++) {
    const pv__codec *k = pv__codec_get(i);
    assert_non_null(k);
    assert_int_equal(k->id, i);
    assert_string_equal(k->name, pv_codec_name(i));
    assert_int_equal(pv_codec_by_name(k->name), i);
    assert_non_null(k->encode);
    assert_non_null(k->validate);
    assert_non_null(k->decode);
    assert_non_null(k->region);
    assert_true(k->scales >> 8 & 1);
    assert_true(k->fast_scales >> 8 & 1);
    assert_int_equal(k->fast_scales & ~k->scales, 0);
    assert_int_equal(k->scales & ~0x1FEu, 0);
  }
  assert_null(pv__codec_get(PV_CODEC_COUNT));
  assert_null(pv__codec_get(-1));
  assert_int_equal(pv_codec_by_name("auto"), -1);
  assert_int_equal(pv_codec_by_name(NULL), -1);
  assert_string_equal(pv_codec_name(PV_CODEC_COUNT), "unknown");
}

/* Every codec's encode output decodes back (raw and zstd exactly). */
static void test_encode_roundtrip(void **state) {
  (void)state;
  const uint32_t w = 80, h = 48;
  uint8_t *rgb = pvt_pattern_rgb(w, h, 7);
  uint8_t *back = malloc((size_t)w * h * 3);
  assert_non_null(rgb);
  assert_non_null(back);
  pv__codec_enc *e;
  pv__codec_ctx *c;
  assert_int_equal(pv__codec_enc_create(&e), PV_OK);
  assert_int_equal(pv__codec_ctx_create(&c), PV_OK);
  const pv__encode_opts o = {90, 4, 3};
  for (int i = 0; i < PV_CODEC_COUNT; i++) {
    const pv__codec *k = pv__codec_get(i);
    uint8_t *p = NULL;
    size_t n = 0;
    char err[200];
    assert_int_equal(k->encode(e, rgb, w, h, (size_t)w * 3, &o, &p, &n, err, sizeof err), PV_OK);
    const pv__payload pl = {p, n, w, h};
    const pv__codec *got;
    assert_int_equal(pv__codec_admit(c, i, &pl, &got), PV_OK);
    assert_ptr_equal(got, k);
    assert_int_equal(k->decode(c, &pl, back, (size_t)w * 3), PV_OK);
    if (i != PV_CODEC_JPEG) assert_memory_equal(back, rgb, (size_t)w * h * 3);
    free(p);
  }
  pv__codec_ctx_destroy(c);
  pv__codec_enc_destroy(e);
  free(rgb);
  free(back);
}

/* The status of a region decode of p, and its rectangle in *r. */
static pv_status region_of(pv__codec_ctx *c, const pv__codec *k, const pv__payload *p, int num,
                           uint32_t x, uint32_t y, uint32_t w, uint32_t h, int full,
                           pv__region *r) {
  const pv__region_req rq = {num, x, y, w, h, full};
  return k->region(c, p, &rq, r);
}

static void test_entries_agree(void **state) {
  (void)state;
  pvhc_case *cs;
  const size_t n = pvhc_cases(&cs);
  int seen[PV_CODEC_COUNT][3] = {{0}}; /* OK, DECODE, LIMIT per codec */
  pv__codec_ctx *c;
  assert_int_equal(pv__codec_ctx_create(&c), PV_OK);
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    const pvhc_case *t = &cs[i];
    seen[t->codec][t->want == PV_OK ? 0 : t->want == PV_ERR_DECODE ? 1 : 2]++;
    assert_int_equal(pv__codec_ctx_set_limits(c, t->limited ? &t->limits : NULL), PV_OK);
    const pv__payload p = {t->payload.p, t->payload.n, t->width, t->height};
    const pv__codec *k;
    pv_status st = pv__codec_admit(c, t->codec, &p, &k);
    pv_status got[6] = {st, st, st, st, st, st};
    const char *what[6] = {"validate", "decode", "region full", "region crop",
                           "region crop, no splice", "region crop, smallest scale"};
    uint8_t *px = NULL;
    if (st == PV_OK) {
      got[0] = k->validate(c, &p);
      /* decode only what validate admits (declared sizes up to 65500^2) */
      px = got[0] == PV_OK ? malloc((size_t)p.width * p.height * 3) : NULL;
      got[1] = px ? k->decode(c, &p, px, (size_t)p.width * 3) : got[0];
      pv__region r;
      got[2] = region_of(c, k, &p, 8, 0, 0, p.width, p.height, 1, &r);
      if (got[2] == PV_OK && px) {
        assert_int_equal(r.x, 0);
        assert_int_equal(r.y, 0);
        assert_int_equal(r.w, p.width);
        assert_int_equal(r.h, p.height);
        for (uint32_t y = 0; y < p.height; y++)
          assert_memory_equal(r.pixels + (size_t)y * r.stride, px + (size_t)y * p.width * 3,
                              (size_t)p.width * 3);
        if (t->codec == PV_CODEC_RAW) assert_ptr_equal(r.pixels, p.data); /* no copy */
      }
      /* The central half: the requested rectangle is inside what comes
       * back, and (one column in from its edges, where a cropped JPEG
       * decode upsamples from replicated neighbours) equals decode's. */
      const uint32_t cx = p.width / 4, cy = p.height / 4;
      const uint32_t cw = p.width / 2 ? p.width / 2 : 1, ch = p.height / 2 ? p.height / 2 : 1;
      for (int splice = 1; splice >= 0; splice--) {
        pv__codec_ctx_set_splice(c, splice);
        const int slot = splice ? 3 : 4;
        got[slot] = region_of(c, k, &p, 8, cx, cy, cw, ch, 0, &r);
        if (got[slot] != PV_OK || !px) continue;
        assert_true(r.x <= cx && r.y <= cy && r.x + r.w >= cx + cw && r.y + r.h >= cy + ch);
        for (uint32_t y = cy; y < cy + ch; y++)
          for (uint32_t x = cx + 1; x + 1 < cx + cw; x++)
            assert_memory_equal(r.pixels + (size_t)(y - r.y) * r.stride + (size_t)(x - r.x) * 3,
                                px + ((size_t)y * p.width + x) * 3, 3);
      }
      pv__codec_ctx_set_splice(c, 1);
      int num = 8;
      for (int s = 1; s < 8; s++)
        if (k->scales >> s & 1) {
          num = s;
          break;
        }
      const uint32_t sw = pv__codec_scaled_dim(p.width, num);
      const uint32_t sh = pv__codec_scaled_dim(p.height, num);
      got[5] = region_of(c, k, &p, num, sw / 4, sh / 4, sw / 2 ? sw / 2 : 1, sh / 2 ? sh / 2 : 1,
                         0, &r);
    }
    for (int m = 0; m < 6; m++)
      /* validate is the check before decoding: damage that only decoding
       * finds (a truncated scan, a checksum) passes it, and decode (which
       * every read path runs after it) refuses it. */
      if (got[m] != t->want && !(m == 0 && t->want == PV_ERR_DECODE && got[m] == PV_OK)) {
        print_error("%s: %s gave %s (%s), want %s\n", t->name, what[m], pv_status_name(got[m]),
                    pv__codec_ctx_error(c), pv_status_name(t->want));
        bad = 1;
      }
    free(px);
  }
  pv__codec_ctx_destroy(c);
  pvhc_free(cs, n);
  if (bad) fail();
  /* Every codec has payloads that decode and payloads over a limit; every
   * codec with rules of its own beyond the format's (all but raw) has
   * payloads that break them. */
  for (int k = 0; k < PV_CODEC_COUNT; k++) {
    assert_true(seen[k][0] > 0);
    assert_true(seen[k][2] > 0);
    if (k != PV_CODEC_RAW) assert_true(seen[k][1] > 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_encode_roundtrip),
      cmocka_unit_test(test_entries_agree),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
