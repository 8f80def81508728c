/* main.c - the `pvpack` command: build, verify, info, get, bench, demo.
 *
 * A thin shell over pv_build / pv_verify / the reader API. Exit codes:
 * 0 success; 1 the command ran and found a problem (verify: damage; build:
 * a strict-mode skip or nothing packable); 2 usage or I/O error, or not a
 * dataset; 128 + N when stopped by signal N (SIGINT 130, SIGTERM 143).
 *
 * Every command answers -h / --help (anywhere on its command line) with its
 * usage on stdout and does nothing else. No command deletes or overwrites a
 * file it did not write: build follows pv_build's output rule, get writes
 * only a new file, demo only into a new, empty or earlier demo folder.
 * Strings that come from a dataset (class names, source paths) are printed
 * escaped (escape.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "decode.h"
#include "escape.h"
#include "pv_pack.h"
#include "pv_verify.h"
#include "pvpack.h"
#include "resample.h"

#define EXIT_DAMAGE 1
#define EXIT_USAGE 2

/* The number of the signal (SIGINT, SIGTERM) that asked us to stop; 0 = none. */
static volatile sig_atomic_t g_cancel;
static void on_stop_signal(int sig) { g_cancel = sig; }

/* SIGINT and SIGTERM set g_cancel instead of killing the process, so a build
 * removes its temporary directory and the command exits 128 + signal. */
static void catch_stop_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: pvpack <command> [options]\n"
          "\n"
          "commands:\n"
          "  build SRC [-o OUT]   pack an ImageFolder tree (default OUT: SRC.pvpack)\n"
          "  verify DIR           check every byte of a dataset (exit 0 clean, 1 damage, 2 error)\n"
          "  info DIR             counts, classes, codecs, sizes, build options\n"
          "  get DIR N [-o FILE]  write record N as an image file; print label and source\n"
          "  bench DIR            measure the batch loader (images/s, per-stage time)\n"
          "  demo [DIR]           generate a demo ImageFolder, pack it, verify it, read it back\n"
          "  version              print the library and format versions (also -V, --version)\n"
          "  help [COMMAND]       this text, or the usage of COMMAND\n"
          "\n"
          "Run 'pvpack <command> --help' or 'pvpack help <command>' for the options of a\n"
          "command.\n");
}

static void build_usage(FILE *f) {
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

/* Strict unsigned decimal: digits only (no sign, no spaces), no overflow. */
static int parse_digits(const char *s, uint64_t *out, const char **end) {
  if (*s < '0' || *s > '9') return 0;
  uint64_t v = 0;
  for (; *s >= '0' && *s <= '9'; s++) {
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10) return 0;
    v = v * 10 + d;
  }
  *out = v;
  *end = s;
  return 1;
}

/* A count: digits only, nothing after them. */
static int parse_count(const char *s, uint64_t *out) {
  const char *end;
  return parse_digits(s, out, &end) && *end == 0;
}

/* A size: digits with an optional K/M/G (KiB, MiB, GiB; "KB", "K", "KiB"). */
static int parse_u64(const char *s, uint64_t *out) {
  const char *end;
  uint64_t v;
  if (!parse_digits(s, &v, &end)) return 0;
  uint64_t mul = 1;
  if (*end == 'K' || *end == 'k') mul = 1ull << 10, end++;
  else if (*end == 'M' || *end == 'm') mul = 1ull << 20, end++;
  else if (*end == 'G' || *end == 'g') mul = 1ull << 30, end++;
  if (mul > 1 && *end == 'i') end++;
  if (*end == 'B') end++;
  if (*end) return 0;
  if (mul > 1 && v > UINT64_MAX / mul) return 0;
  *out = v * mul;
  return 1;
}

static int parse_int(const char *s, int lo, int hi, int *out) {
  uint64_t v;
  if (lo < 0 || !parse_count(s, &v) || v < (uint64_t)lo || v > (uint64_t)hi) return 0;
  *out = (int)v;
  return 1;
}

/* Shared option plumbing: "--name value" or "--name=value". */
typedef struct argp {
  int argc, i;
  char **argv;
  const char *val;
  const char *cmd;  /* "build", ... for messages */
  const char *name; /* the option last matched by opt_is */
} argp;

static int opt_is(argp *a, const char *name) {
  const char *arg = a->argv[a->i];
  size_t n = strlen(name);
  if (strncmp(arg, name, n) != 0) return 0;
  if (arg[n] == '=') {
    a->val = arg + n + 1;
    a->name = name;
    return 1;
  }
  if (arg[n] != 0) return 0;
  a->val = NULL;
  a->name = name;
  return 1;
}

static const char *opt_value(argp *a) {
  if (a->val) return a->val;
  if (a->i + 1 >= a->argc) {
    fprintf(stderr, "pvpack %s: %s needs a value\n", a->cmd, a->name);
    exit(EXIT_USAGE);
  }
  return a->argv[++a->i];
}

/* "pvpack build: --size: bad value 'abc'" */
static void bad_value(argp *a, const char *v) {
  fprintf(stderr, "pvpack %s: %s: bad value '", a->cmd, a->name);
  pv__put_escaped(stderr, v, strlen(v));
  fprintf(stderr, "'\n");
  exit(EXIT_USAGE);
}

/* The read-side limit flags of verify, get and bench (pv_limits). Returns 1
 * when a.argv[a.i] was one of them. */
#define LIMITS_USAGE                                                                           \
  "  --max-record-pixels N   refuse records of more pixels (default 178956970; 0 = none)\n"  \
  "  --max-record-bytes B    refuse larger payloads, K/M/G suffixes (default 1G; 0 = none)\n" \
  "  --max-decoder-memory B  refuse records whose decoder needs more working memory\n"      \
  "                          (default 1498764624, 8 per allowed pixel + 64M; 0 = none)\n"     \
  "  --max-scans N           refuse JPEGs of more scans (default 500; 0 = none)\n"
static int limit_opt(argp *a, pv_limits *L) {
  const char *v;
  if (opt_is(a, "--max-record-pixels")) {
    if (!parse_u64(v = opt_value(a), &L->max_record_pixels)) bad_value(a, v);
  } else if (opt_is(a, "--max-record-bytes")) {
    if (!parse_u64(v = opt_value(a), &L->max_record_bytes)) bad_value(a, v);
  } else if (opt_is(a, "--max-decoder-memory")) {
    if (!parse_u64(v = opt_value(a), &L->max_decoder_memory)) bad_value(a, v);
  } else if (opt_is(a, "--max-scans")) {
    int n;
    if (!parse_int(v = opt_value(a), 0, 1 << 30, &n)) bad_value(a, v);
    L->max_scans = (uint32_t)n;
  } else {
    return 0;
  }
  return 1;
}

static void human_bytes(uint64_t b, char *out, size_t cap) {
  const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)b;
  int k = 0;
  while (v >= 1024 && k < 4) v /= 1024, k++;
  snprintf(out, cap, k ? "%.1f %s" : "%.0f %s", v, u[k]);
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
  human_bytes(s->bytes_in, in, sizeof in);
  human_bytes(s->bytes_out, ob, sizeof ob);
  printf("built %s\n", out);
  printf("  images   %" PRIu64 " packed, %" PRIu64 " skipped (of %" PRIu64 " files)\n", s->images,
         s->skipped, s->files);
  printf("  classes  %u\n", s->classes);
  printf("  shards   %u\n", s->shards);
  printf("  codecs   jpeg %" PRIu64 " (%" PRIu64 " original), raw %" PRIu64 ", zstd %" PRIu64 "\n",
         s->codec_records[PV_CODEC_JPEG], s->original_records, s->codec_records[PV_CODEC_RAW],
         s->codec_records[PV_CODEC_ZSTD]);
  printf("  bytes    %s in, %s out (%.2fx)\n", in, ob,
         s->bytes_in ? (double)s->bytes_out / (double)s->bytes_in : 0.0);
  printf("  time     %.2f s, %.0f images/s, %d threads\n", s->seconds,
         s->seconds > 0 ? (double)(s->images + s->skipped) / s->seconds : 0.0, s->threads);
}

static int cmd_build(int argc, char **argv) {
  pv_build_options o;
  pv_build_options_init(&o);
  const char *src = NULL, *out = NULL;
  int quiet = 0;
  argp a = {argc, 0, argv, NULL, argv[0], ""};
  for (a.i = 1; a.i < argc; a.i++) {
    const char *v;
    if (opt_is(&a, "-h") || opt_is(&a, "--help")) {
      build_usage(stdout);
      return 0;
    } else if (opt_is(&a, "-o") || opt_is(&a, "--output")) {
      out = opt_value(&a);
    } else if (opt_is(&a, "--resize")) {
      v = opt_value(&a);
      if (!strcmp(v, "shorter")) o.resize = PV_RESIZE_SHORTER;
      else if (!strcmp(v, "longer")) o.resize = PV_RESIZE_LONGER;
      else if (!strcmp(v, "none")) o.resize = PV_RESIZE_NONE;
      else bad_value(&a, v);
    } else if (opt_is(&a, "--size")) {
      int n;
      if (!parse_int(v = opt_value(&a), 1, 65500, &n)) bad_value(&a, v);
      o.resize_to = (uint32_t)n;
    } else if (opt_is(&a, "--filter")) {
      int f = pv__filter_from_name(v = opt_value(&a));
      if (f < 0) bad_value(&a, v);
      o.filter = f;
    } else if (opt_is(&a, "--codec")) {
      v = opt_value(&a);
      if (!strcmp(v, "jpeg")) o.codec = PV_PACK_CODEC_JPEG;
      else if (!strcmp(v, "raw")) o.codec = PV_PACK_CODEC_RAW;
      else if (!strcmp(v, "zstd")) o.codec = PV_PACK_CODEC_ZSTD;
      else if (!strcmp(v, "auto")) o.codec = PV_PACK_CODEC_AUTO;
      else bad_value(&a, v);
    } else if (opt_is(&a, "--auto-threshold")) {
      uint64_t t;
      if (!parse_u64(v = opt_value(&a), &t) || t > UINT32_MAX) bad_value(&a, v);
      o.auto_threshold = (uint32_t)t;
    } else if (opt_is(&a, "--quality")) {
      if (!parse_int(v = opt_value(&a), 1, 100, &o.jpeg_quality)) bad_value(&a, v);
    } else if (opt_is(&a, "--jpeg-restart")) {
      uint64_t t;
      if (!parse_u64(v = opt_value(&a), &t) || t > 65535) bad_value(&a, v);
      o.jpeg_restart = (uint32_t)t;
    } else if (opt_is(&a, "--zstd-level")) {
      if (!parse_int(v = opt_value(&a), 1, 22, &o.zstd_level)) bad_value(&a, v);
    } else if (opt_is(&a, "--no-keep-original")) {
      o.keep_original = 0;
    } else if (opt_is(&a, "--shard-size")) {
      if (!parse_u64(v = opt_value(&a), &o.shard_bytes)) bad_value(&a, v);
    } else if (opt_is(&a, "--no-shuffle")) {
      o.shuffle = 0;
    } else if (opt_is(&a, "--seed")) {
      if (!parse_u64(v = opt_value(&a), &o.seed)) bad_value(&a, v);
    } else if (opt_is(&a, "--threads")) {
      if (!parse_int(v = opt_value(&a), 0, 1024, &o.threads)) bad_value(&a, v);
    } else if (opt_is(&a, "--max-pixels")) {
      if (!parse_u64(v = opt_value(&a), &o.max_pixels)) bad_value(&a, v);
    } else if (opt_is(&a, "--max-file-size")) {
      if (!parse_u64(v = opt_value(&a), &o.max_file_bytes)) bad_value(&a, v);
    } else if (opt_is(&a, "--exif-orientation")) {
      o.apply_exif_orientation = 1;
    } else if (opt_is(&a, "--strict")) {
      o.strict = 1;
    } else if (opt_is(&a, "--force")) {
      o.force = 1;
    } else if (opt_is(&a, "--quiet") || opt_is(&a, "-q")) {
      quiet = 1;
    } else if (opt_is(&a, "--progress")) {
      v = opt_value(&a);
      if (!strcmp(v, "bar")) o.progress = 1;
      else if (!strcmp(v, "lines")) o.progress = 2;
      else if (!strcmp(v, "none")) o.progress = 0;
      else bad_value(&a, v);
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
  o.cancel = &g_cancel;
  catch_stop_signals();
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
    if (st == PV_ERR_CANCELLED) rc = 128 + (g_cancel ? g_cancel : SIGINT);
  }
  free(def);
  return rc;
}

/* ---- verify ------------------------------------------------------------------ */

static void json_str(FILE *f, const char *s, size_t n) { pv__put_json_string(f, s, n); }

static void verify_usage(FILE *f) {
  fprintf(f,
          "usage: pvpack verify DIR [--decode] [--threads N] [--json] [--max-problems N]\n"
          "                     [limits]\n"
          "  --decode            also decode every record, within these limits (a record\n"
          "                      over one is a problem, PV_ERR_LIMIT, as the loader refuses\n"
          "                      it):\n" LIMITS_USAGE
          "  --threads N         (default: the CPUs this process may use)\n"
          "  --json              one JSON object on stdout\n"
          "  --max-problems N    list at most N problems (default 100; 0 = all); all\n"
          "                      are counted\n"
          "exit status: 0 clean, 1 damage found, 2 usage or I/O error, or DIR is not a\n"
          "pvpack dataset\n");
}
typedef struct vjson {
  FILE *f;
  int n;
} vjson;

static void verify_json_problem(void *ctx, const char *file, int64_t record, const char *source,
                                pv_status st, const char *what) {
  vjson *j = ctx;
  fprintf(j->f, "%s\n    {\"file\": ", j->n++ ? "," : "");
  json_str(j->f, file, strlen(file));
  fprintf(j->f, ", \"record\": %lld, \"source\": ", (long long)record);
  if (source) json_str(j->f, source, strlen(source));
  else fputs("null", j->f);
  fprintf(j->f, ", \"status\": \"%s\", \"what\": ", pv_status_name(st));
  json_str(j->f, what, strlen(what));
  fputc('}', j->f);
}

static int cmd_verify(int argc, char **argv) {
  pv_verify_options o;
  pv_verify_options_init(&o);
  const char *dir = NULL;
  int json = 0;
  argp a = {argc, 0, argv, NULL, argv[0], ""};
  for (a.i = 1; a.i < argc; a.i++) {
    const char *v;
    if (opt_is(&a, "-h") || opt_is(&a, "--help")) {
      verify_usage(stdout);
      return 0;
    } else if (limit_opt(&a, &o.limits)) {
    } else if (opt_is(&a, "--decode")) {
      o.decode = 1;
    } else if (opt_is(&a, "--json")) {
      json = 1;
    } else if (opt_is(&a, "--threads")) {
      if (!parse_int(v = opt_value(&a), 0, 256, &o.threads)) bad_value(&a, v);
    } else if (opt_is(&a, "--max-problems")) {
      if (!parse_int(v = opt_value(&a), 0, 1 << 30, &o.max_problems)) bad_value(&a, v);
    } else if (argv[a.i][0] == '-') {
      fprintf(stderr, "pvpack verify: unknown option %s\n", argv[a.i]);
      return EXIT_USAGE;
    } else if (!dir) {
      dir = argv[a.i];
    } else {
      fprintf(stderr, "pvpack verify: unexpected argument %s\n", argv[a.i]);
      return EXIT_USAGE;
    }
  }
  if (!dir) {
    verify_usage(stderr);
    return EXIT_USAGE;
  }
  vjson j = {stdout, 0};
  if (json) {
    o.problem = verify_json_problem;
    o.ctx = &j;
    printf("{\n  \"dataset\": ");
    json_str(stdout, dir, strlen(dir));
    printf(",\n  \"problems\": [");
  }
  pv_verify_summary s;
  pv_status st = pv_verify(dir, &o, &s);
  int rc = s.problems ? EXIT_DAMAGE : (st == PV_OK ? 0 : EXIT_USAGE);
  double gbs = s.seconds > 0 ? (double)s.bytes_checked / s.seconds / 1e9 : 0;
  /* Why it could not run: not a dataset (exit 2, not "DAMAGED"), or not
   * even there. */
  char why[800] = "";
  if (rc == EXIT_USAGE) {
    if (st == PV_ERR_NOT_PVPACK || st == PV_ERR_NOT_FOUND) {
      struct stat sb;
      snprintf(why, sizeof why, "not a pvpack dataset (%s)",
               st == PV_ERR_NOT_FOUND ? "no such file or directory"
               : stat(dir, &sb) == 0 && !S_ISDIR(sb.st_mode)
                   ? "not a directory"
                   : "no " PV_INDEX_FILENAME " and no shard files");
    } else {
      /* A resource limit (a shard it could not map, counts over this
       * reader's limits): s.error says which. */
      snprintf(why, sizeof why, "%s%s%s", pv_strerror(st), s.error[0] ? ": " : "", s.error);
    }
    fprintf(stderr, "pvpack verify: ");
    pv__put_escaped(stderr, dir, strlen(dir));
    fprintf(stderr, ": %s\n", why);
  }
  /* problem_count: the problems listed (at most --max-problems);
   * problem_total: all found; problems_omitted: the difference. */
  uint64_t listed = (uint64_t)j.n;
  if (json) {
    printf("%s],\n  \"problem_count\": %" PRIu64 ",\n  \"problem_total\": %" PRIu64
           ",\n  \"problems_omitted\": %" PRIu64 ",\n  \"status\": \"%s\",\n",
           j.n ? "\n  " : "", listed, s.problems, s.problems > listed ? s.problems - listed : 0,
           pv_status_name(st));
    if (why[0]) {
      printf("  \"error\": ");
      json_str(stdout, why, strlen(why));
      printf(",\n");
    }
    printf("  \"ok\": %s,\n  \"shards_checked\": %u,\n  \"records_checked\": %" PRIu64
           ",\n  \"records_decoded\": %" PRIu64 ",\n  \"bytes_checked\": %" PRIu64
           ",\n  \"threads\": %d,\n  \"seconds\": %.6f,\n  \"gb_per_s\": %.3f\n}\n",
           rc == 0 ? "true" : "false", s.shards_checked, s.records_checked, s.records_decoded,
           s.bytes_checked, s.threads, s.seconds, gbs);
  } else if (rc == 0) {
    char b[32];
    human_bytes(s.bytes_checked, b, sizeof b);
    printf("OK ");
    pv__put_escaped(stdout, dir, strlen(dir));
    printf(": %u shards, %" PRIu64 " records, %s checked%s in %.3f s (%.2f GB/s, %d threads)\n",
           s.shards_checked, s.records_checked, b, o.decode ? " and decoded" : "", s.seconds, gbs,
           s.threads);
  } else if (rc == EXIT_DAMAGE) {
    printf("DAMAGED ");
    pv__put_escaped(stdout, dir, strlen(dir));
    printf(": %" PRIu64 " problem(s) found (first: %s)", s.problems, pv_strerror(st));
    if (o.max_problems > 0 && s.problems > (uint64_t)o.max_problems)
      printf("; the first %d listed", o.max_problems);
    printf("\n");
  }
  if (rc == EXIT_DAMAGE && s.error[0]) {
    fprintf(stderr, "pvpack verify: ");
    pv__put_escaped(stderr, dir, strlen(dir));
    fprintf(stderr, ": stopped early: ");
    pv__put_escaped(stderr, s.error, strlen(s.error));
    fputc('\n', stderr);
  }
  return rc;
}

/* ---- info ------------------------------------------------------------------- */

typedef struct stat3 {
  uint64_t min, max;
  double sum;
} stat3;

static void st_add(stat3 *s, uint64_t v, uint64_t n) {
  if (n == 0 || v < s->min) s->min = v;
  if (v > s->max) s->max = v;
  s->sum += (double)v;
}

static pv_dataset *open_or_die_opts(const char *dir, const pv_open_options *oo) {
  pv_dataset *ds = NULL;
  char err[1024] = "";
  pv_status st = pv_dataset_open(dir, oo, &ds, err, sizeof err);
  if (st != PV_OK) {
    fprintf(stderr, "pvpack: cannot open ");
    pv__put_escaped(stderr, dir, strlen(dir));
    fprintf(stderr, ": %s: ", pv_strerror(st));
    pv__put_escaped(stderr, err, strlen(err));
    fputc('\n', stderr);
    exit(st == PV_ERR_NOT_FOUND || st == PV_ERR_IO ? EXIT_USAGE : EXIT_DAMAGE);
  }
  return ds;
}

static pv_dataset *open_or_die(const char *dir) { return open_or_die_opts(dir, NULL); }

static void info_usage(FILE *f) {
  fprintf(f, "usage: pvpack info DIR [--json]\n"
             "Counts, classes, codecs, sizes and the build options of a dataset. Class names\n"
             "and paths are printed escaped (\\n, \\xNN, ...); --json gives valid JSON.\n");
}

static int cmd_info(int argc, char **argv) {
  const char *dir = NULL;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      info_usage(stdout);
      return 0;
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "pvpack info: unknown option %s\n", argv[i]);
      return EXIT_USAGE;
    } else if (!dir) {
      dir = argv[i];
    } else {
      fprintf(stderr, "pvpack info: unexpected argument %s\n", argv[i]);
      return EXIT_USAGE;
    }
  }
  if (!dir) {
    info_usage(stderr);
    return EXIT_USAGE;
  }
  pv_dataset *ds = open_or_die(dir);
  uint64_t n = pv_dataset_record_count(ds);
  uint32_t nc = pv_dataset_class_count(ds);
  uint64_t codecs[PV_CODEC_COUNT] = {0}, originals = 0, total = 0;
  stat3 bytes = {0, 0, 0}, w = {0, 0, 0}, h = {0, 0, 0};
  int rc = 0;
  for (uint64_t i = 0; i < n; i++) {
    pv_record r;
    char rerr[512];
    pv_status rst = pv_dataset_record_ex(ds, i, &r, rerr, sizeof rerr);
    if (rst != PV_OK) {
      fprintf(stderr, "pvpack info: record %" PRIu64 ": %s: ", i, pv_strerror(rst));
      pv__put_escaped(stderr, rerr, strlen(rerr));
      fputc('\n', stderr);
      rc = EXIT_DAMAGE;
      continue;
    }
    if (r.codec < PV_CODEC_COUNT) codecs[r.codec]++;
    originals += (r.flags & PV_RECORD_FLAG_ORIGINAL) != 0;
    total += r.length;
    st_add(&bytes, r.length, i);
    st_add(&w, r.width, i);
    st_add(&h, r.height, i);
  }
  double dn = n ? (double)n : 1;
  size_t olen, slen;
  const char *opt = pv_dataset_options_text(ds, &olen);
  const char *skp = pv_dataset_skipped_text(ds, &slen);
  FILE *f = stdout;
  if (json) {
    fprintf(f, "{\n  \"path\": ");
    json_str(f, dir, strlen(dir));
    fprintf(f, ",\n  \"format_version\": \"%u.%u\",\n  \"dataset_id\": \"%016" PRIx64 "\",\n",
            PV_FORMAT_VERSION_MAJOR, PV_FORMAT_VERSION_MINOR, pv_dataset_id(ds));
    fprintf(f, "  \"records\": %" PRIu64 ",\n  \"shards\": %u,\n  \"skipped\": %" PRIu64 ",\n", n,
            pv_dataset_shard_count(ds), pv_dataset_skipped_count(ds));
    fprintf(f, "  \"classes\": [");
    for (uint32_t c = 0; c < nc; c++) {
      const char *cn = pv_dataset_class_name(ds, c);
      fprintf(f, "%s", c ? ", " : "");
      json_str(f, cn ? cn : "", cn ? strlen(cn) : 0);
    }
    fprintf(f, "],\n  \"class_counts\": [");
    for (uint32_t c = 0; c < nc; c++)
      fprintf(f, "%s%" PRIu64, c ? ", " : "", pv_dataset_class_records(ds, c));
    fprintf(f, "],\n  \"codecs\": {\"raw\": %" PRIu64 ", \"jpeg\": %" PRIu64 ", \"zstd\": %" PRIu64
               ", \"original_jpeg\": %" PRIu64 "},\n",
            codecs[0], codecs[1], codecs[2], originals);
    fprintf(f, "  \"payload_bytes\": {\"total\": %" PRIu64 ", \"min\": %" PRIu64
               ", \"mean\": %.1f, \"max\": %" PRIu64 "},\n",
            total, bytes.min, bytes.sum / dn, bytes.max);
    fprintf(f, "  \"width\": {\"min\": %" PRIu64 ", \"mean\": %.1f, \"max\": %" PRIu64 "},\n", w.min,
            w.sum / dn, w.max);
    fprintf(f, "  \"height\": {\"min\": %" PRIu64 ", \"mean\": %.1f, \"max\": %" PRIu64 "},\n",
            h.min, h.sum / dn, h.max);
    fprintf(f, "  \"build_options\": {");
    int first = 1;
    for (size_t p = 0; p < olen;) {
      const char *nl = memchr(opt + p, '\n', olen - p);
      size_t e = nl ? (size_t)(nl - opt) : olen;
      const char *eq = memchr(opt + p, '=', e - p);
      if (eq) {
        fprintf(f, "%s", first ? "" : ", ");
        first = 0;
        json_str(f, opt + p, (size_t)(eq - (opt + p)));
        fputs(": ", f);
        json_str(f, eq + 1, e - (size_t)(eq + 1 - opt));
      }
      p = e + 1;
    }
    fprintf(f, "},\n  \"skipped_files\": ");
    json_str(f, skp, slen);
    fprintf(f, "\n}\n");
  } else {
    char tb[32];
    human_bytes(total, tb, sizeof tb);
    fprintf(f, "dataset   ");
    pv__put_escaped(f, dir, strlen(dir));
    fprintf(f, " (format %u.%u, id %016" PRIx64 ")\n", PV_FORMAT_VERSION_MAJOR,
            PV_FORMAT_VERSION_MINOR, pv_dataset_id(ds));
    fprintf(f, "records   %" PRIu64 " in %u shards (%" PRIu64 " source files skipped)\n", n,
            pv_dataset_shard_count(ds), pv_dataset_skipped_count(ds));
    fprintf(f, "codecs    jpeg %" PRIu64 " (original %" PRIu64 "), raw %" PRIu64 ", zstd %" PRIu64
               "\n",
            codecs[1], originals, codecs[0], codecs[2]);
    fprintf(f, "payload   %s; per record min %" PRIu64 ", mean %.0f, max %" PRIu64 " bytes\n", tb,
            bytes.min, bytes.sum / dn, bytes.max);
    fprintf(f, "width     min %" PRIu64 ", mean %.1f, max %" PRIu64 "\n", w.min, w.sum / dn, w.max);
    fprintf(f, "height    min %" PRIu64 ", mean %.1f, max %" PRIu64 "\n", h.min, h.sum / dn, h.max);
    fprintf(f, "classes   %u\n", nc);
    for (uint32_t c = 0; c < nc; c++) {
      const char *cn = pv_dataset_class_name(ds, c);
      char *esc = cn ? pv__escaped(cn, strlen(cn)) : NULL;
      fprintf(f, "  %5u  %-40s %" PRIu64 "\n", c, esc ? esc : "?",
              pv_dataset_class_records(ds, c));
      free(esc);
    }
    fprintf(f, "build options\n");
    for (size_t p = 0; p < olen;) {
      const char *nl = memchr(opt + p, '\n', olen - p);
      size_t e = nl ? (size_t)(nl - opt) : olen;
      fputs("  ", f);
      pv__put_escaped(f, opt + p, e - p);
      fputc('\n', f);
      p = e + 1;
    }
  }
  pv_dataset_close(ds);
  return rc;
}

/* ---- get ------------------------------------------------------------------- */

/* Creates path exclusively (O_EXCL, mode 0666 less the umask): an existing
 * file, or a symlink, is never overwritten. Returns 0, or -1 with errno. */
static int write_new_file(const char *path, const void *head, size_t hn, const void *data,
                          size_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) return -1;
  FILE *f = fdopen(fd, "wb");
  if (!f) {
    int e = errno;
    close(fd);
    unlink(path);
    errno = e;
    return -1;
  }
  int ok = fwrite(head, 1, hn, f) == hn && fwrite(data, 1, n, f) == n;
  int e = errno;
  if (fclose(f) != 0 && ok) ok = 0, e = errno;
  if (!ok) {
    unlink(path); /* ours: created above */
    errno = e ? e : EIO;
    return -1;
  }
  return 0;
}

static void get_usage(FILE *f) {
  fprintf(f, "usage: pvpack get DIR N [-o FILE] [limits]\n"
             "Writes record N (0-based): JPEG records as .jpg (their stored bytes), others\n"
             "as .ppm; default FILE record-N.jpg / .ppm. FILE must not exist: get never\n"
             "overwrites a file. Prints the record's label, class and source path (escaped).\n"
             "The record is decoded first, within these limits (checked before its pixels\n"
             "are allocated):\n" LIMITS_USAGE);
}

static int cmd_get(int argc, char **argv) {
  const char *dir = NULL, *nstr = NULL, *out = NULL;
  pv_open_options oo;
  pv_open_options_init(&oo);
  argp a = {argc, 0, argv, NULL, argv[0], ""};
  for (a.i = 1; a.i < argc; a.i++) {
    const char *arg = argv[a.i];
    if (opt_is(&a, "-h") || opt_is(&a, "--help")) {
      get_usage(stdout);
      return 0;
    } else if (limit_opt(&a, &oo.limits)) {
    } else if (opt_is(&a, "-o") || opt_is(&a, "--output")) {
      out = opt_value(&a);
    } else if (arg[0] == '-' && !(arg[1] >= '0' && arg[1] <= '9')) {
      fprintf(stderr, "pvpack get: unknown option %s\n", arg);
      return EXIT_USAGE;
    } else if (!dir) {
      dir = arg;
    } else if (!nstr) {
      nstr = arg; /* "-1" lands here and is refused below */
    } else {
      fprintf(stderr, "pvpack get: unexpected argument %s\n", arg);
      return EXIT_USAGE;
    }
  }
  if (!dir || !nstr) {
    get_usage(stderr);
    return EXIT_USAGE;
  }
  uint64_t n;
  if (!parse_count(nstr, &n)) {
    fprintf(stderr, "pvpack get: bad record number '");
    pv__put_escaped(stderr, nstr, strlen(nstr));
    fprintf(stderr, "' (a record number is 0 or more, digits only)\n");
    return EXIT_USAGE;
  }
  oo.verify_on_read = 1; /* the record's checksum, read under the fault guard */
  pv_dataset *ds = open_or_die_opts(dir, &oo);
  if (n >= pv_dataset_record_count(ds)) {
    fprintf(stderr, "pvpack get: record %" PRIu64 " out of range (dataset has %" PRIu64 ")\n", n,
            pv_dataset_record_count(ds));
    pv_dataset_close(ds);
    return EXIT_USAGE;
  }
  pv_record r;
  int rc = 0;
  uint8_t *pix = NULL;
  pv_decoder *dec = NULL;
  char rerr[512];
  pv_status st = pv_dataset_record_ex(ds, n, &r, rerr, sizeof rerr);
  if (st != PV_OK) {
    if (st == PV_ERR_CHECKSUM) {
      fprintf(stderr, "pvpack get: ");
      pv__put_escaped(stderr, dir, strlen(dir));
      fprintf(stderr, " record %" PRIu64 ": checksum mismatch\n", n);
    } else {
      fprintf(stderr, "pvpack get: record %" PRIu64 ": %s: ", n, pv_strerror(st));
      pv__put_escaped(stderr, rerr, strlen(rerr));
      fputc('\n', stderr);
    }
    rc = st == PV_ERR_IO ? EXIT_USAGE : EXIT_DAMAGE;
    goto done;
  }
  char def[64];
  int is_jpeg = r.codec == PV_CODEC_JPEG;
  snprintf(def, sizeof def, "record-%" PRIu64 ".%s", n, is_jpeg ? "jpg" : "ppm");
  if (!out) out = def;
  /* Always decode: proves the record is usable, whatever form is written.
   * Its limits (the dataset's) are checked before its pixels are
   * allocated. The checksum was checked by pv_dataset_record_ex
   * (verify_on_read), under the fault guard. */
  size_t need = (size_t)r.width * r.height * 3;
  if (pv_decoder_create(&dec) != PV_OK ||
      pv_decoder_set_limits(dec, pv_dataset_limits(ds)) != PV_OK) {
    fprintf(stderr, "pvpack get: out of memory\n");
    rc = EXIT_USAGE;
    goto done;
  }
  st = pv_decoder_check(dec, &r);
  if (st == PV_OK && !(pix = malloc(need ? need : 1))) {
    fprintf(stderr, "pvpack get: out of memory\n");
    rc = EXIT_USAGE;
    goto done;
  }
  if (st == PV_OK) st = pv_decoder_decode(dec, &r, pix, (size_t)r.width * 3, need);
  if (st != PV_OK) {
    fprintf(stderr, "pvpack get: record %" PRIu64 ": ", n);
    const char *why = pv_decoder_last_error(dec);
    if (st == PV_ERR_CHANGED) {
      st = pv_dataset_explain_fault(ds, r.shard, rerr, sizeof rerr);
      why = rerr;
    } else {
      fprintf(stderr, "%s: ", pv_strerror(st)); /* "limit exceeded: ..." */
    }
    pv__put_escaped(stderr, why, strlen(why));
    fputc('\n', stderr);
    rc = st == PV_ERR_IO ? EXIT_USAGE : EXIT_DAMAGE;
    goto done;
  }
  int wr;
  if (is_jpeg) {
    wr = write_new_file(out, "", 0, r.data, r.length);
  } else {
    char head[64];
    int hn = snprintf(head, sizeof head, "P6\n%u %u\n255\n", r.width, r.height);
    wr = write_new_file(out, head, (size_t)hn, pix, need);
  }
  if (wr != 0) {
    fprintf(stderr, "pvpack get: cannot write ");
    pv__put_escaped(stderr, out, strlen(out));
    fprintf(stderr, ": %s%s\n", strerror(errno),
            errno == EEXIST ? " (get never overwrites a file: choose another -o FILE)" : "");
    rc = EXIT_USAGE;
    goto done;
  }
  uint32_t plen = 0;
  const char *sp = pv_dataset_source_path(ds, n, &plen);
  const char *cname = pv_dataset_class_name(ds, r.label);
  printf("record   %" PRIu64 " (shard %u, entry %u)\n", n, r.shard, r.shard_record);
  printf("label    %u (", r.label);
  if (cname) pv__put_escaped(stdout, cname, strlen(cname));
  else fputs("no such class", stdout);
  printf(")\nsource   ");
  if (sp) pv__put_escaped(stdout, sp, plen);
  printf("\nimage    %ux%u, %s%s, %u bytes\n", r.width, r.height, pv_codec_name(r.codec),
         (r.flags & PV_RECORD_FLAG_ORIGINAL) ? " (original file)" : "", r.length);
  printf("written  ");
  pv__put_escaped(stdout, out, strlen(out));
  printf("\n");
  if (!cname) rc = EXIT_DAMAGE; /* a label with no class is damage */
done:
  pv_decoder_destroy(dec);
  free(pix);
  pv_dataset_close(ds);
  return rc;
}

/* ---- demo ------------------------------------------------------------------ */

#include <turbojpeg.h>

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
  rc = write_new_file(path, "", 0, jb, jn);
  tjFree(jb);
  return rc;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void demo_usage(FILE *f) {
  fprintf(f, "usage: pvpack demo [DIR]\n"
             "Generates a demo ImageFolder (4 classes x 100 JPEGs) in DIR/imagefolder\n"
             "(default DIR: pvpack-demo), packs it into DIR/imagefolder.pvpack, verifies it\n"
             "and reads it back. DIR must not exist, be empty, or hold only what an earlier\n"
             "demo wrote; demo never deletes or overwrites a file.\n");
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

static int cmd_demo(int argc, char **argv) {
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
  catch_stop_signals();
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
      if (g_cancel) {
        tjDestroy(tj);
        fprintf(stderr, "pvpack demo: interrupted\n");
        return 128 + g_cancel;
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
  if (lstat(path, &bsb) != 0) write_new_file(path, "", 0, broken, sizeof broken - 1);
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
  pv_dataset *ds = open_or_die(out);
  pv_decoder *dec = NULL;
  uint8_t *pix = NULL;
  size_t cap = 0;
  uint64_t n = pv_dataset_record_count(ds), pixels = 0;
  double t0 = now_s();
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
  double el = now_s() - t0;
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
  return rc;
}


/* ---- bench -------------------------------------------------------------------- */

static void bench_usage(FILE *f) {
  fprintf(f,
          "usage: pvpack bench DIR [options]\n"
          "  --threads N         loader worker threads (default: the CPUs this process\n"
          "                      may use: affinity mask and cgroup CPU quota)\n"
          "  --batch N           batch size (default 256)\n"
          "  --size N            output height and width (default 224)\n"
          "  --pipeline P        train (default) | eval | none\n"
          "  --epochs N          epochs to run (default 3)\n"
          "  --order O           shuffle (default) | sequential | blocks\n"
          "  --prefetch N        batch buffers in the ring (default 4)\n"
          "  --dtype D           uint8 (default) | float32\n"
          "  --layout L          nhwc (default) | nchw\n"
          "  --seed S            (default 0)\n"
          "  --verify-checksums  check each record's XXH3 while loading\n"
          "  --json              print one JSON object\n"
          "records are decoded within these limits (over one: an error, as a decode error):\n"
          LIMITS_USAGE);
}

static int cmd_bench(int argc, char **argv) {
  pv_loader_options o;
  pv_loader_options_init(&o);
  pv_limits lim;
  pv_limits_init(&lim);
  const char *dir = NULL;
  int epochs = 3, json = 0, size = 224;
  argp a = {argc, 0, argv, NULL, argv[0], ""};
  for (a.i = 1; a.i < argc; a.i++) {
    const char *v;
    if (opt_is(&a, "-h") || opt_is(&a, "--help")) {
      bench_usage(stdout);
      return 0;
    } else if (opt_is(&a, "--threads")) {
      if (!parse_int(v = opt_value(&a), 0, 1024, &o.threads)) bad_value(&a, v);
    } else if (opt_is(&a, "--batch")) {
      int n;
      if (!parse_int(v = opt_value(&a), 1, 1 << 20, &n)) bad_value(&a, v);
      o.batch_size = (uint32_t)n;
    } else if (opt_is(&a, "--size")) {
      if (!parse_int(v = opt_value(&a), 1, 16384, &size)) bad_value(&a, v);
    } else if (opt_is(&a, "--pipeline")) {
      v = opt_value(&a);
      if (!strcmp(v, "train")) o.pipeline = PV_PIPELINE_TRAIN;
      else if (!strcmp(v, "eval")) o.pipeline = PV_PIPELINE_EVAL;
      else if (!strcmp(v, "none")) o.pipeline = PV_PIPELINE_NONE;
      else bad_value(&a, v);
    } else if (opt_is(&a, "--epochs")) {
      if (!parse_int(v = opt_value(&a), 1, 1 << 20, &epochs)) bad_value(&a, v);
    } else if (opt_is(&a, "--order")) {
      v = opt_value(&a);
      if (!strcmp(v, "shuffle")) o.order = PV_ORDER_SHUFFLE;
      else if (!strcmp(v, "sequential")) o.order = PV_ORDER_SEQUENTIAL;
      else if (!strcmp(v, "blocks")) o.order = PV_ORDER_BLOCKS;
      else bad_value(&a, v);
    } else if (opt_is(&a, "--prefetch")) {
      int n;
      if (!parse_int(v = opt_value(&a), 1, 1024, &n)) bad_value(&a, v);
      o.prefetch = (uint32_t)n;
    } else if (opt_is(&a, "--dtype")) {
      v = opt_value(&a);
      if (!strcmp(v, "uint8")) o.dtype = PV_DTYPE_UINT8;
      else if (!strcmp(v, "float32")) o.dtype = PV_DTYPE_FLOAT32;
      else bad_value(&a, v);
    } else if (opt_is(&a, "--layout")) {
      v = opt_value(&a);
      if (!strcmp(v, "nhwc")) o.layout = PV_LAYOUT_NHWC;
      else if (!strcmp(v, "nchw")) o.layout = PV_LAYOUT_NCHW;
      else bad_value(&a, v);
    } else if (opt_is(&a, "--seed")) {
      if (!parse_u64(v = opt_value(&a), &o.seed)) bad_value(&a, v);
    } else if (opt_is(&a, "--verify-checksums")) {
      o.verify_checksums = 1;
    } else if (limit_opt(&a, &lim)) {
    } else if (opt_is(&a, "--json")) {
      json = 1;
    } else if (argv[a.i][0] == '-') {
      fprintf(stderr, "pvpack bench: unknown option %s\n", argv[a.i]);
      return EXIT_USAGE;
    } else if (!dir) {
      dir = argv[a.i];
    } else {
      fprintf(stderr, "pvpack bench: unexpected argument %s\n", argv[a.i]);
      return EXIT_USAGE;
    }
  }
  if (!dir) {
    bench_usage(stderr);
    return EXIT_USAGE;
  }
  o.height = o.width = (uint32_t)size;
  double t0 = now_s();
  pv_open_options oo;
  pv_open_options_init(&oo);
  oo.limits = lim;
  pv_dataset *ds = open_or_die_opts(dir, &oo);
  double t_open = now_s() - t0;
  pv_loader *l = NULL;
  char err[512] = "";
  pv_status st = pv_loader_create(ds, &o, &l, err, sizeof err);
  if (st != PV_OK) {
    fprintf(stderr, "pvpack bench: %s: %s\n", pv_strerror(st), err);
    pv_dataset_close(ds);
    return EXIT_USAGE;
  }
  int threads = pv_loader_thread_count(l);
  uint64_t images = 0, batches = 0;
  double t1 = now_s(), first_batch = -1;
  int rc = 0;
  for (int e = 0; e < epochs && rc == 0; e++) {
    if (e) pv_loader_set_epoch(l, (uint64_t)e, 0);
    for (;;) {
      pv_batch *b;
      st = pv_loader_next(l, &b);
      if (st != PV_OK) {
        fprintf(stderr, "pvpack bench: %s: %s\n", pv_strerror(st), pv_loader_last_error(l));
        rc = EXIT_DAMAGE;
        break;
      }
      if (!b) break;
      if (first_batch < 0) first_batch = now_s() - t1;
      images += b->count;
      batches++;
      pv_loader_release(l, b);
    }
  }
  double el = now_s() - t1;
  pv_loader_stats s;
  pv_loader_get_stats(l, &s);
  const char *pipes[] = {"train", "eval", "none"};
  double ips = el > 0 ? images / el : 0;
  if (json) {
    printf("{\"images_per_s\": %.1f, \"images\": %" PRIu64 ", \"batches\": %" PRIu64
           ", \"seconds\": %.4f, \"epochs\": %d, \"threads\": %d, \"batch\": %u, \"size\": %d, "
           "\"pipeline\": \"%s\", \"open_s\": %.6f, \"first_batch_s\": %.4f, "
           "\"decode_resize_s\": %.4f, \"convert_s\": %.4f, \"wait_s\": %.4f, "
           "\"us_per_image_decode_resize\": %.1f}\n",
           ips, images, batches, el, epochs, threads, o.batch_size, size, pipes[o.pipeline], t_open,
           first_batch, s.decode_resize_s, s.convert_s, s.wait_s,
           s.samples ? s.decode_resize_s / s.samples * 1e6 : 0.0);
  } else {
    printf("pvpack bench %s: %s pipeline, %dx%d, batch %u, %d threads, %d epochs\n", dir,
           pipes[o.pipeline], size, size, o.batch_size, threads, epochs);
    printf("  %.1f images/s (%" PRIu64 " images in %.3f s; first batch after %.3f s)\n", ips,
           images, el, first_batch);
    printf("  dataset open %.3f ms\n", t_open * 1e3);
    printf("  per image, summed over threads: decode+crop+resize %.1f us, convert %.1f us\n",
           s.samples ? s.decode_resize_s / s.samples * 1e6 : 0.0,
           s.samples ? s.convert_s / s.samples * 1e6 : 0.0);
    printf("  caller waited %.3f s of %.3f s\n", s.wait_s, el);
  }
  pv_loader_destroy(l);
  pv_dataset_close(ds);
  return rc;
}

static void version_usage(FILE *f) {
  fprintf(f, "usage: pvpack version   (or pvpack -V, pvpack --version)\n"
             "Prints the library version and the format version it writes.\n");
}

static void help_usage(FILE *f) {
  fprintf(f, "usage: pvpack help [COMMAND]\n"
             "Prints the list of commands, or the usage of COMMAND.\n");
}

static int cmd_version(int argc, char **argv) {
  (void)argv;
  if (argc > 1) {
    version_usage(stderr);
    return EXIT_USAGE;
  }
  printf("pvpack %s (format %u.%u)\n", pv_version_string(), PV_FORMAT_VERSION_MAJOR,
         PV_FORMAT_VERSION_MINOR);
  return 0;
}

static int cmd_help(int argc, char **argv);

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  void (*usage)(FILE *f);
} command;

static const command k_commands[] = {
    {"build", cmd_build, build_usage},     {"verify", cmd_verify, verify_usage},
    {"info", cmd_info, info_usage},        {"get", cmd_get, get_usage},
    {"bench", cmd_bench, bench_usage},     {"demo", cmd_demo, demo_usage},
    {"version", cmd_version, version_usage}, {"help", cmd_help, help_usage},
};

static const command *find_command(const char *name) {
  for (size_t i = 0; i < sizeof k_commands / sizeof *k_commands; i++)
    if (!strcmp(k_commands[i].name, name)) return &k_commands[i];
  return NULL;
}

static int cmd_help(int argc, char **argv) {
  if (argc < 2) {
    usage(stdout);
    return 0;
  }
  const command *c = find_command(argv[1]);
  if (!c || argc > 2) {
    fprintf(stderr, "pvpack help: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
  }
  c->usage(stdout);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  const char *name = argv[1];
  if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(name, "-V") || !strcmp(name, "--version")) return cmd_version(1, argv + 1);
  const command *c = find_command(name);
  if (!c) {
    fprintf(stderr, "pvpack: unknown command '%s'\n", name);
    usage(stderr);
    return EXIT_USAGE;
  }
  /* -h / --help anywhere after the command: its usage, nothing else (so
   * that `pvpack demo --help` does not create a folder named --help). */
  for (int i = 2; i < argc; i++)
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      c->usage(stdout);
      return 0;
    }
  return c->run(argc - 1, argv + 1);
}
