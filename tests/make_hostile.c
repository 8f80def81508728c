/* make_hostile.c - hostile inputs that need the in-process builders of
 * hostile_payloads.h:
 *   make_hostile slow-jpeg DIR   a dataset for the Python suites (which
 *                                cannot make checksums agree by themselves):
 *                                one progressive JPEG record of 4096x4096
 *                                with 30000 scans, tens of seconds to decode
 *                                without a scan limit, refused at once with
 *                                the default one.
 *   make_hostile codec-cases DIR
 *                                hostile_codecs.h's cases for the Python
 *                                suites: DIR/<name>/ a one-record dataset
 *                                each, DIR/cases.tsv a line each: name,
 *                                the status every read path must give,
 *                                codec, and the limits to read it with
 *                                (max_record_pixels, max_record_bytes,
 *                                max_decoder_memory, max_scans; "-" for
 *                                the defaults).
 *   make_hostile fuzz-seeds RECORD_DIR CROP_DIR
 *                                the large-size seeds of fuzz_record and
 *                                fuzz_crop (tests/fuzz/corpus/record, crop):
 *                                deterministic, rerun when a builder changes.
 * Exit 0 on success, 2 on bad usage or failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostile.h"
#include "hostile_codecs.h"
#include "hostile_payloads.h"
#include "pv_format.h"

static int write_seed(const char *dir, const char *name, const uint8_t *hdr, size_t hn,
                      const pvhp_buf *p) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  int ok = f && fwrite(hdr, 1, hn, f) == hn && fwrite(p->p, 1, p->n, f) == p->n;
  if (f && fclose(f) != 0) ok = 0;
  if (!ok) fprintf(stderr, "make_hostile: cannot write %s\n", path);
  return ok ? 0 : 2;
}

/* fuzz_record's header: codec | 0x80 (large sizes), width, height, stride. */
static int record_seed(const char *dir, const char *name, unsigned codec, uint32_t w, uint32_t h,
                       pvhp_buf p) {
  const uint8_t hdr[6] = {(uint8_t)(codec | 0x80), (uint8_t)w, (uint8_t)(w >> 8), (uint8_t)h,
                          (uint8_t)(h >> 8), 5};
  int rc = write_seed(dir, name, hdr, sizeof hdr, &p);
  free(p.p);
  return rc;
}

/* fuzz_crop's header: size, a central box, output 24, byte 13 = large
 * sizes | codec selector << 4. */
static int crop_seed(const char *dir, const char *name, unsigned sel, uint32_t w, uint32_t h,
                     pvhp_buf p) {
  const uint32_t bw = w / 2 ? w / 2 : 1, bh = h / 2 ? h / 2 : 1;
  const uint8_t hdr[14] = {(uint8_t)w,        (uint8_t)(w >> 8),        (uint8_t)h,
                           (uint8_t)(h >> 8), (uint8_t)(w / 4),         (uint8_t)(w / 4 >> 8),
                           (uint8_t)(h / 4),  (uint8_t)(h / 4 >> 8),    (uint8_t)(bw - 1),
                           (uint8_t)((bw - 1) >> 8), (uint8_t)(bh - 1), (uint8_t)((bh - 1) >> 8),
                           23,                (uint8_t)(8 | sel << 4)};
  int rc = write_seed(dir, name, hdr, sizeof hdr, &p);
  free(p.p);
  return rc;
}

static int fuzz_seeds(const char *rec, const char *crop) {
  int rc = 0;
  /* zstd: 65500x65500 of RLE zeros (over the pixel limit: only the first
   * blocks are kept), 4096x4096 (over the fuzzers' 4 Mpixel), 2048x2048
   * really decoded (12 MB from 400 bytes). */
  pvhp_buf z = pvhp_zstd_zeros(65500ull * 65500 * 3, 1);
  z.n = 64;
  rc |= record_seed(rec, "large-zstd-65500-rle", 2, 65500, 65500, z);
  rc |= record_seed(rec, "large-zstd-4096-rle", 2, 4096, 4096, pvhp_zstd_zeros(4096ull * 4096 * 3, 0));
  rc |= record_seed(rec, "large-zstd-2048-rle", 2, 2048, 2048, pvhp_zstd_zeros(2048ull * 2048 * 3, 0));
  rc |= crop_seed(crop, "large-zstd-2048-rle", 1, 2048, 2048, pvhp_zstd_zeros(2048ull * 2048 * 3, 0));
  /* zstd payloads spec 3.6 forbids. */
  pvhp_buf t = pvhp_zstd_frame(33 * 7 * 3, 1);
  pvhp_put_skippable(&t);
  rc |= record_seed(rec, "zstd-trailing-skippable", 2, 33, 7, t);
  pvhp_buf l = {0};
  pvhp_put_skippable(&l);
  pvhp_buf f = pvhp_zstd_frame(33 * 7 * 3, 1);
  pvhp_put(&l, f.p, f.n);
  free(f.p);
  rc |= record_seed(rec, "zstd-leading-skippable", 2, 33, 7, l);
  rc |= record_seed(rec, "zstd-no-content-size", 2, 33, 7, pvhp_zstd_frame(33 * 7 * 3, 0));
  pvhp_buf two = pvhp_zstd_frame(33 * 7 * 3, 1);
  pvhp_buf e = pvhp_zstd_frame(0, 1);
  pvhp_put(&two, e.p, e.n);
  free(e.p);
  rc |= crop_seed(crop, "zstd-second-frame", 1, 33, 7, two);
  /* JPEG: a 65500x65500 progressive header (8.6 GB of coefficients), a
   * 4096x4096 one within the limits, many scans. */
  rc |= record_seed(rec, "large-jpeg-prog-65500", 1, 65500, 65500, pvhp_jpeg_scans(65500, 65500, 1, 1));
  rc |= crop_seed(crop, "large-jpeg-prog-65500", 0, 65500, 65500, pvhp_jpeg_scans(65500, 65500, 1, 1));
  rc |= record_seed(rec, "large-jpeg-prog-2048", 1, 2048, 2048, pvhp_jpeg_scans(2048, 2048, 3, 0));
  rc |= record_seed(rec, "jpeg-150-scans", 1, 256, 192, pvhp_jpeg_scans(256, 192, 150, 0));
  rc |= crop_seed(crop, "jpeg-150-scans", 0, 256, 192, pvhp_jpeg_scans(256, 192, 150, 0));
  rc |= crop_seed(crop, "jpeg-20-scans", 0, 256, 192, pvhp_jpeg_scans(256, 192, 20, 0));
  return rc;
}

static int codec_cases(const char *dir) {
  pvhc_case *cs;
  const size_t n = pvhc_cases(&cs);
  char path[4096];
  snprintf(path, sizeof path, "%s/cases.tsv", dir);
  FILE *f = NULL;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    const pvhc_case *c = &cs[i];
    pvh_record r;
    memset(&r, 0, sizeof r);
    r.codec = c->codec;
    r.width = c->width;
    r.height = c->height;
    r.payload = c->payload.p;
    r.length = (uint32_t)c->payload.n;
    r.path = "c0/hostile.bin";
    pvh_spec s;
    memset(&s, 0, sizeof s);
    s.class_count = 1;
    s.records = &r;
    s.record_count = 1;
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/%s", dir, c->name);
    if (pvh_write_dataset(sub, &s) != 0) rc = 2;
    if (rc == 0 && !f && !(f = fopen(path, "w"))) rc = 2;
    if (rc) break;
    if (c->limited)
      fprintf(f, "%s\t%s\t%s\t%llu\t%llu\t%llu\t%u\n", c->name, pv_status_name(c->want),
              pv_codec_name(c->codec), (unsigned long long)c->limits.max_record_pixels,
              (unsigned long long)c->limits.max_record_bytes,
              (unsigned long long)c->limits.max_decoder_memory, c->limits.max_scans);
    else
      fprintf(f, "%s\t%s\t%s\t-\t-\t-\t-\n", c->name, pv_status_name(c->want),
              pv_codec_name(c->codec));
  }
  if (f && fclose(f) != 0) rc = 2;
  if (rc) fprintf(stderr, "make_hostile: cannot write the cases under %s\n", dir);
  pvhc_free(cs, n);
  return rc;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "fuzz-seeds") == 0) return fuzz_seeds(argv[2], argv[3]);
  if (argc == 3 && strcmp(argv[1], "codec-cases") == 0) return codec_cases(argv[2]);
  if (argc != 3 || strcmp(argv[1], "slow-jpeg") != 0) {
    fprintf(stderr, "usage: make_hostile slow-jpeg DIR | make_hostile codec-cases DIR | "
                    "make_hostile fuzz-seeds RECORD_DIR CROP_DIR\n");
    return 2;
  }
  pvhp_buf j = pvhp_jpeg_scans(4096, 4096, 30000, 0);
  pvh_record r;
  memset(&r, 0, sizeof r);
  r.codec = PV_CODEC_JPEG;
  r.width = r.height = 4096;
  r.payload = j.p;
  r.length = (uint32_t)j.n;
  r.path = "c0/slow.jpg";
  pvh_spec s;
  memset(&s, 0, sizeof s);
  s.class_count = 1;
  s.records = &r;
  s.record_count = 1;
  int rc = pvh_write_dataset(argv[2], &s);
  free(j.p);
  return rc == 0 ? 0 : 2;
}
