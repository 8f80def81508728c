/* build.c - `pvpack build`: pack an ImageFolder tree (pv_build). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* The options are pv_build_options' table (pack/build_options.h, through
 * pv_build_option_info): flags, help, ranges and defaults all come from it. */
void build_usage(FILE *f) {
  fprintf(f,
          "usage: pvpack build SRC [-o OUT] [options]\n"
          "  -o, --output DIR        output directory (default: SRC.pvpack beside SRC)\n");
  cli_table_usage(f, pv_build_option_info);
  fprintf(f, "  --quiet                 no progress, no per-file lines; only the summary\n"
             "  --part K/N              build part K of N (0-based) into OUT/parts/K-of-N/, for\n"
             "                          packing on many machines; then `pvpack merge OUT`\n"
             "  --parts N               the same, K from SLURM_ARRAY_TASK_ID (less\n"
             "                          SLURM_ARRAY_TASK_MIN) or JOB_COMPLETION_INDEX; --part\n"
             "                          wins\n");
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
  printf("  time     %.2f s, %.0f images/s, %d thread%s\n", s->seconds,
         s->seconds > 0 ? (double)(s->images + s->skipped) / s->seconds : 0.0, s->threads,
         s->threads == 1 ? "" : "s");
}

int cmd_build(int argc, char **argv) {
  pv_build_options o;
  pv_build_options_init(&o);
  const char *src = NULL, *out = NULL;
  int quiet = 0;
  const char *part = NULL, *parts = NULL;
  argp a = {argc, 0, argv, NULL, argv[0], ""};
  for (a.i = 1; a.i < argc; a.i++) {
    if (cli_opt_is(&a, "-h") || cli_opt_is(&a, "--help")) {
      build_usage(stdout);
      return 0;
    } else if (cli_opt_is(&a, "-o") || cli_opt_is(&a, "--output")) {
      out = cli_opt_value(&a);
    } else if (cli_table_opt(&a, pv_build_option_info, &o)) {
    } else if (cli_opt_is(&a, "--part")) {
      if (!(part = cli_opt_value(&a))) return EXIT_USAGE;
    } else if (cli_opt_is(&a, "--parts")) {
      if (!(parts = cli_opt_value(&a))) return EXIT_USAGE;
    } else if (cli_opt_is(&a, "--quiet") || cli_opt_is(&a, "-q")) {
      quiet = 1;
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
  uint32_t pk = 0, pn = 0;
  int parted = part || parts;
  if (parted) {
    char perr[256] = "";
    pv_status ps = PV_OK;
    if (part) {
      ps = pv_part_parse(part, &pk, &pn, perr, sizeof perr);
      if (ps == PV_OK && parts) {
        uint32_t k2, n2;
        char t[48];
        snprintf(t, sizeof t, "0/%s", parts);
        if (pv_part_parse(t, &k2, &n2, NULL, 0) != PV_OK || n2 != pn) {
          snprintf(perr, sizeof perr, "--part %s and --parts %s disagree", part, parts);
          ps = PV_ERR_INVALID_ARG;
        }
      }
    } else {
      uint32_t k2, n2;
      char t[48];
      snprintf(t, sizeof t, "0/%s", parts);
      ps = pv_part_parse(t, &k2, &n2, NULL, 0);
      if (ps != PV_OK)
        snprintf(perr, sizeof perr, "--parts '%.20s': expected N, 1 <= N <= %u", parts,
                 PV_MAX_PARTS);
      else
        ps = pv_part_from_env(n2, &pk, &pn, perr, sizeof perr);
    }
    if (ps != PV_OK) {
      fprintf(stderr, "pvpack build: %s\n", perr);
      return EXIT_USAGE;
    }
    if (!out) {
      fprintf(stderr, "pvpack build: --part/--parts need -o OUT (the directory every part shares)\n");
      return EXIT_USAGE;
    }
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
  pv_status st = parted ? pv_build_part(src, out, &o, pk, pn, &s, err, sizeof err)
                        : pv_build(src, out, &o, &s, err, sizeof err);
  int rc = 0;
  if (st == PV_OK && parted && s.threads == 0) { /* pv_build_part: the write stage did not run */
    printf("part %u of %u of %s: already complete for this plan; nothing to do\n", pk, pn, out);
  } else if (st == PV_OK && parted) {
    /* The threads: what a job's CPU allocation gave (affinity / cgroup quota). */
    printf("part %u of %u of %s: %" PRIu64 " packed, %" PRIu64 " skipped, %u shards, "
           "%.2f s, %d thread%s\n", pk, pn, out, s.images, s.skipped, s.shards, s.seconds, s.threads,
           s.threads == 1 ? "" : "s");
  } else if (st == PV_OK) {
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
