/* test_walk.c - pv__walk_imagefolder against torchvision ImageFolder's order.
 *
 * Every fixture is built in a fresh temporary directory. Expected orders are
 * written down as torchvision's find_classes + make_dataset produce them
 * (checked once by hand with os.walk + sorted, see tests/oracles/walk_compare.py);
 * test_matches_python_reference re-checks a mixed tree against that script
 * when python3 is available.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "testutil.h"
#include "walk.h"

/* ---- helpers ------------------------------------------------------------ */

typedef struct warns {
  char *msg[64];
  int n;
} warns;

static void collect_warn(void *ctx, const char *msg) {
  warns *w = ctx;
  assert_non_null(msg);
  assert_null(strchr(msg, '\n'));
  if (w->n < 64) w->msg[w->n++] = strdup(msg);
}

static void warns_free(warns *w) {
  for (int i = 0; i < w->n; i++) free(w->msg[i]);
  w->n = 0;
}

/* Number of warnings containing both a and b (b may be NULL). */
static int warns_count(const warns *w, const char *a, const char *b) {
  int n = 0;
  for (int i = 0; i < w->n; i++)
    if (strstr(w->msg[i], a) && (!b || strstr(w->msg[i], b))) n++;
  return n;
}

static void touch(const char *root, const char *rel) {
  char *p = pvt_join(root, rel);
  assert_int_equal(pvt_write_file(p, "not an image", 12), 0);
  free(p);
}

static void mkdir_rel(const char *root, const char *rel) {
  char *p = pvt_join(root, rel);
  assert_int_equal(pvt_mkdirs(p, 1), 0);
  free(p);
}

static void symlink_rel(const char *root, const char *target, const char *rel) {
  char *p = pvt_join(root, rel);
  assert_int_equal(pvt_mkdirs(p, 0), 0);
  assert_int_equal(symlink(target, p), 0);
  free(p);
}

/* Walks root and checks classes and "relpath\tlabel" lines exactly. */
static void expect_walk(const char *root, const char *const *classes, size_t nclasses,
                        const char *const *files, size_t nfiles, warns *w) {
  pv_walk_result r;
  char err[512] = "";
  pv_status st = pv__walk_imagefolder(root, &r, collect_warn, w, err, sizeof err);
  if (st != PV_OK) print_error("walk failed: %s (%s)\n", err, pv_status_name(st));
  assert_int_equal(st, PV_OK);
  assert_int_equal(r.class_count, nclasses);
  for (size_t i = 0; i < nclasses; i++) assert_string_equal(r.classes[i], classes[i]);
  for (size_t i = 0; i < r.file_count && i < nfiles; i++) {
    char line[PATH_MAX + 32];
    snprintf(line, sizeof line, "%s\t%u", r.files[i].relpath, (unsigned)r.files[i].label);
    assert_string_equal(line, files[i]);
  }
  assert_int_equal(r.file_count, nfiles);
  uint64_t total = 0;
  for (size_t c = 0; c < nclasses; c++) total += r.class_file_count[c];
  assert_int_equal(total, nfiles);
  pv__walk_free(&r);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- extension matching ------------------------------------------------- */

static void test_extension(void **state) {
  (void)state;
  const char *yes[] = {"a.jpg", "a.JPG", "a.jpeg", "b.JPEG", "c.png", "c.Png", "d.ppm",
                       "e.bmp", "f.pgm",  "g.tif",  "h.tiff", "H.TIFF", "i.webp", "i.WebP",
                       ".jpg",  "x.y.jpg", "x..png", "x .jpg"};
  const char *no[] = {"a.gif", "a.txt", "jpg",   "ajpg",   "a.jpg.bak", "",  ".jp",
                      "a.jpe", "a.tif ", "a.jpg~", "a.webm", "a.JPEG2",  "png", "a_png"};
  for (size_t i = 0; i < N(yes); i++)
    if (!pv__has_image_extension(yes[i])) fail_msg("'%s' should be an image name", yes[i]);
  for (size_t i = 0; i < N(no); i++)
    if (pv__has_image_extension(no[i])) fail_msg("'%s' should not be an image name", no[i]);
}

/* ---- class discovery ---------------------------------------------------- */

static void test_class_sorting_and_root_files(void **state) {
  (void)state;
  char *root = pvt_mkdtemp("walk");
  assert_non_null(root);
  const char *names[] = {"a", "B", "_x", "Zeta", "b", "10", "9"};
  for (size_t i = 0; i < N(names); i++) {
    char rel[64];
    snprintf(rel, sizeof rel, "%s/img.jpg", names[i]);
    touch(root, rel);
  }
  touch(root, "in_root.jpg"); /* files in the root are not samples */
  touch(root, "readme.txt");
  /* Byte order: digits < upper case < '_' < lower case; "10" < "9". */
  const char *classes[] = {"10", "9", "B", "Zeta", "_x", "a", "b"};
  const char *files[] = {"10/img.jpg\t0", "9/img.jpg\t1", "B/img.jpg\t2", "Zeta/img.jpg\t3",
                         "_x/img.jpg\t4", "a/img.jpg\t5", "b/img.jpg\t6"};
  warns w = {0};
  expect_walk(root, classes, N(classes), files, N(files), &w);
  assert_int_equal(w.n, 0);
  warns_free(&w);
  pvt_rmrf(root);
  free(root);
}

static void test_extension_filter_in_walk(void **state) {
  (void)state;
  char *root = pvt_mkdtemp("walk");
  const char *names[] = {"c/a.JPEG", "c/b.Png", "c/c.tiff", "c/d.webp", "c/e.gif",
                         "c/f.txt",  "c/jpg",   "c/g.jpg.bak", "c/h.bmp", "c/.jpg"};
  for (size_t i = 0; i < N(names); i++) touch(root, names[i]);
  const char *classes[] = {"c"};
  const char *files[] = {"c/.jpg\t0",   "c/a.JPEG\t0", "c/b.Png\t0",
                         "c/c.tiff\t0", "c/d.webp\t0", "c/h.bmp\t0"};
  warns w = {0};
  expect_walk(root, classes, N(classes), files, N(files), &w);
  assert_int_equal(w.n, 0);
  warns_free(&w);
  pvt_rmrf(root);
  free(root);
}

/* ---- nested order ------------------------------------------------------- */

/* sorted(os.walk("r/a")) orders directories by their whole path string:
 *   r/a, r/a/B, r/a/b, r/a/b c, r/a/b-d, r/a/b.e, r/a/b/c, r/a/b0
 * since ' ' (0x20) < '-' (0x2D) < '.' (0x2E) < '/' (0x2F) < '0' (0x30): the
 * files of "a/b c", "a/b-d" and "a/b.e" come between those of "a/b" and
 * "a/b/c". A walk that sorts each directory's children and recurses would
 * put a/b/c right after a/b. */
static void test_nested_order(void **state) {
  (void)state;
  char *root = pvt_mkdtemp("walk");
  const char *dirs[] = {"a/b0", "a/b/c", "a/b.e", "a/b-d", "a/b c", "a/b", "a/B", "a"};
  for (size_t i = 0; i < N(dirs); i++) {
    char rel[64];
    snprintf(rel, sizeof rel, "%s/y.png", dirs[i]);
    touch(root, rel);
    snprintf(rel, sizeof rel, "%s/X.jpg", dirs[i]);
    touch(root, rel);
  }
  touch(root, "a/b/c/d/deep.jpg");
  mkdir_rel(root, "a/b/empty");
  touch(root, "z/1.jpg");
  const char *classes[] = {"a", "z"};
  const char *files[] = {
      "a/X.jpg\t0",     "a/y.png\t0",     "a/B/X.jpg\t0",   "a/B/y.png\t0",
      "a/b/X.jpg\t0",   "a/b/y.png\t0",   "a/b c/X.jpg\t0", "a/b c/y.png\t0",
      "a/b-d/X.jpg\t0", "a/b-d/y.png\t0", "a/b.e/X.jpg\t0", "a/b.e/y.png\t0",
      "a/b/c/X.jpg\t0", "a/b/c/y.png\t0", "a/b/c/d/deep.jpg\t0",
      "a/b0/X.jpg\t0",  "a/b0/y.png\t0",  "z/1.jpg\t1"};
  warns w = {0};
  expect_walk(root, classes, N(classes), files, N(files), &w);
  assert_int_equal(w.n, 0);
  warns_free(&w);
  pvt_rmrf(root);
  free(root);
}

/* Python decodes file names with surrogateescape and compares code points:
 * the undecodable byte 0xFF is U+DCFF and sorts before U+E000 (EE 80 80),
 * although its byte is larger. Valid UTF-8 keeps byte order. */
static void test_python_order_of_undecodable_names(void **state) {
  (void)state;
  char *root = pvt_mkdtemp("walk");
  touch(root, "c/\xee\x80\x80.jpg");
  touch(root, "c/\xff.jpg");
  touch(root, "c/\xc3\xa9.jpg");      /* U+00E9 */
  touch(root, "c/\xf0\x9f\x98\x80.jpg"); /* U+1F600 */
  touch(root, "c/z.jpg");
  const char *classes[] = {"c"};
  const char *files[] = {"c/z.jpg\t0", "c/\xc3\xa9.jpg\t0", "c/\xff.jpg\t0",
                         "c/\xee\x80\x80.jpg\t0", "c/\xf0\x9f\x98\x80.jpg\t0"};
  warns w = {0};
  expect_walk(root, classes, N(classes), files, N(files), &w);
  warns_free(&w);
  pvt_rmrf(root);
  free(root);
}

/* ---- symlinks ----------------------------------------------------------- */

static void test_symlinks_followed(void **state) {
  (void)state;
  char *base = pvt_mkdtemp("walk");
  char *root = pvt_join(base, "root");
  touch(base, "outside/o1.jpg");
  touch(base, "outside/deeper/o2.png");
  touch(base, "single.jpg");
  touch(root, "real/r.jpg");
  touch(root, "other/x.jpg");
  symlink_rel(root, "real", "link");                      /* symlinked class */
  symlink_rel(root, "../../outside", "other/sub");        /* symlinked subfolder */
  symlink_rel(root, "../../single.jpg", "other/f.jpg");   /* symlink to a file */
  symlink_rel(root, "../single.jpg", "not_a_class.jpg");  /* file link in root */
  const char *classes[] = {"link", "other", "real"};
  const char *files[] = {"link/r.jpg\t0", "other/f.jpg\t1", "other/x.jpg\t1",
                         "other/sub/o1.jpg\t1", "other/sub/deeper/o2.png\t1", "real/r.jpg\t2"};
  warns w = {0};
  expect_walk(root, classes, N(classes), files, N(files), &w);
  assert_int_equal(w.n, 0);
  warns_free(&w);
  pvt_rmrf(base);
  free(root);
  free(base);
}

static void test_symlink_loop(void **state) {
  (void)state;
  char *root = pvt_mkdtemp("walk");
  touch(root, "c/x.jpg");
  touch(root, "c/sub/y.jpg");
  symlink_rel(root, "..", "c/sub/loop"); /* -> c */
  symlink_rel(root, ".", "c/self");      /* -> c */
  const char *classes[] = {"c"};
  const char *files[] = {"c/x.jpg\t0", "c/sub/y.jpg\t0"};
  warns w = {0};
  expect_walk(root, classes, N(classes), files, N(files), &w);
  assert_int_equal(warns_count(&w, "symlink loop", "'c/sub/loop'"), 1);
  assert_int_equal(warns_count(&w, "symlink loop", "'c/self'"), 1);
  assert_int_equal(w.n, 2);
  warns_free(&w);
  pvt_rmrf(root);
  free(root);
}

/* A link to the root from inside a class: the other classes are walked once
 * under it (as os.walk would), and the walk stops when it reaches the class
 * again. */
static void test_symlink_to_root(void **state) {
  (void)state;
  char *root = pvt_mkdtemp("walk");
  touch(root, "a/x.jpg");
  touch(root, "b/y.jpg");
  symlink_rel(root, "..", "a/up");
  const char *classes[] = {"a", "b"};
  const char *files[] = {"a/x.jpg\t0", "a/up/b/y.jpg\t0", "b/y.jpg\t1"};
  warns w = {0};
  expect_walk(root, classes, N(classes), files, N(files), &w);
  assert_int_equal(warns_count(&w, "symlink loop", "'a/up/a'"), 1);
  warns_free(&w);
  pvt_rmrf(root);
  free(root);
}

static void test_broken_symlink_and_fifo(void **state) {
  (void)state;
  char *root = pvt_mkdtemp("walk");
  touch(root, "c/ok.jpg");
  symlink_rel(root, "does-not-exist.jpg", "c/dead.jpg");
  symlink_rel(root, "does-not-exist", "c/dead.txt"); /* not an image name: silent */
  symlink_rel(root, "nowhere", "c/dead_dir");        /* not a directory: silent */
  char *fifo = pvt_join(root, "c/pipe.png");
  assert_int_equal(mkfifo(fifo, 0644), 0);
  free(fifo);
  const char *classes[] = {"c"};
  const char *files[] = {"c/ok.jpg\t0"};
  warns w = {0};
  expect_walk(root, classes, N(classes), files, N(files), &w);
  assert_int_equal(warns_count(&w, "'c/dead.jpg'", "broken symlink"), 1);
  assert_int_equal(warns_count(&w, "'c/pipe.png'", "not a regular file"), 1);
  assert_int_equal(w.n, 2);
  warns_free(&w);
  pvt_rmrf(root);
  free(root);
}

/* ---- suspicious classes ------------------------------------------------- */

static void test_empty_class_kept(void **state) {
  (void)state;
  char *root = pvt_mkdtemp("walk");
  touch(root, "a/1.jpg");
  touch(root, "b/notes.txt");
  mkdir_rel(root, "b/sub");
  touch(root, "c/2.jpg");
  const char *classes[] = {"a", "b", "c"};
  const char *files[] = {"a/1.jpg\t0", "c/2.jpg\t2"};
  warns w = {0};
  expect_walk(root, classes, N(classes), files, N(files), &w);
  assert_int_equal(warns_count(&w, "class 'b'", "no image files"), 1);
  assert_int_equal(w.n, 1);
  warns_free(&w);

  pv_walk_result r;
  assert_int_equal(pv__walk_imagefolder(root, &r, NULL, NULL, NULL, 0), PV_OK);
  assert_int_equal(r.class_file_count[0], 1);
  assert_int_equal(r.class_file_count[1], 0);
  assert_int_equal(r.class_file_count[2], 1);
  pv__walk_free(&r);
  pvt_rmrf(root);
  free(root);
}

static void test_hidden_class_warned(void **state) {
  (void)state;
  char *root = pvt_mkdtemp("walk");
  touch(root, ".ipynb_checkpoints/x.jpg");
  touch(root, "cat/y.jpg");
  touch(root, "cat/.hidden_file.jpg"); /* hidden files inside classes count */
  const char *classes[] = {".ipynb_checkpoints", "cat"};
  const char *files[] = {".ipynb_checkpoints/x.jpg\t0", "cat/.hidden_file.jpg\t1",
                         "cat/y.jpg\t1"};
  warns w = {0};
  expect_walk(root, classes, N(classes), files, N(files), &w);
  assert_int_equal(warns_count(&w, "'.ipynb_checkpoints'", "hidden"), 1);
  assert_int_equal(w.n, 1);
  warns_free(&w);
  pvt_rmrf(root);
  free(root);
}

/* Control characters in names must not break the one-line warning. */
static void test_warning_escapes_names(void **state) {
  (void)state;
  char *root = pvt_mkdtemp("walk");
  mkdir_rel(root, ".we\nird");
  touch(root, "ok/1.jpg");
  warns w = {0};
  pv_walk_result r;
  assert_int_equal(pv__walk_imagefolder(root, &r, collect_warn, &w, NULL, 0), PV_OK);
  assert_int_equal(r.class_count, 2);
  assert_string_equal(r.classes[0], ".we\nird");
  assert_int_equal(warns_count(&w, ".we\\x0Aird", "hidden"), 1); /* collect_warn checks '\n' */
  pv__walk_free(&r);
  warns_free(&w);
  pvt_rmrf(root);
  free(root);
}

/* ---- errors ------------------------------------------------------------- */

static void test_errors(void **state) {
  (void)state;
  char *root = pvt_mkdtemp("walk");
  char *missing = pvt_join(root, "missing");
  char err[256];
  pv_walk_result r;

  assert_int_equal(pv__walk_imagefolder(missing, &r, NULL, NULL, err, sizeof err),
                   PV_ERR_NOT_FOUND);
  assert_non_null(strstr(err, "missing"));
  assert_null(r.files);
  pv__walk_free(&r);

  /* Root with no class folders: empty, then only files. */
  assert_int_equal(pv__walk_imagefolder(root, &r, NULL, NULL, err, sizeof err), PV_ERR_EMPTY);
  touch(root, "a.jpg");
  symlink_rel(root, "nowhere", "dangling");
  assert_int_equal(pv__walk_imagefolder(root, &r, NULL, NULL, err, sizeof err), PV_ERR_EMPTY);
  pv__walk_free(&r);

  /* Root that is a file. */
  char *file = pvt_join(root, "a.jpg");
  assert_int_equal(pv__walk_imagefolder(file, &r, NULL, NULL, err, sizeof err),
                   PV_ERR_NOT_FOUND);

  assert_int_equal(pv__walk_imagefolder(root, NULL, NULL, NULL, err, sizeof err),
                   PV_ERR_INVALID_ARG);

  /* Freeing a zeroed result and NULL is allowed. */
  pv_walk_result z;
  memset(&z, 0, sizeof z);
  pv__walk_free(&z);
  pv__walk_free(NULL);

  free(file);
  free(missing);
  pvt_rmrf(root);
  free(root);
}

static void test_unreadable_subdir(void **state) {
  (void)state;
  if (geteuid() == 0) skip(); /* root reads mode-000 directories */
  char *root = pvt_mkdtemp("walk");
  touch(root, "c/1.jpg");
  touch(root, "c/locked/2.jpg");
  char *locked = pvt_join(root, "c/locked");
  assert_int_equal(chmod(locked, 0), 0);
  const char *classes[] = {"c"};
  const char *files[] = {"c/1.jpg\t0"};
  warns w = {0};
  expect_walk(root, classes, N(classes), files, N(files), &w);
  assert_int_equal(warns_count(&w, "'c/locked'", NULL), 1);
  warns_free(&w);
  chmod(locked, 0755);
  free(locked);
  pvt_rmrf(root);
  free(root);
}

/* A chain of directories deeper than PATH_MAX (built and removed with *at()
 * calls): the walk warns once and keeps what it can reach. */
static int rmrf_at(int dfd, const char *name) {
  int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (fd < 0) return unlinkat(dfd, name, 0);
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return -1;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) rmrf_at(dirfd(d), e->d_name);
  closedir(d);
  return unlinkat(dfd, name, AT_REMOVEDIR);
}

static void test_path_longer_than_path_max(void **state) {
  (void)state;
  char *root = pvt_mkdtemp("walk");
  touch(root, "c/top.jpg");
  char name[201];
  memset(name, 'n', 200);
  name[200] = 0;
  char *c = pvt_join(root, "c");
  int fd = open(c, O_RDONLY | O_DIRECTORY);
  assert_true(fd >= 0);
  int levels = PATH_MAX / 200 + 2;
  for (int i = 0; i < levels; i++) {
    assert_int_equal(mkdirat(fd, name, 0755), 0);
    int nfd = openat(fd, name, O_RDONLY | O_DIRECTORY);
    assert_true(nfd >= 0);
    if (i == 0) close(openat(nfd, "shallow.jpg", O_WRONLY | O_CREAT, 0644));
    close(fd);
    fd = nfd;
  }
  close(openat(fd, "unreachable.jpg", O_WRONLY | O_CREAT, 0644));
  close(fd);

  warns w = {0};
  pv_walk_result r;
  assert_int_equal(pv__walk_imagefolder(root, &r, collect_warn, &w, NULL, 0), PV_OK);
  assert_int_equal(r.file_count, 2);
  assert_string_equal(r.files[0].relpath, "c/top.jpg");
  assert_non_null(strstr(r.files[1].relpath, "/shallow.jpg"));
  assert_int_equal(warns_count(&w, "PATH_MAX", NULL), 1);
  pv__walk_free(&r);
  warns_free(&w);

  int cfd = open(c, O_RDONLY | O_DIRECTORY);
  assert_int_equal(rmrf_at(cfd, name), 0);
  close(cfd);
  free(c);
  pvt_rmrf(root);
  free(root);
}

/* ---- cross-check with the Python reference ------------------------------ */

static char *read_stream(FILE *f) {
  size_t cap = 4096, n = 0;
  char *b = malloc(cap);
  size_t k;
  while (b && (k = fread(b + n, 1, cap - n - 1, f)) > 0) {
    n += k;
    if (cap - n < 2) {
      char *nb = realloc(b, cap *= 2);
      if (!nb) free(b);
      b = nb;
    }
  }
  if (b) b[n] = 0;
  return b;
}

static void test_matches_python_reference(void **state) {
  (void)state;
  char script[PATH_MAX];
  /* The script sits in tests/oracles/ (CMake passes __FILE__ as an
   * absolute path). */
  const char *src = __FILE__;
  const char *slash = strrchr(src, '/');
  snprintf(script, sizeof script, "%.*soracles/walk_compare.py",
           slash ? (int)(slash - src + 1) : 0, src);
  if (access(script, R_OK) != 0 || system("python3 -c pass >/dev/null 2>&1") != 0) skip();

  char *root = pvt_mkdtemp("walk");
  const char *dirs[] = {"a", "a/b", "a/b c", "a/b/c", "a/b-d", "a/b.e", "a/B", "a/b0",
                        "Z", "_u", ".hid", "cls\xc3\xa9/x"};
  for (size_t i = 0; i < N(dirs); i++) {
    char rel[64];
    snprintf(rel, sizeof rel, "%s/x.jpg", dirs[i]);
    touch(root, rel);
    snprintf(rel, sizeof rel, "%s/Y.PNG", dirs[i]);
    touch(root, rel);
    snprintf(rel, sizeof rel, "%s/n.txt", dirs[i]);
    touch(root, rel);
  }
  touch(root, "a/\xff.jpg");
  touch(root, "a/\xee\x80\x80.jpg");
  touch(root, "a/.jpg");
  touch(root, "root.jpg");
  mkdir_rel(root, "empty");
  symlink_rel(root, "a", "link");
  symlink_rel(root, "../_u", "a/lnk_sub");

  char cmd[PATH_MAX * 2 + 64];
  snprintf(cmd, sizeof cmd, "python3 '%s' '%s' 2>/dev/null", script, root);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  char *py = read_stream(p);
  assert_int_equal(pclose(p), 0);
  assert_non_null(py);

  pv_walk_result r;
  assert_int_equal(pv__walk_imagefolder(root, &r, NULL, NULL, NULL, 0), PV_OK);
  size_t cap = 1 << 16, n = 0;
  char *ours = malloc(cap);
  assert_non_null(ours);
  for (uint32_t c = 0; c < r.class_count; c++)
    n += (size_t)snprintf(ours + n, cap - n, "#class\t%u\t%s\n", (unsigned)c, r.classes[c]);
  for (size_t i = 0; i < r.file_count; i++)
    n += (size_t)snprintf(ours + n, cap - n, "%s\t%u\n", r.files[i].relpath,
                          (unsigned)r.files[i].label);
  assert_true(n < cap);
  assert_true(r.file_count > 40);
  assert_string_equal(ours, py);
  pv__walk_free(&r);
  free(ours);
  free(py);
  pvt_rmrf(root);
  free(root);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_extension),
      cmocka_unit_test(test_class_sorting_and_root_files),
      cmocka_unit_test(test_extension_filter_in_walk),
      cmocka_unit_test(test_nested_order),
      cmocka_unit_test(test_python_order_of_undecodable_names),
      cmocka_unit_test(test_symlinks_followed),
      cmocka_unit_test(test_symlink_loop),
      cmocka_unit_test(test_symlink_to_root),
      cmocka_unit_test(test_broken_symlink_and_fifo),
      cmocka_unit_test(test_empty_class_kept),
      cmocka_unit_test(test_hidden_class_warned),
      cmocka_unit_test(test_warning_escapes_names),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_unreadable_subdir),
      cmocka_unit_test(test_path_longer_than_path_max),
      cmocka_unit_test(test_matches_python_reference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
