/* decode_dump.c - decodes one source image with the packer's decoder
 * (codec/decode.c: pv__probe_image + pv__decode_image, default options: full
 * resolution, EXIF orientation ignored, pixel limit 178956970 like PIL) and
 * writes the RGB pixels as a binary PPM (P6), so that tests/oracles/decode_parity.py
 * can compare them with PIL's Image.open(f).convert('RGB').
 *
 * Usage:
 *   build/tests/oracles/decode_dump FILE [OUT.ppm]      (no OUT, or "-": stdout)
 *   build/tests/oracles/decode_dump --batch             (paths on stdin, one a line)
 *
 * In batch mode (used by decode_parity.py to avoid one process per file),
 * for each path read from stdin it writes to stdout either
 *   "OK <format> <width> <height>\n" followed by width*height*3 RGB bytes, or
 *   "ERR <status> <message>\n".
 *
 * Single-file mode: on failure prints "decode_dump: FILE: <message>
 * (<status>)" to stderr and exits 1; 2 on bad usage or I/O error.
 * Build: part of the CMake build (bench/CMakeLists.txt), output
 * build/tests/oracles/decode_dump.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

#define PV_DUMP_MAX_PIXELS 178956970u

static int read_file(const char *path, uint8_t **buf, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  size_t cap = 1 << 16, n = 0;
  uint8_t *b = malloc(cap);
  if (!b) {
    fclose(f);
    return -1;
  }
  for (;;) {
    if (n == cap) {
      uint8_t *nb = realloc(b, cap * 2);
      if (!nb) {
        free(b);
        fclose(f);
        return -1;
      }
      b = nb;
      cap *= 2;
    }
    size_t got = fread(b + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(b);
    return -1;
  }
  *buf = b;
  *len = n;
  return 0;
}

/* Decodes path; on success fills img and *fmt, returns PV_OK. */
static pv_status decode_path(const char *path, pv_image *img, pv_src_format *fmt, char *err,
                             size_t errcap) {
  uint8_t *buf = NULL;
  size_t len = 0;
  memset(img, 0, sizeof *img);
  if (read_file(path, &buf, &len) != 0) {
    snprintf(err, errcap, "cannot read: %s", strerror(errno));
    return PV_ERR_IO;
  }
  pv_src_info info;
  pv_status st = pv__probe_image(buf, len, &info, err, errcap);
  if (st == PV_OK) {
    *fmt = info.format;
    pv_decode_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.max_pixels = PV_DUMP_MAX_PIXELS;
    st = pv__decode_image(buf, len, &opts, img, err, errcap);
  }
  free(buf);
  return st;
}

static int batch(void) {
  char line[8192];
  while (fgets(line, sizeof line, stdin)) {
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    if (!n) continue;
    pv_image img;
    pv_src_format fmt = PV_SRC_UNKNOWN;
    char err[512] = "";
    pv_status st = decode_path(line, &img, &fmt, err, sizeof err);
    if (st != PV_OK) {
      for (char *p = err; *p; p++)
        if (*p == '\n') *p = ' ';
      printf("ERR %s %s\n", pv_strerror(st), err);
    } else {
      printf("OK %s %u %u\n", pv__src_format_name(fmt), img.width, img.height);
      fwrite(img.pixels, 1, (size_t)img.width * img.height * 3, stdout);
      pv__image_free(&img);
    }
    if (fflush(stdout) != 0) return 2;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--batch") == 0) return batch();
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s FILE [OUT.ppm|-]\n       %s --batch < paths\n", argv[0], argv[0]);
    return 2;
  }
  pv_image img;
  pv_src_format fmt = PV_SRC_UNKNOWN;
  char err[512] = "";
  pv_status st = decode_path(argv[1], &img, &fmt, err, sizeof err);
  if (st != PV_OK) {
    fprintf(stderr, "decode_dump: %s: %s (%s)\n", argv[1], err, pv_strerror(st));
    return 1;
  }
  FILE *out = stdout;
  if (argc == 3 && strcmp(argv[2], "-") != 0) {
    out = fopen(argv[2], "wb");
    if (!out) {
      fprintf(stderr, "decode_dump: %s: %s\n", argv[2], strerror(errno));
      pv__image_free(&img);
      return 2;
    }
  }
  fprintf(out, "P6\n%u %u\n255\n", img.width, img.height);
  size_t bytes = (size_t)img.width * img.height * 3;
  int bad = fwrite(img.pixels, 1, bytes, out) != bytes;
  bad |= (out == stdout ? fflush(out) : fclose(out)) != 0;
  fprintf(stderr, "decode_dump: %s: %s %ux%u\n", argv[1], pv__src_format_name(fmt), img.width,
          img.height);
  pv__image_free(&img);
  return bad ? 2 : 0;
}
