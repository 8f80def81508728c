/* build.c - `pvpack build`: pack an ImageFolder tree (pv_build). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void build_usage(FILE *f) {
  fprintf(f,
          "usage: pvpack build SRC [-o OUT] [options]\n"
          "  -o, --output DIR        output directory (default: SRC.pvpack beside SRC)\n"
          "  --resize POLICY         shorter (default) | longer | none\n"
          "  --size N                target for the resize policy (default 256)\n"
          "  --filter F              bilinear (default, as torchvision) | bicubic | lanczos\n"
          "  --codec C               jpeg (default) | raw | zstd | auto (zstd for small\n"
          "                          images, jpeg for the others)\n"
          "  --auto-threshold BYTES  auto: zstd when raw RGB size <= this (default 64K)\n"
          "  --quality Q             JPEG quality 1..100 (default 90)\n"
          "  --jpeg-restart N        restart markers every <= N MCUs (a divisor of the\n"
          "                          MCU row), so crops decode only what they cover;\n"
          "                          0 = none (default 4)\n"
          "  --zstd-level L          zstd level 1..22 (default 3)\n"
          "  --no-keep-original      re-encode JPEGs even when they need no change\n"
          "  --shard-size BYTES      target shard size, K/M/G suffixes (default 256M)\n"
          "  --no-shuffle            keep torchvision's order instead of shuffling\n"
          "  --seed S                shuffle seed (default 0)\n"
          "  --threads N             worker threads (default: the CPUs this process may\n"
          "                          use: affinity mask and cgroup CPU quota)\n"
          "  --max-pixels N          skip larger images (default 178956970, as PIL)\n"
          "  --max-file-size BYTES   skip larger files (default 1G)\n"
          "  --exif-orientation      apply EXIF orientation (default: ignore, as torchvision)\n"
          "  --strict                fail on the first skipped file\n"
          "  --force                 replace an existing OUT if it is a pvpack dataset\n"
          "                          (only its index.pvi, shard-NNNNN.pvs, report.txt);\n"
          "                          OUT may never be SRC, above SRC or inside SRC\n"
          "  --quiet                 no progress, no per-file lines; only the summary\n"
          "  --progress MODE         bar | lines | none (default: bar on a terminal)\n");
}

typedef struct cli_log {
  int quiet;
  uint64_t warnings;
} cli_log;

static void cli_logger(void *ctx, pv_log_level lv, const char *line) {
  cli_log *l = ctx;
  if (lv == PV_LOG_WARN) l->warnings++;
  if (l->quiet && lv != PV_LOG_WARN) return;
  /* Lines quote source file names, which may hold any byte. */
  flockfile(stderr);
  if (isatty(2)) fputc('\r', stderr);
  pv__put_escaped(stderr, line, strlen(line));
  fputc('\n', stderr);
  funlockfile(stderr);
}

static void print_build_summary(const char *out, const pv_build_summary *s) {
  char in[32], ob[32];
  cli_human_bytes(s->bytes_in, in, sizeof in);
  cli_human_bytes(s->bytes_out, ob, sizeof ob);
  printf("built %s\n", out);
  printf("  images   %" PRIu64 " packed, %" PRIu64 " skipped (of %" PRIu64 " files)\n", s->images,
         s->skipped, s->files);
  printf("  classes  %u\n", s->classes);
  printf("  shards   %u\n", s->shards);
  /* JPEG first (with its originals), then every other codec by byte value. */
  printf("  codecs   jpeg %" PRIu64 " (%" PRIu64 " original)", s->codec_records[PV_CODEC_JPEG],
         s->original_records);
  for (int c = 0; c < PV_CODEC_COUNT && c < (int)(sizeof s->codec_records / sizeof s->codec_records[0]); c++)
    if (c != PV_CODEC_JPEG) printf(", %s %" PRIu64, pv_codec_name(c), s->codec_records[c]);
  printf("\n");
  printf("  bytes    %s in, %s out (%.2fx)\n", in, ob,
         s->bytes_in ? (double)s->bytes_out / (double)s->bytes_in : 0.0);
  printf("  time     %.2f s, %.0f images/s, %d threads\n", s->seconds,
         s->seconds > 0 ? (double)(s->images + s->skipped) / s->seconds : 0.0, s->threads);
}

int cmd_build(int argc, char **argv) {
  pv_build_options o;
  pv_build_options_init(&o);
  const char *src = NULL, *out = NULL;
  int quiet = 0;
  argp a = {argc, 0, argv, NULL, argv[0], ""};
  for (a.i = 1; a.i < argc; a.i++) {
    const char *v;
    if (cli_opt_is(&a, "-h") || cli_opt_is(&a, "--help")) {
      build_usage(stdout);
      return 0;
    } else if (cli_opt_is(&a, "-o") || cli_opt_is(&a, "--output")) {
      out = cli_opt_value(&a);
    } else if (cli_opt_is(&a, "--resize")) {
      v = cli_opt_value(&a);
      if (!strcmp(v, "shorter")) o.resize = PV_RESIZE_SHORTER;
      else if (!strcmp(v, "longer")) o.resize = PV_RESIZE_LONGER;
      else if (!strcmp(v, "none")) o.resize = PV_RESIZE_NONE;
      else cli_bad_value(&a, v);
    } else if (cli_opt_is(&a, "--size")) {
      int n;
      if (!cli_parse_int(v = cli_opt_value(&a), 1, 65500, &n)) cli_bad_value(&a, v);
      o.resize_to = (uint32_t)n;
    } else if (cli_opt_is(&a, "--filter")) {
      int f = pv_filter_from_name(v = cli_opt_value(&a));
      if (f < 0) cli_bad_value(&a, v);
      o.filter = f;
    } else if (cli_opt_is(&a, "--codec")) {
      v = cli_opt_value(&a);
      /* a codec of the format (pv_codec_by_name), or auto */
      if (pv_codec_by_name(v) >= 0) o.codec = pv_codec_by_name(v);
      else if (!strcmp(v, "auto")) o.codec = PV_PACK_CODEC_AUTO;
      else cli_bad_value(&a, v);
    } else if (cli_opt_is(&a, "--auto-threshold")) {
      uint64_t t;
      if (!cli_parse_u64(v = cli_opt_value(&a), &t) || t > UINT32_MAX) cli_bad_value(&a, v);
      o.auto_threshold = (uint32_t)t;
    } else if (cli_opt_is(&a, "--quality")) {
      if (!cli_parse_int(v = cli_opt_value(&a), 1, 100, &o.jpeg_quality)) cli_bad_value(&a, v);
    } else if (cli_opt_is(&a, "--jpeg-restart")) {
      uint64_t t;
      if (!cli_parse_u64(v = cli_opt_value(&a), &t) || t > 65535) cli_bad_value(&a, v);
      o.jpeg_restart = (uint32_t)t;
    } else if (cli_opt_is(&a, "--zstd-level")) {
      if (!cli_parse_int(v = cli_opt_value(&a), 1, 22, &o.zstd_level)) cli_bad_value(&a, v);
    } else if (cli_opt_is(&a, "--no-keep-original")) {
      o.keep_original = 0;
    } else if (cli_opt_is(&a, "--shard-size")) {
      if (!cli_parse_u64(v = cli_opt_value(&a), &o.shard_bytes)) cli_bad_value(&a, v);
    } else if (cli_opt_is(&a, "--no-shuffle")) {
      o.shuffle = 0;
    } else if (cli_opt_is(&a, "--seed")) {
      if (!cli_parse_u64(v = cli_opt_value(&a), &o.seed)) cli_bad_value(&a, v);
    } else if (cli_opt_is(&a, "--threads")) {
      if (!cli_parse_int(v = cli_opt_value(&a), 0, 1024, &o.threads)) cli_bad_value(&a, v);
    } else if (cli_opt_is(&a, "--max-pixels")) {
      if (!cli_parse_u64(v = cli_opt_value(&a), &o.max_pixels)) cli_bad_value(&a, v);
    } else if (cli_opt_is(&a, "--max-file-size")) {
      if (!cli_parse_u64(v = cli_opt_value(&a), &o.max_file_bytes)) cli_bad_value(&a, v);
    } else if (cli_opt_is(&a, "--exif-orientation")) {
      o.apply_exif_orientation = 1;
    } else if (cli_opt_is(&a, "--strict")) {
      o.strict = 1;
    } else if (cli_opt_is(&a, "--force")) {
      o.force = 1;
    } else if (cli_opt_is(&a, "--quiet") || cli_opt_is(&a, "-q")) {
      quiet = 1;
    } else if (cli_opt_is(&a, "--progress")) {
      v = cli_opt_value(&a);
      if (!strcmp(v, "bar")) o.progress = 1;
      else if (!strcmp(v, "lines")) o.progress = 2;
      else if (!strcmp(v, "none")) o.progress = 0;
      else cli_bad_value(&a, v);
    } else if (argv[a.i][0] == '-' && argv[a.i][1]) {
      fprintf(stderr, "pvpack build: unknown option %s\n", argv[a.i]);
      return EXIT_USAGE;
    } else if (!src) {
      src = argv[a.i];
    } else {
      fprintf(stderr, "pvpack build: unexpected argument %s\n", argv[a.i]);
      return EXIT_USAGE;
    }
  }
  if (!src) {
    build_usage(stderr);
    return EXIT_USAGE;
  }
  if (quiet) o.progress = 0;
  cli_log lg = {quiet, 0};
  o.log = cli_logger;
  o.log_ctx = &lg;
  o.cancel = &cli_cancel;
  cli_catch_stop_signals();
  char *def = out ? NULL : pv_default_output_dir(src);
  if (!out) out = def;
  pv_build_summary s;
  char err[1024] = "";
  pv_status st = pv_build(src, out, &o, &s, err, sizeof err);
  int rc = 0;
  if (st == PV_OK) {
    print_build_summary(out, &s);
    if (s.skipped) printf("  report   %s/%s lists the skipped files\n", out, PV_REPORT_FILENAME);
  } else {
    fprintf(stderr, "pvpack build: %s: ", pv_strerror(st));
    pv__put_escaped(stderr, err, strlen(err));
    fputc('\n', stderr);
    rc = (st == PV_ERR_SKIPPED || st == PV_ERR_EMPTY) ? EXIT_DAMAGE : EXIT_USAGE;
    if (st == PV_ERR_CANCELLED) rc = 128 + (cli_cancel ? cli_cancel : SIGINT);
  }
  free(def);
  return rc;
}
