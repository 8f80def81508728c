/* demo.c - `pvpack demo`: generate a demo ImageFolder, pack, verify and read
 * it back. Its JPEGs come from TurboJPEG directly (programs/ links it). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <turbojpeg.h>

#include "cli.h"

/* Writes a synthetic, photograph-sized image: smooth gradients, a disc and
 * noise-like texture, so that JPEG sizes are realistic. */
static int demo_image(const char *path, uint32_t w, uint32_t h, uint32_t seed, tjhandle tj) {
  uint8_t *px = malloc((size_t)w * h * 3);
  if (!px) return -1;
  uint32_t s = seed * 2654435761u + 1;
  float cx = (float)(s % w), cy = (float)((s >> 8) % h), rad = (float)(h / 4 + s % (h / 4 + 1));
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++) {
      s = s * 1103515245u + 12345u;
      int noise = (int)((s >> 16) & 15) - 8;
      float dx = (float)x - cx, dy = (float)y - cy;
      int in = dx * dx + dy * dy < rad * rad;
      uint8_t *p = px + ((size_t)y * w + x) * 3;
      int r = (int)(x * 255 / w) + noise, g = (int)(y * 255 / h) + noise,
          b = in ? 220 - (int)(seed * 29 % 120) + noise : 60 + (int)(seed * 13 % 90) + noise;
      p[0] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
      p[1] = (uint8_t)(g < 0 ? 0 : g > 255 ? 255 : g);
      p[2] = (uint8_t)(b < 0 ? 0 : b > 255 ? 255 : b);
    }
  unsigned char *jb = NULL;
  unsigned long jn = 0;
  int rc = tjCompress2(tj, px, (int)w, 0, (int)h, TJPF_RGB, &jb, &jn, TJSAMP_420, 85, 0);
  free(px);
  if (rc != 0) return -1;
  rc = cli_write_new_file(path, "", 0, jb, jn);
  tjFree(jb);
  return rc;
}

void demo_usage(FILE *f) {
  fprintf(f, "usage: pvpack demo [DIR]\n"
             "Generates a demo ImageFolder (4 classes x 100 JPEGs) in DIR/imagefolder\n"
             "(default DIR: pvpack-demo), packs it into DIR/imagefolder.pvpack, verifies it,\n"
             "reads it back, and streams 3 epochs through the batch loader (the train\n"
             "pipeline, as `pvpack bench`) with its throughput. DIR must not exist, be\n"
             "empty, or hold only what an earlier demo wrote; demo never deletes or\n"
             "overwrites a file.\n");
}

/* May demo write into base? Yes when it does not exist, is empty, or holds
 * only the two entries an earlier demo made. */
static int demo_dir_ok(const char *base) {
  struct stat sb;
  if (lstat(base, &sb) != 0) return errno == ENOENT;
  if (!S_ISDIR(sb.st_mode)) return 0;
  DIR *d = opendir(base);
  if (!d) return 0;
  struct dirent *e;
  int ok = 1;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
        strcmp(e->d_name, "imagefolder") && strcmp(e->d_name, "imagefolder.pvpack"))
      ok = 0;
  closedir(d);
  return ok;
}

int cmd_demo(int argc, char **argv) {
  const char *base = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      demo_usage(stdout);
      return 0;
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "pvpack demo: unknown option %s\n", argv[i]);
      return EXIT_USAGE;
    } else if (!base) {
      base = argv[i];
    } else {
      fprintf(stderr, "pvpack demo: unexpected argument %s\n", argv[i]);
      return EXIT_USAGE;
    }
  }
  if (!base) base = "pvpack-demo";
  static const char *const classes[] = {"cat", "dog", "fox", "owl"};
  const int per_class = 100;
  char src[4096], out[4200], path[4400];
  if (!demo_dir_ok(base)) {
    fprintf(stderr,
            "pvpack demo: %s exists and is not an earlier demo (it may hold only imagefolder/ "
            "and imagefolder.pvpack/); choose a new DIR\n",
            base);
    return EXIT_USAGE;
  }
  snprintf(src, sizeof src, "%s/imagefolder", base);
  snprintf(out, sizeof out, "%s/imagefolder.pvpack", base);
  cli_catch_stop_signals();
  if ((mkdir(base, 0777) != 0 && errno != EEXIST) || (mkdir(src, 0777) != 0 && errno != EEXIST)) {
    fprintf(stderr, "pvpack demo: cannot create %s: %s\n", src, strerror(errno));
    return EXIT_USAGE;
  }
  tjhandle tj = tjInitCompress();
  printf("1. generating a demo ImageFolder in %s (%zu classes x %d JPEGs, 500x375 and 375x500)\n",
         src, sizeof classes / sizeof *classes, per_class);
  for (size_t c = 0; c < sizeof classes / sizeof *classes; c++) {
    snprintf(path, sizeof path, "%s/%s", src, classes[c]);
    mkdir(path, 0777);
    for (int i = 0; i < per_class; i++) {
      if (cli_cancel) {
        tjDestroy(tj);
        fprintf(stderr, "pvpack demo: interrupted\n");
        return 128 + cli_cancel;
      }
      snprintf(path, sizeof path, "%s/%s/%s_%04d.jpg", src, classes[c], classes[c], i);
      struct stat sb;
      if (lstat(path, &sb) == 0) continue; /* an earlier demo's: kept as it is */
      uint32_t seed = (uint32_t)(c * 1000 + (size_t)i);
      if (demo_image(path, i % 3 ? 500 : 375, i % 3 ? 375 : 500, seed, tj) != 0) {
        fprintf(stderr, "pvpack demo: cannot write %s: %s\n", path, strerror(errno));
        tjDestroy(tj);
        return EXIT_USAGE;
      }
    }
  }
  tjDestroy(tj);
  /* One corrupt file shows how bad input is reported, not packed. */
  static const char broken[] = "\xff\xd8\xff\xe0 this is not really a JPEG";
  snprintf(path, sizeof path, "%s/cat/broken.jpg", src);
  struct stat bsb;
  if (lstat(path, &bsb) != 0) cli_write_new_file(path, "", 0, broken, sizeof broken - 1);
  printf("2. pvpack build %s -o %s --force\n", src, out);
  fflush(stdout);
  char *bargv[] = {"build", src, "-o", out, "--force", "--progress", "none", NULL};
  int rc = cmd_build(7, bargv);
  if (rc != 0) return rc;
  printf("3. pvpack verify %s --decode\n", out);
  fflush(stdout);
  char *vargv[] = {"verify", out, "--decode", NULL};
  if ((rc = cmd_verify(3, vargv)) != 0) return rc;
  printf("4. reading every record back through the library (decode to RGB)\n");
  pv_dataset *ds = cli_open_or_die(out);
  pv_decoder *dec = NULL;
  uint8_t *pix = NULL;
  size_t cap = 0;
  uint64_t n = pv_dataset_record_count(ds), pixels = 0;
  double t0 = cli_now_s();
  rc = pv_decoder_create(&dec) == PV_OK ? 0 : EXIT_USAGE;
  for (uint64_t i = 0; i < n && rc == 0; i++) {
    pv_record r;
    pv_dataset_record(ds, i, &r);
    size_t need = (size_t)r.width * r.height * 3;
    if (need > cap) {
      uint8_t *np = realloc(pix, need);
      if (!np) { rc = EXIT_USAGE; break; }
      pix = np;
      cap = need;
    }
    if (pv_decoder_decode(dec, &r, pix, (size_t)r.width * 3, cap) != PV_OK) {
      fprintf(stderr, "record %" PRIu64 ": %s\n", i, pv_decoder_last_error(dec));
      rc = EXIT_DAMAGE;
    }
    pixels += (uint64_t)r.width * r.height;
  }
  double el = cli_now_s() - t0;
  if (rc == 0)
    printf("   %" PRIu64 " records decoded on 1 thread in %.3f s: %.0f images/s, %.1f Mpixel/s\n", n,
           el, el > 0 ? n / el : 0, el > 0 ? pixels / el / 1e6 : 0);
  free(pix);
  pv_decoder_destroy(dec);
  pv_dataset_close(ds);
  if (rc == 0) {
    printf("5. pvpack info %s\n", out);
    fflush(stdout);
    char *iargv[] = {"info", out, NULL};
    rc = cmd_info(2, iargv);
  }
  if (rc == 0) {
    /* The point of it all: epochs streamed through the batch loader (train
     * pipeline: RandomResizedCrop 224 + flip, decoded on all usable CPUs). */
    printf("6. pvpack bench %s --epochs 3 --batch-size 64\n", out);
    fflush(stdout);
    char *benchv[] = {"bench", out, "--epochs", "3", "--batch-size", "64", NULL};
    rc = cmd_bench(6, benchv);
  }
  return rc;
}
