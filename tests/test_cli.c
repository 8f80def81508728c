/* test_cli.c - the `pvpack` command as a user meets it (issue 9, items 3, 4
 * and the CLI part of 13): -h/--help/help/-V without side effects, option
 * errors that name the option, SIGTERM/SIGINT cleanup and exit codes,
 * verify on things that are not datasets and its JSON counts, escaped
 * class names and source paths in info/get, strict record numbers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hostile.h"
#include "pv_format.h"
#include "pv_pack.h"
#include "pv_verify.h"
#include "pvpack.h"
#include "testutil.h"

/* ---- running the CLI with a chosen cwd, stdout and stderr apart ---------- */

typedef struct run {
  int code;        /* exit code; 1000 + signo when killed */
  char *out, *err; /* captured, NUL-terminated */
} run;

static char *slurp(const char *path) {
  size_t n = 0;
  uint8_t *b = pvt_read_file(path, &n);
  char *s = malloc(n + 1);
  if (b) memcpy(s, b, n);
  s[b ? n : 0] = 0;
  free(b);
  return s;
}

static pid_t spawn(const char *cwd, const char *outp, const char *errp, const char *const argv[]) {
  const char *bin = getenv("PVPACK_BIN");
  if (!bin) bin = "pvpack";
  pid_t pid = fork();
  if (pid == 0) {
    int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fo < 0 || fe < 0 || (cwd && chdir(cwd) != 0)) _exit(126);
    dup2(fo, 1);
    dup2(fe, 2);
    close(fo);
    close(fe);
    int n = 0;
    while (argv[n]) n++;
    char **av = calloc((size_t)n + 2, sizeof *av);
    av[0] = (char *)bin;
    for (int i = 0; i < n; i++) av[i + 1] = (char *)argv[i];
    execv(bin, av);
    _exit(127);
  }
  return pid;
}

static int wait_code(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 1000 + WTERMSIG(status);
  return -1;
}

static char *g_capture; /* a folder for captured output, outside any cwd */

static run cli_in(const char *cwd, const char *const argv[]) {
  char *o = pvt_join(g_capture, "stdout"), *e = pvt_join(g_capture, "stderr");
  run r;
  r.code = wait_code(spawn(cwd, o, e, argv));
  r.out = slurp(o);
  r.err = slurp(e);
  free(o);
  free(e);
  return r;
}

static void run_free(run *r) {
  free(r->out);
  free(r->err);
}

static int entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

/* ---- a strict JSON checker (RFC 8259, UTF-8), enough to prove validity ---- */

typedef struct jp {
  const unsigned char *p, *end;
} jp;

static void jws(jp *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
    j->p++;
}

static int jvalue(jp *j, int depth);

static int jstring(jp *j) {
  if (j->p >= j->end || *j->p != '"') return 0;
  j->p++;
  while (j->p < j->end) {
    unsigned char c = *j->p;
    if (c == '"') {
      j->p++;
      return 1;
    }
    if (c < 0x20) return 0;
    if (c == '\\') {
      j->p++;
      if (j->p >= j->end) return 0;
      c = *j->p++;
      if (c == 'u') {
        for (int k = 0; k < 4; k++, j->p++)
          if (j->p >= j->end || !strchr("0123456789abcdefABCDEF", *j->p) || !*j->p) return 0;
      } else if (!strchr("\"\\/bfnrt", c) || !c) {
        return 0;
      }
      continue;
    }
    if (c < 0x80) {
      j->p++;
      continue;
    }
    /* UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
    int len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!len || j->end - j->p < len) return 0;
    unsigned char lo = 0x80, hi = 0xBF, b1 = j->p[1];
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    if (b1 < lo || b1 > hi) return 0;
    for (int k = 2; k < len; k++)
      if (j->p[k] < 0x80 || j->p[k] > 0xBF) return 0;
    j->p += len;
  }
  return 0;
}

static int jnumber(jp *j) {
  const unsigned char *s = j->p;
  if (j->p < j->end && *j->p == '-') j->p++;
  if (j->p >= j->end) return 0;
  if (*j->p == '0') j->p++;
  else if (*j->p >= '1' && *j->p <= '9')
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
  else
    return 0;
  if (j->p < j->end && *j->p == '.') {
    j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9') return 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
  }
  if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
    j->p++;
    if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9') return 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
  }
  return j->p > s;
}

static int jword(jp *j, const char *w) {
  size_t n = strlen(w);
  if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n)) return 0;
  j->p += n;
  return 1;
}

static int jvalue(jp *j, int depth) {
  if (depth > 64) return 0;
  jws(j);
  if (j->p >= j->end) return 0;
  unsigned char c = *j->p;
  if (c == '"') return jstring(j);
  if (c == '{' || c == '[') {
    unsigned char close = c == '{' ? '}' : ']';
    j->p++;
    jws(j);
    if (j->p < j->end && *j->p == close) {
      j->p++;
      return 1;
    }
    for (;;) {
      if (c == '{') {
        jws(j);
        if (!jstring(j)) return 0;
        jws(j);
        if (j->p >= j->end || *j->p++ != ':') return 0;
      }
      if (!jvalue(j, depth + 1)) return 0;
      jws(j);
      if (j->p >= j->end) return 0;
      if (*j->p == ',') {
        j->p++;
        continue;
      }
      if (*j->p++ != close) return 0;
      return 1;
    }
  }
  if (c == 't') return jword(j, "true");
  if (c == 'f') return jword(j, "false");
  if (c == 'n') return jword(j, "null");
  return jnumber(j);
}

static int json_valid(const char *s) {
  jp j = {(const unsigned char *)s, (const unsigned char *)s + strlen(s)};
  if (!jvalue(&j, 0)) return 0;
  jws(&j);
  return j.p == j.end;
}

/* The integer after "key": in a JSON text, or -1. */
static long long json_int(const char *s, const char *key) {
  char k[64];
  snprintf(k, sizeof k, "\"%s\": ", key);
  const char *p = strstr(s, k);
  return p ? strtoll(p + strlen(k), NULL, 10) : -1;
}

/* ---- fixtures ------------------------------------------------------------------ */

typedef struct fx {
  char *root, *src, *ds, *cwd;
} fx;

static void quiet(void *ctx, pv_log_level lv, const char *line) { (void)ctx, (void)lv, (void)line; }

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  f->root = pvt_mkdtemp("cli");
  g_capture = pvt_join(f->root, "capture");
  mkdir(g_capture, 0755);
  f->src = pvt_join(f->root, "src");
  f->ds = pvt_join(f->root, "ds.pvpack");
  f->cwd = pvt_join(f->root, "cwd");
  mkdir(f->cwd, 0755);
  assert_int_equal(pvt_write_jpeg_tree(f->src, 8, 2, 40, 16, 30, 16, 90), 0);
  pv_build_options o;
  pv_build_options_init(&o);
  o.progress = 0;
  o.log = quiet;
  o.codec = PV_PACK_CODEC_ZSTD;
  o.shard_bytes = 4096; /* several shards */
  assert_int_equal(pv_build(f->src, f->ds, &o, NULL, NULL, 0), PV_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  pvt_rmrf(f->root);
  free(f->root);
  free(f->src);
  free(f->ds);
  free(f->cwd);
  free(g_capture);
  g_capture = NULL;
  free(f);
  return 0;
}

/* ---- item 3: help, version, option errors -------------------------------------- */

static void test_help_has_no_side_effects(void **state) {
  fx *f = *state;
  static const char *const cmds[] = {"build", "verify", "info", "get",
                                     "bench", "demo",   "version", "help"};
  for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
    char want[64];
    snprintf(want, sizeof want, "usage: pvpack %s", cmds[i]);
    const char *variants[][4] = {{cmds[i], "--help", NULL, NULL},
                                 {cmds[i], "-h", NULL, NULL},
                                 {cmds[i], "somedir", "--help", NULL},
                                 {"help", cmds[i], NULL, NULL}};
    for (size_t v = 0; v < 4; v++) {
      run r = cli_in(f->cwd, variants[v]);
      if (r.code != 0 || strncmp(r.out, want, strlen(want)) != 0 || r.err[0])
        fail_msg("pvpack %s %s: exit %d, stdout '%.60s', stderr '%.60s'", variants[v][0],
                 variants[v][1], r.code, r.out, r.err);
      run_free(&r);
      /* `pvpack demo --help` used to create ./--help/ with 401 files. */
      assert_int_equal(entries(f->cwd), 0);
    }
  }
  const char *top[][2] = {{"--help", NULL}, {"-h", NULL}, {"help", NULL}};
  for (size_t v = 0; v < 3; v++) {
    run r = cli_in(f->cwd, top[v]);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "commands:"));
    run_free(&r);
  }
  const char *ver[][2] = {{"-V", NULL}, {"--version", NULL}, {"version", NULL}};
  for (size_t v = 0; v < 3; v++) {
    run r = cli_in(f->cwd, ver[v]);
    assert_int_equal(r.code, 0);
    assert_int_equal(strncmp(r.out, "pvpack ", 7), 0);
    assert_non_null(strstr(r.out, pv_version_string()));
    run_free(&r);
  }
  const char *bad[] = {"help", "nosuch", NULL};
  run r = cli_in(f->cwd, bad);
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "nosuch"));
  run_free(&r);
  assert_int_equal(entries(f->cwd), 0);
}

static void test_bad_values_name_the_option(void **state) {
  fx *f = *state;
  struct {
    const char *argv[6];
    const char *want;
  } cases[] = {
      {{"build", "x", "--size", "abc", NULL}, "--size: bad value 'abc'"},
      {{"build", "x", "--size=abc", NULL}, "--size: bad value 'abc'"},
      {{"build", "x", "--threads", "-3", NULL}, "--threads: bad value '-3'"},
      {{"build", "x", "--shard-size", " 5M", NULL}, "--shard-size: bad value ' 5M'"},
      {{"build", "x", "--seed", "99999999999999999999", NULL}, "--seed: bad value"},
      {{"verify", f->ds, "--max-problems", "lots", NULL}, "--max-problems: bad value 'lots'"},
      {{"bench", f->ds, "--batch", "0", NULL}, "--batch: bad value '0'"},
      {{"build", "x", "--size", NULL}, "--size needs a value"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    run r = cli_in(f->cwd, cases[i].argv);
    if (r.code != 2 || !strstr(r.err, cases[i].want))
      fail_msg("case %zu: exit %d, stderr '%s' (want '%s')", i, r.code, r.err, cases[i].want);
    run_free(&r);
  }
  assert_int_equal(entries(f->cwd), 0);
}

/* ---- item 3: SIGTERM and SIGINT -------------------------------------------------- */

static int count_tmp(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (strstr(e->d_name, ".tmp-")) n++;
  if (d) closedir(d);
  return n;
}

/* Starts a build slow enough to be caught in the middle (zstd level 19 on
 * 1000x1000 images, one thread), waits until its temporary directory
 * exists, sends sig, and checks the exit code and that nothing is left. */
static void stop_build_with(fx *f, int sig, int want) {
  char *big = pvt_join(f->root, "big");
  if (entries(big) < 0) assert_int_equal(pvt_write_jpeg_tree(big, 12, 2, 1000, 1, 1000, 1, 95), 0);
  char *out = pvt_join(f->root, "slow.pvpack");
  char *o = pvt_join(g_capture, "sig.out"), *e = pvt_join(g_capture, "sig.err");
  const char *argv[] = {"build",        big,     "-o",        out,    "--threads", "1",
                        "--resize",     "none",  "--codec",   "zstd", "--zstd-level",
                        "19",           "--quiet", NULL};
  pid_t pid = spawn(NULL, o, e, argv);
  assert_true(pid > 0);
  int seen = 0;
  for (int i = 0; i < 20000 && !seen; i++) { /* up to 20 s */
    seen = count_tmp(f->root) > 0;
    if (!seen) usleep(1000);
  }
  int status;
  if (!seen || waitpid(pid, &status, WNOHANG) != 0) {
    kill(pid, SIGKILL);
    wait_code(pid);
    fail_msg("the build ended or never started before the signal could be sent");
  }
  usleep(20000); /* let it get into its pool */
  assert_int_equal(kill(pid, sig), 0);
  int code = wait_code(pid);
  char *err = slurp(e);
  if (code != want) fail_msg("exit %d after signal %d (want %d); stderr: %s", code, sig, want, err);
  assert_non_null(strstr(err, "interrupted"));
  free(err);
  assert_int_equal(count_tmp(f->root), 0); /* temp directory removed */
  struct stat sb;
  assert_int_not_equal(lstat(out, &sb), 0); /* and no output */
  free(big);
  free(out);
  free(o);
  free(e);
}

static void test_sigterm_exits_143_and_cleans_up(void **state) {
  stop_build_with(*state, SIGTERM, 143);
}

static void test_sigint_exits_130_and_cleans_up(void **state) {
  stop_build_with(*state, SIGINT, 130);
}

/* ---- item 4: verify on things that are not datasets; JSON counts -------------- */

static void test_verify_not_a_dataset(void **state) {
  fx *f = *state;
  char *empty = pvt_join(f->root, "empty"), *missing = pvt_join(f->root, "missing"),
       *file = pvt_join(f->root, "file.txt");
  mkdir(empty, 0755);
  assert_int_equal(pvt_write_file(file, "x", 1), 0);
  const char *targets[] = {f->src, empty, missing, file};
  for (size_t i = 0; i < 4; i++) {
    const char *v[] = {"verify", targets[i], NULL};
    run r = cli_in(f->cwd, v);
    if (r.code != 2 || !strstr(r.err, "not a pvpack dataset") || !strstr(r.err, targets[i]) ||
        strstr(r.out, "DAMAGED"))
      fail_msg("verify %s: exit %d, stdout '%s', stderr '%s'", targets[i], r.code, r.out, r.err);
    run_free(&r);
    const char *vj[] = {"verify", targets[i], "--json", NULL};
    r = cli_in(f->cwd, vj);
    assert_int_equal(r.code, 2);
    assert_true(json_valid(r.out));
    assert_int_equal(json_int(r.out, "problem_count"), 0);
    assert_non_null(strstr(r.out, "\"ok\": false"));
    assert_non_null(strstr(r.out, i == 2 ? "PV_ERR_NOT_FOUND" : "PV_ERR_NOT_PVPACK"));
    assert_int_equal(count(r.out, "\"file\":"), 0);
    run_free(&r);
    pv_verify_summary s;
    pv_status st = pv_verify(targets[i], NULL, &s);
    assert_int_equal(st, i == 2 ? PV_ERR_NOT_FOUND : PV_ERR_NOT_PVPACK);
    assert_int_equal(s.problems, 0);
  }
  /* A dataset that lost its index is damaged, not "not a dataset". */
  char *copy = pvt_join(f->root, "noindex");
  mkdir(copy, 0755);
  char *from = pvt_join(f->ds, "shard-00000.pvs"), *to = pvt_join(copy, "shard-00000.pvs");
  size_t n = 0;
  uint8_t *b = pvt_read_file(from, &n);
  assert_int_equal(pvt_write_file(to, b, n), 0);
  free(b);
  const char *v[] = {"verify", copy, NULL};
  run r = cli_in(f->cwd, v);
  assert_int_equal(r.code, 1);
  assert_non_null(strstr(r.out, "DAMAGED"));
  run_free(&r);
  pvt_rmrf(copy);
  /* A dataset made of symbolic links to a dataset's files is a dataset (the
   * reader follows links): verify checks it and finds it clean. */
  char *links = pvt_join(f->root, "links");
  mkdir(links, 0755);
  DIR *dd = opendir(f->ds);
  assert_non_null(dd);
  int linked = 0;
  for (struct dirent *de; (de = readdir(dd)) != NULL;) {
    if (de->d_name[0] == '.') continue;
    char *t = pvt_join(f->ds, de->d_name), *l = pvt_join(links, de->d_name);
    assert_int_equal(symlink(t, l), 0);
    linked++;
    free(t);
    free(l);
  }
  closedir(dd);
  assert_true(linked >= 3); /* index, report and at least one shard */
  const char *vl[] = {"verify", links, NULL};
  r = cli_in(f->cwd, vl);
  if (r.code != 0) fail_msg("verify of a dataset of links: exit %d, %s %s", r.code, r.out, r.err);
  run_free(&r);
  pvt_rmrf(links);
  free(links);
  rmdir(empty);
  unlink(file);
  free(empty);
  free(missing);
  free(file);
  free(copy);
  free(from);
  free(to);
}

/* Flips the first payload byte of every record of every shard of dir. */
static int damage_every_record(const char *dir) {
  int damaged = 0;
  for (uint32_t k = 0;; k++) {
    char name[64];
    snprintf(name, sizeof name, PV_SHARD_NAME_FMT, k);
    char *p = pvt_join(dir, name);
    size_t n = 0;
    uint8_t *b = pvt_read_file(p, &n);
    if (!b) {
      free(p);
      break;
    }
    pv_shard_view v;
    char why[256];
    assert_int_equal(pv_shard_validate(b, n, &v, why, sizeof why), PV_OK);
    for (uint32_t j = 0; j < v.header.record_count; j++) {
      pv_record_entry e;
      pv_shard_entry(&v, j, &e);
      b[e.offset] ^= 0x55;
      damaged++;
    }
    assert_int_equal(pvt_write_file(p, b, n), 0);
    free(b);
    free(p);
  }
  return damaged;
}

static void test_verify_json_counts(void **state) {
  fx *f = *state;
  char *bad = pvt_join(f->root, "bad.pvpack");
  pv_build_options o;
  pv_build_options_init(&o);
  o.progress = 0;
  o.log = quiet;
  o.codec = PV_PACK_CODEC_ZSTD;
  assert_int_equal(pv_build(f->src, bad, &o, NULL, NULL, 0), PV_OK);
  int damaged = damage_every_record(bad);
  assert_int_equal(damaged, 8);
  /* Capped: problem_count is what is listed, the rest is counted apart. */
  const char *vj[] = {"verify", bad, "--json", "--max-problems", "3", NULL};
  run r = cli_in(f->cwd, vj);
  assert_int_equal(r.code, 1);
  assert_true(json_valid(r.out));
  int listed = count(r.out, "\"file\":");
  assert_int_equal(listed, 3);
  assert_int_equal(json_int(r.out, "problem_count"), listed);
  assert_int_equal(json_int(r.out, "problem_total"), damaged);
  assert_int_equal(json_int(r.out, "problems_omitted"), damaged - listed);
  run_free(&r);
  /* Uncapped: all three agree. */
  const char *va[] = {"verify", bad, "--json", "--max-problems", "0", NULL};
  r = cli_in(f->cwd, va);
  assert_int_equal(r.code, 1);
  assert_true(json_valid(r.out));
  assert_int_equal(count(r.out, "\"file\":"), damaged);
  assert_int_equal(json_int(r.out, "problem_count"), damaged);
  assert_int_equal(json_int(r.out, "problem_total"), damaged);
  assert_int_equal(json_int(r.out, "problems_omitted"), 0);
  run_free(&r);
  /* A clean dataset: valid JSON, zero problems, threads reported. */
  const char *vc[] = {"verify", f->ds, "--json", NULL};
  r = cli_in(f->cwd, vc);
  assert_int_equal(r.code, 0);
  assert_true(json_valid(r.out));
  assert_int_equal(json_int(r.out, "problem_count"), 0);
  assert_true(json_int(r.out, "threads") >= 1);
  run_free(&r);
  pvt_rmrf(bad);
  free(bad);
}

/* ---- item 13 (CLI): escaping, labels without a class, record numbers ---------- */

static const char k_evil_class[] = "evil\n\x1b[31mred\\";
static const char k_evil_path[] = "c1/a\nFAKE LINE\x1b]0;title\a\xff\xc2\x9b.jpg";

/* Record 0 is in class "ok", record 1 in the class above, with the source
 * path above. With bad_label, a record 2 whose shard label has no class
 * (its index label does). */
static char *write_evil(fx *f, int bad_label) {
  char *dir = pvt_join(f->root, bad_label ? "nolabel.pvpack" : "evil.pvpack");
  static const char *const names[] = {"ok", k_evil_class};
  static const uint8_t px[3 * 4] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  pvh_record recs[3] = {
      {PV_CODEC_RAW, 0, 3, 2, 2, 0, 0, px, sizeof px, "c0/plain.jpg"},
      {PV_CODEC_RAW, 0, 3, 2, 2, 1, 1, px, sizeof px, k_evil_path},
      {PV_CODEC_RAW, 0, 3, 2, 2, 4294967295u, 0, px, sizeof px, "c0/nolabel.jpg"},
  };
  pvh_spec spec = {0};
  spec.class_count = 2;
  spec.class_names = names;
  spec.records = recs;
  spec.record_count = bad_label ? 3 : 2;
  assert_int_equal(pvh_write_dataset(dir, &spec), 0);
  return dir;
}

/* No raw control byte (other than the line ends of the output itself), no
 * forged line, no invalid UTF-8. */
static void assert_tame(const char *text) {
  for (const unsigned char *p = (const unsigned char *)text; *p; p++)
    if ((*p < 0x20 && *p != '\n') || *p == 0x7f || *p == 0xff)
      fail_msg("raw byte 0x%02x in output: %s", *p, text);
  assert_null(strstr(text, "\nFAKE LINE"));
  assert_null(strstr(text, "\nred"));
  assert_null(strstr(text, "\xc2\x9b"));
}

static void test_info_get_escape(void **state) {
  fx *f = *state;
  char *dir = write_evil(f, 0);
  const char *info[] = {"info", dir, NULL};
  run r = cli_in(f->cwd, info);
  assert_tame(r.out);
  assert_non_null(strstr(r.out, "evil\\n\\x1b[31mred\\\\"));
  run_free(&r);
  const char *ij[] = {"info", dir, "--json", NULL};
  r = cli_in(f->cwd, ij);
  if (!json_valid(r.out)) fail_msg("info --json is not valid JSON: %s", r.out);
  assert_tame(r.out);
  assert_non_null(strstr(r.out, "\"evil\\n\\u001b[31mred\\\\\""));
  run_free(&r);
  char *img = pvt_join(f->root, "one.ppm");
  const char *g[] = {"get", dir, "1", "-o", img, NULL};
  r = cli_in(f->cwd, g);
  assert_int_equal(r.code, 0);
  assert_tame(r.out);
  assert_non_null(strstr(r.out, "c1/a\\nFAKE LINE\\x1b]0;title\\x07\\xff\\u009b.jpg"));
  assert_non_null(strstr(r.out, "evil\\n"));
  run_free(&r);
  unlink(img);
  free(img);
  pvt_rmrf(dir);
  free(dir);
}

static void test_get_label_without_class(void **state) {
  fx *f = *state;
  char *dir = write_evil(f, 1);
  char *img = pvt_join(f->root, "two.ppm");
  const char *g[] = {"get", dir, "2", "-o", img, NULL};
  run r = cli_in(f->cwd, g);
  /* Damage (exit 1) whether open, the record access or get catches it;
   * never a NULL handed to printf ("(null)") and exit 0. */
  if (r.code != 1 || strstr(r.out, "(null)") || strstr(r.err, "(null)"))
    fail_msg("get: exit %d, stdout '%s', stderr '%s'", r.code, r.out, r.err);
  if (r.out[0]) assert_non_null(strstr(r.out, "label    4294967295 (no such class)"));
  run_free(&r);
  unlink(img);
  free(img);
  pvt_rmrf(dir);
  free(dir);
}

static void test_get_record_numbers_are_strict(void **state) {
  fx *f = *state;
  static const char *const bad[] = {"-1", "+1", " 1", "1x", "0x1", "1K",
                                    "18446744073709551616", "99999999999999999999999", ""};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    const char *g[] = {"get", f->ds, bad[i], NULL};
    run r = cli_in(f->cwd, g);
    if (r.code != 2 || !strstr(r.err, "bad record number") || strstr(r.err, "18446744073709551615"))
      fail_msg("get '%s': exit %d, stderr '%s'", bad[i], r.code, r.err);
    run_free(&r);
  }
  const char *past[] = {"get", f->ds, "8", NULL};
  run r = cli_in(f->cwd, past);
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "out of range"));
  run_free(&r);
  assert_int_equal(entries(f->cwd), 0); /* nothing written */
  /* A good number writes the default file name in the cwd, once. */
  const char *good[] = {"get", f->ds, "7", NULL};
  r = cli_in(f->cwd, good);
  assert_int_equal(r.code, 0);
  run_free(&r);
  assert_int_equal(entries(f->cwd), 1);
  r = cli_in(f->cwd, good);
  assert_int_equal(r.code, 2); /* record-7.ppm exists: not overwritten */
  run_free(&r);
  char *p = pvt_join(f->cwd, "record-7.ppm");
  unlink(p);
  free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_help_has_no_side_effects),
      cmocka_unit_test(test_bad_values_name_the_option),
      cmocka_unit_test(test_sigterm_exits_143_and_cleans_up),
      cmocka_unit_test(test_sigint_exits_130_and_cleans_up),
      cmocka_unit_test(test_verify_not_a_dataset),
      cmocka_unit_test(test_verify_json_counts),
      cmocka_unit_test(test_info_get_escape),
      cmocka_unit_test(test_get_label_without_class),
      cmocka_unit_test(test_get_record_numbers_are_strict),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
