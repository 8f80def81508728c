/* cli.c - what the commands share: stop signals, option and number parsing,
 * sizes for people, JSON strings, opening a dataset or exiting (cli.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* The number of the signal (SIGINT, SIGTERM) that asked us to stop; 0 = none. */
volatile sig_atomic_t cli_cancel;
static void on_stop_signal(int sig) { cli_cancel = sig; }

/* SIGINT and SIGTERM set cli_cancel instead of killing the process, so a build
 * removes its temporary directory and the command exits 128 + signal. */
void cli_catch_stop_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* Strict unsigned decimal: digits only (no sign, no spaces), no overflow. */
int cli_parse_digits(const char *s, uint64_t *out, const char **end) {
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
int cli_parse_count(const char *s, uint64_t *out) {
  const char *end;
  return cli_parse_digits(s, out, &end) && *end == 0;
}

/* A size: digits with an optional K/M/G (KiB, MiB, GiB; "KB", "K", "KiB"). */
int cli_parse_u64(const char *s, uint64_t *out) {
  const char *end;
  uint64_t v;
  if (!cli_parse_digits(s, &v, &end)) return 0;
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

int cli_parse_int(const char *s, int lo, int hi, int *out) {
  uint64_t v;
  if (lo < 0 || !cli_parse_count(s, &v) || v < (uint64_t)lo || v > (uint64_t)hi) return 0;
  *out = (int)v;
  return 1;
}

int cli_opt_is(argp *a, const char *name) {
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

const char *cli_opt_value(argp *a) {
  if (a->val) return a->val;
  if (a->i + 1 >= a->argc) {
    fprintf(stderr, "pvpack %s: %s needs a value\n", a->cmd, a->name);
    exit(EXIT_USAGE);
  }
  return a->argv[++a->i];
}

/* "pvpack build: --size: bad value 'abc'" */
void cli_bad_value(argp *a, const char *v) {
  fprintf(stderr, "pvpack %s: %s: bad value '", a->cmd, a->name);
  pv__put_escaped(stderr, v, strlen(v));
  fprintf(stderr, "'\n");
  exit(EXIT_USAGE);
}

/* The read-side limit flags of verify, get and bench (LIMITS_USAGE, cli.h). */
int cli_limit_opt(argp *a, pv_limits *L) {
  const char *v;
  if (cli_opt_is(a, "--max-record-pixels")) {
    if (!cli_parse_u64(v = cli_opt_value(a), &L->max_record_pixels)) cli_bad_value(a, v);
  } else if (cli_opt_is(a, "--max-record-bytes")) {
    if (!cli_parse_u64(v = cli_opt_value(a), &L->max_record_bytes)) cli_bad_value(a, v);
  } else if (cli_opt_is(a, "--max-decoder-memory")) {
    if (!cli_parse_u64(v = cli_opt_value(a), &L->max_decoder_memory)) cli_bad_value(a, v);
  } else if (cli_opt_is(a, "--max-scans")) {
    int n;
    if (!cli_parse_int(v = cli_opt_value(a), 0, 1 << 30, &n)) cli_bad_value(a, v);
    L->max_scans = (uint32_t)n;
  } else {
    return 0;
  }
  return 1;
}

void cli_human_bytes(uint64_t b, char *out, size_t cap) {
  const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)b;
  int k = 0;
  while (v >= 1024 && k < 4) v /= 1024, k++;
  snprintf(out, cap, k ? "%.1f %s" : "%.0f %s", v, u[k]);
}

void cli_json_str(FILE *f, const char *s, size_t n) { pv__put_json_string(f, s, n); }

pv_dataset *cli_open_or_die_opts(const char *dir, const pv_open_options *oo) {
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

pv_dataset *cli_open_or_die(const char *dir) { return cli_open_or_die_opts(dir, NULL); }

/* Creates path exclusively (O_EXCL, mode 0666 less the umask): an existing
 * file, or a symlink, is never overwritten. Returns 0, or -1 with errno. */
int cli_write_new_file(const char *path, const void *head, size_t hn, const void *data,
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

double cli_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
