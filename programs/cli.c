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

/* ---- flags from an options table (pv_option.h) -------------------------------- */

/* "pvpack build: --quality: bad value '0' (quality must be 1..100, not 0)" */
void cli_bad_value_why(argp *a, const char *v, const char *why) {
  fprintf(stderr, "pvpack %s: %s: bad value '", a->cmd, a->name);
  pv__put_escaped(stderr, v, strlen(v));
  fprintf(stderr, "'%s%s%s\n", why && *why ? " (" : "", why ? why : "", why && *why ? ")" : "");
  exit(EXIT_USAGE);
}

void cli_set_text(argp *a, const pv_option_info *o, void *opts, const char *v) {
  char why[256] = "";
  if (pv_option_set_text(o, opts, v, why, sizeof why) != PV_OK) cli_bad_value_why(a, v, why);
}

const pv_option_info *cli_table_find(cli_table table, const char *name) {
  for (size_t i = 0; table(i); i++)
    if (!strcmp(table(i)->name, name)) return table(i);
  return NULL;
}

int cli_table_opt(argp *a, cli_table table, void *opts) {
  for (size_t i = 0; table(i); i++) {
    const pv_option_info *o = table(i);
    if (!(o->flags & PV_OPTION_CLI)) continue;
    char flag[96];
    pv_option_flag(o, flag, sizeof flag);
    if (!cli_opt_is(a, flag)) continue;
    if (o->kind == PV_OPTION_BOOL) {
      pv_option_set_int(o, opts, !o->def, NULL, 0);
      return 1;
    }
    const char *v = cli_opt_value(a);
    if (!o->group) {
      cli_set_text(a, o, opts, v);
      return 1;
    }
    /* A group: "V" sets every member, "V1,V2,..." one each. */
    size_t n = 0;
    while (table(i + n) && table(i + n)->group && !strcmp(table(i + n)->group, o->group)) n++;
    const char *p = v;
    int one = !strchr(v, ',');
    for (size_t k = 0; k < n; k++) {
      const char *e = one ? v + strlen(v) : strchr(p, ',');
      if (!e) e = p + strlen(p);
      if ((k + 1 < n && !one && *e != ',') || (k + 1 == n && *e)) cli_bad_value(a, v);
      char part[64];
      size_t len = (size_t)(e - p);
      if (len >= sizeof part) cli_bad_value(a, v);
      memcpy(part, p, len);
      part[len] = 0;
      char why[256] = "";
      if (pv_option_set_text(table(i + k), opts, part, why, sizeof why) != PV_OK)
        cli_bad_value_why(a, v, why);
      if (!one) p = e + 1;
    }
    return 1;
  }
  return 0;
}

/* Writes text, indented by `indent` columns, wrapped at 80; the first line
 * continues after `col` columns already written. */
static void put_wrapped(FILE *f, const char *text, int col, int indent) {
  const char *p = text;
  while (*p) {
    while (*p == ' ') p++;
    const char *w = p;
    while (*w && *w != ' ') w++;
    int len = (int)(w - p);
    if (col > indent && col + 1 + len > 80) {
      fprintf(f, "\n%*s", indent, "");
      col = indent;
    } else if (col > indent) {
      fputc(' ', f);
      col++;
    }
    for (int k = 0; k < len; k++) fputc(p[k] == '\1' ? ' ' : p[k], f); /* \1: a space
                                                                         that never breaks */
    col += len;
    p = w;
  }
  fputc('\n', f);
}

void cli_table_usage(FILE *f, cli_table table) {
  for (size_t i = 0; table(i); i++) {
    const pv_option_info *o = table(i);
    if (!(o->flags & PV_OPTION_CLI)) continue;
    if (o->group && i > 0 && table(i - 1)->group && !strcmp(table(i - 1)->group, o->group))
      continue; /* a group is one flag, described by its first entry */
    char flag[96], head[128], def[64], text[768];
    pv_option_flag(o, flag, sizeof flag);
    snprintf(head, sizeof head, "  %s%s%s", flag, o->kind == PV_OPTION_BOOL ? "" : " ",
             o->kind == PV_OPTION_BOOL ? "" : (o->arg ? o->arg : "V"));
    pv_option_default_text(o, def, sizeof def);
    size_t n = (size_t)snprintf(text, sizeof text, "%s", o->help);
    if (o->kind == PV_OPTION_CHOICE && n < sizeof text) {
      n += (size_t)snprintf(text + n, sizeof text - n, "; one of");
      for (const pv_option_choice *c = o->choices; c->name && n < sizeof text; c++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s %s", c == o->choices ? "" : " |",
                              c->name);
    }
    if (n < sizeof text) {
      if (o->kind == PV_OPTION_BOOL)
        snprintf(text + n, sizeof text - n, "%s", o->def ? " (on by default: this turns it off)" : "");
      else if (o->group) {
        /* "(default 224; one value for height and width, or HEIGHT,WIDTH)" */
        char all[160] = "", each[160] = "";
        size_t na = 0, ne = 0;
        for (size_t k = i; table(k) && table(k)->group && !strcmp(table(k)->group, o->group);
             k++) {
          const int more = table(k + 1) && table(k + 1)->group &&
                           !strcmp(table(k + 1)->group, o->group);
          na += (size_t)snprintf(all + na, na < sizeof all ? sizeof all - na : 0, "%s%s",
                                 k == i ? "" : more ? ", " : " and ", table(k)->field);
          ne += (size_t)snprintf(each + ne, ne < sizeof each ? sizeof each - ne : 0, "%s",
                                 k == i ? "" : ",");
          for (const char *c = table(k)->field; *c && ne + 1 < sizeof each; c++)
            each[ne++] = (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
          each[ne < sizeof each ? ne : sizeof each - 1] = 0;
        }
        snprintf(text + n, sizeof text - n, " (default\1%s; one value for %s, or %s)", def, all,
                 each);
      }
      else
        snprintf(text + n, sizeof text - n, " (default\1%s)", def);
    }
    int col = (int)strlen(head);
    fputs(head, f);
    if (col < 26) {
      fprintf(f, "%*s", 26 - col, "");
      col = 26;
    } else {
      fprintf(f, "\n%*s", 26, "");
      col = 26;
    }
    put_wrapped(f, text, col, 26);
  }
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
