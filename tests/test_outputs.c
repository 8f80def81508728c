/* test_outputs.c - pvpack never deletes or overwrites what it did not write
 * (issue 9, items 1 and 2): where `build` may write and what `--force` may
 * replace (pv__check_output, pv__is_dataset_dir, pv__remove_dataset_dir,
 * pv__commit_dir), `get -o` and `demo DIR`, and that datasets get the
 * user's umask. Every tree is made in-test under a fresh temporary folder. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pack_util.h"
#include "pv_format.h"
#include "pv_pack.h"
#include "pvpack.h"
#include "testutil.h"

typedef struct fx {
  char *root;   /* temp folder */
  char *parent; /* root/parent */
  char *src;    /* root/parent/train: the ImageFolder */
  char *notes;  /* root/parent/keep/notes.txt: unrelated user data */
} fx;

static const char k_notes[] = "my notes, not a dataset";

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  f->root = pvt_mkdtemp("outputs");
  f->parent = pvt_join(f->root, "parent");
  f->src = pvt_join(f->parent, "train");
  f->notes = pvt_join(f->parent, "keep/notes.txt");
  assert_int_equal(pvt_write_jpeg_tree(f->src, 6, 2, 40, 16, 30, 16, 90), 0);
  assert_int_equal(pvt_write_file(f->notes, k_notes, sizeof k_notes - 1), 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  pvt_rmrf(f->root);
  free(f->root);
  free(f->parent);
  free(f->src);
  free(f->notes);
  free(f);
  return 0;
}

static void quiet(void *ctx, pv_log_level lv, const char *line) { (void)ctx, (void)lv, (void)line; }

static pv_status build(const char *src, const char *out, int force, int codec, char *err,
                       size_t cap) {
  pv_build_options o;
  pv_build_options_init(&o);
  o.progress = 0;
  o.log = quiet;
  o.force = force;
  o.codec = codec;
  return pv_build(src, out, &o, NULL, err, cap);
}

/* Entries of dir whose name starts with prefix (-1: cannot read dir). */
static int count_prefixed(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
        !strncmp(e->d_name, prefix, strlen(prefix)))
      n++;
  closedir(d);
  return n;
}

/* The source tree and the unrelated notes are exactly as setup made them. */
static void assert_user_data_intact(const fx *f) {
  assert_int_equal(count_prefixed(f->src, "class"), 2);
  char *c0 = pvt_join(f->src, "class0"), *c1 = pvt_join(f->src, "class1");
  assert_int_equal(count_prefixed(c0, "img"), 3);
  assert_int_equal(count_prefixed(c1, "img"), 3);
  assert_int_equal(count_prefixed(c0, ""), 3); /* nothing added either */
  assert_int_equal(count_prefixed(f->src, ""), 2);
  free(c0);
  free(c1);
  size_t n = 0;
  uint8_t *b = pvt_read_file(f->notes, &n);
  assert_non_null(b);
  assert_int_equal(n, sizeof k_notes - 1);
  assert_memory_equal(b, k_notes, n);
  free(b);
}

/* No OUT.tmp-* or OUT.old-* next to anything in dir. */
static void assert_no_temporaries(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d))) {
    assert_null(strstr(e->d_name, ".tmp-"));
    assert_null(strstr(e->d_name, ".old-"));
  }
  closedir(d);
}

/* The exact reproduction of the issue: `pvpack build parent/train -o parent
 * --force` deleted parent/ (source and unrelated notes) and exited 0. */
static void test_force_over_parent_of_source(void **state) {
  fx *f = *state;
  char *log = NULL;
  const char *argv[] = {"build", f->src, "-o", f->parent, "--force", "--quiet", NULL};
  assert_int_equal(pvt_run_cli(&log, argv), 2);
  assert_non_null(strstr(log, "above the source"));
  free(log);
  assert_user_data_intact(f);
  assert_no_temporaries(f->root);
  assert_no_temporaries(f->parent);
  /* The same through the API, and without --force. */
  char err[1024] = "";
  assert_int_equal(build(f->src, f->parent, 1, PV_PACK_CODEC_JPEG, err, sizeof err),
                   PV_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "above the source"));
  assert_int_equal(build(f->src, f->parent, 0, PV_PACK_CODEC_JPEG, err, sizeof err),
                   PV_ERR_INVALID_ARG);
  /* The root of the file system is above every source. */
  assert_int_equal(build(f->src, "/", 1, PV_PACK_CODEC_JPEG, err, sizeof err),
                   PV_ERR_INVALID_ARG);
  assert_user_data_intact(f);
}

static void test_out_is_source(void **state) {
  fx *f = *state;
  char err[1024] = "";
  assert_int_equal(build(f->src, f->src, 1, PV_PACK_CODEC_JPEG, err, sizeof err),
                   PV_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "is the source folder"));
  /* Spelled differently: a trailing slash, a ./ and a .. detour. */
  char *alt = pvt_join(f->parent, "keep/../train/./");
  assert_int_equal(build(f->src, alt, 1, PV_PACK_CODEC_JPEG, err, sizeof err),
                   PV_ERR_INVALID_ARG);
  free(alt);
  char *log = NULL;
  const char *argv[] = {"build", f->src, "-o", f->src, "--force", NULL};
  assert_int_equal(pvt_run_cli(&log, argv), 2);
  assert_non_null(strstr(log, "is the source folder"));
  free(log);
  assert_user_data_intact(f);
  assert_no_temporaries(f->parent);
}

static void test_out_inside_source(void **state) {
  fx *f = *state;
  char err[1024] = "";
  char *sub = pvt_join(f->src, "sub"), *deep = pvt_join(f->src, "class0/deeper");
  assert_int_equal(build(f->src, sub, 0, PV_PACK_CODEC_JPEG, err, sizeof err),
                   PV_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "inside the source"));
  assert_int_equal(build(f->src, deep, 1, PV_PACK_CODEC_JPEG, err, sizeof err),
                   PV_ERR_INVALID_ARG);
  struct stat sb;
  assert_int_not_equal(lstat(sub, &sb), 0);
  assert_int_not_equal(lstat(deep, &sb), 0);
  char *log = NULL;
  const char *argv[] = {"build", f->src, "-o", sub, NULL};
  assert_int_equal(pvt_run_cli(&log, argv), 2);
  assert_non_null(strstr(log, "inside the source"));
  free(log);
  assert_user_data_intact(f);
  free(sub);
  free(deep);
}

/* Symlinks must not hide the relation: a link to the parent (an ancestor),
 * a link to the source, and a path inside the source through a link. */
static void test_out_through_symlinks(void **state) {
  fx *f = *state;
  char *to_parent = pvt_join(f->root, "to_parent"), *to_src = pvt_join(f->root, "to_src");
  assert_int_equal(symlink(f->parent, to_parent), 0);
  assert_int_equal(symlink("parent/train", to_src), 0);
  char err[1024] = "";
  assert_int_equal(build(f->src, to_parent, 1, PV_PACK_CODEC_JPEG, err, sizeof err),
                   PV_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "above the source"));
  assert_int_equal(build(f->src, to_src, 1, PV_PACK_CODEC_JPEG, err, sizeof err),
                   PV_ERR_INVALID_ARG);
  char *inside = pvt_join(to_parent, "train/new.pvpack");
  assert_int_equal(build(f->src, inside, 0, PV_PACK_CODEC_JPEG, err, sizeof err),
                   PV_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "inside the source"));
  /* The source given through a link, the parent given plainly. */
  assert_int_equal(build(to_src, f->parent, 1, PV_PACK_CODEC_JPEG, err, sizeof err),
                   PV_ERR_INVALID_ARG);
  char *log = NULL;
  const char *argv[] = {"build", f->src, "-o", to_parent, "--force", NULL};
  assert_int_equal(pvt_run_cli(&log, argv), 2);
  free(log);
  struct stat sb;
  assert_int_equal(lstat(to_parent, &sb), 0);
  assert_true(S_ISLNK(sb.st_mode));
  assert_user_data_intact(f);
  assert_no_temporaries(f->root);
  unlink(to_parent);
  unlink(to_src);
  free(to_parent);
  free(to_src);
  free(inside);
}

/* --force over a real dataset still works, leaves no temporaries, and a
 * dataset directory with anything foreign in it is refused, the foreign
 * thing surviving. */
static void test_force_over_dataset(void **state) {
  fx *f = *state;
  char *out = pvt_join(f->root, "ds.pvpack");
  char err[1024] = "";
  assert_int_equal(build(f->src, out, 0, PV_PACK_CODEC_JPEG, err, sizeof err), PV_OK);
  assert_int_equal(build(f->src, out, 0, PV_PACK_CODEC_JPEG, err, sizeof err), PV_ERR_EXISTS);
  assert_int_equal(build(f->src, out, 1, PV_PACK_CODEC_ZSTD, err, sizeof err), PV_OK);
  pv_dataset *ds = NULL;
  pv_record r;
  assert_int_equal(pv_dataset_open(out, NULL, &ds, NULL, 0), PV_OK);
  assert_int_equal(pv_dataset_record(ds, 0, &r), PV_OK);
  assert_int_equal(r.codec, PV_CODEC_ZSTD); /* replaced */
  pv_dataset_close(ds);
  assert_no_temporaries(f->root);
  /* The CLI too. */
  char *log = NULL;
  const char *argv[] = {"build", f->src, "-o", out, "--force", "--quiet", NULL};
  assert_int_equal(pvt_run_cli(&log, argv), 0);
  free(log);
  assert_no_temporaries(f->root);

  /* A user file inside: refused, and the file and the dataset survive. */
  char *mine = pvt_join(out, "notes.txt");
  assert_int_equal(pvt_write_file(mine, "mine", 4), 0);
  size_t ilen = 0;
  char *index = pvt_join(out, PV_INDEX_FILENAME);
  uint8_t *before = pvt_read_file(index, &ilen);
  assert_int_equal(build(f->src, out, 1, PV_PACK_CODEC_JPEG, err, sizeof err), PV_ERR_EXISTS);
  assert_non_null(strstr(err, "notes.txt"));
  assert_int_equal(pvt_run_cli(&log, argv), 2);
  assert_non_null(strstr(log, "notes.txt"));
  free(log);
  size_t n = 0, n2 = 0;
  uint8_t *b = pvt_read_file(mine, &n);
  assert_non_null(b);
  assert_int_equal(n, 4);
  free(b);
  uint8_t *after = pvt_read_file(index, &n2);
  assert_int_equal(n2, ilen);
  assert_memory_equal(after, before, ilen); /* not replaced */
  free(after);
  unlink(mine);

  /* A sub-folder, or a known name that is not a regular file: refused. */
  char *subdir = pvt_join(out, "extra/file.txt");
  assert_int_equal(pvt_write_file(subdir, "x", 1), 0);
  assert_int_equal(build(f->src, out, 1, PV_PACK_CODEC_JPEG, err, sizeof err), PV_ERR_EXISTS);
  assert_non_null(strstr(err, "extra"));
  assert_int_equal(access(subdir, F_OK), 0);
  char *extra = pvt_join(out, "extra");
  pvt_rmrf(extra);
  char *shard9 = pvt_join(out, "shard-00009.pvs");
  assert_int_equal(mkdir(shard9, 0755), 0);
  assert_int_equal(build(f->src, out, 1, PV_PACK_CODEC_JPEG, err, sizeof err), PV_ERR_EXISTS);
  rmdir(shard9);
  /* Back to a clean dataset: accepted again. */
  assert_int_equal(build(f->src, out, 1, PV_PACK_CODEC_JPEG, err, sizeof err), PV_OK);
  assert_no_temporaries(f->root);
  free(before);
  free(index);
  free(mine);
  free(subdir);
  free(extra);
  free(shard9);
  pvt_rmrf(out);
  free(out);
}

/* --force over things that are not datasets at all. */
static void test_force_over_non_datasets(void **state) {
  fx *f = *state;
  char err[1024] = "";
  /* The folder holding the unrelated notes (a sibling of the source). */
  char *keep = pvt_join(f->parent, "keep");
  assert_int_equal(build(f->src, keep, 1, PV_PACK_CODEC_JPEG, err, sizeof err), PV_ERR_EXISTS);
  assert_non_null(strstr(err, "notes.txt"));
  /* A regular file. */
  char *file = pvt_join(f->root, "file.bin");
  assert_int_equal(pvt_write_file(file, "data", 4), 0);
  assert_int_equal(build(f->src, file, 1, PV_PACK_CODEC_JPEG, err, sizeof err), PV_ERR_EXISTS);
  size_t n = 0;
  uint8_t *b = pvt_read_file(file, &n);
  assert_int_equal(n, 4);
  free(b);
  /* A folder whose index.pvi is not an index, and an empty folder. */
  char *fake = pvt_join(f->root, "fake"), *fake_ix = pvt_join(f->root, "fake/index.pvi");
  assert_int_equal(pvt_write_file(fake_ix, "not an index at all", 19), 0);
  assert_int_equal(build(f->src, fake, 1, PV_PACK_CODEC_JPEG, err, sizeof err), PV_ERR_EXISTS);
  assert_non_null(strstr(err, "not a pvpack index"));
  assert_int_equal(access(fake_ix, F_OK), 0);
  char *empty = pvt_join(f->root, "empty");
  assert_int_equal(mkdir(empty, 0755), 0);
  assert_int_equal(build(f->src, empty, 1, PV_PACK_CODEC_JPEG, err, sizeof err), PV_ERR_EXISTS);
  /* A symlink to a real dataset: refused, link and dataset kept. */
  char *ds = pvt_join(f->root, "real.pvpack"), *link = pvt_join(f->root, "link.pvpack");
  assert_int_equal(build(f->src, ds, 0, PV_PACK_CODEC_JPEG, err, sizeof err), PV_OK);
  assert_int_equal(symlink(ds, link), 0);
  assert_int_equal(build(f->src, link, 1, PV_PACK_CODEC_JPEG, err, sizeof err), PV_ERR_EXISTS);
  assert_non_null(strstr(err, "symbolic link"));
  struct stat sb;
  assert_int_equal(lstat(link, &sb), 0);
  assert_true(S_ISLNK(sb.st_mode));
  /* A missing parent folder is an error named before any work. */
  char *orphan = pvt_join(f->root, "no/such/dir/out.pvpack");
  assert_int_equal(build(f->src, orphan, 0, PV_PACK_CODEC_JPEG, err, sizeof err),
                   PV_ERR_NOT_FOUND);
  assert_user_data_intact(f);
  assert_no_temporaries(f->root);
  unlink(link);
  pvt_rmrf(ds);
  pvt_rmrf(fake);
  rmdir(empty);
  unlink(file);
  free(keep);
  free(file);
  free(fake);
  free(fake_ix);
  free(empty);
  free(ds);
  free(link);
  free(orphan);
}

/* The deletion primitives: only the files a build writes, then rmdir;
 * anything else keeps the folder (and itself). pv__commit_dir re-checks
 * the target at commit time, since it may have changed during the build. */
static void test_remove_only_dataset_files(void **state) {
  fx *f = *state;
  char *dir = pvt_join(f->root, "old");
  char *ix = pvt_join(dir, PV_INDEX_FILENAME), *sh = pvt_join(dir, "shard-00000.pvs"),
       *rep = pvt_join(dir, PV_REPORT_FILENAME), *mine = pvt_join(dir, "mine.txt"),
       *odd = pvt_join(dir, "shard-0.pvs");
  assert_int_equal(pvt_write_file(ix, PV_INDEX_MAGIC, 8), 0);
  assert_int_equal(pvt_write_file(sh, "s", 1), 0);
  assert_int_equal(pvt_write_file(rep, "r", 1), 0);
  assert_int_equal(pvt_write_file(mine, "m", 1), 0);
  assert_int_equal(pvt_write_file(odd, "o", 1), 0); /* not PV_SHARD_NAME_FMT's spelling */
  char why[512];
  assert_false(pv__is_dataset_dir(dir, why, sizeof why));
  assert_int_equal(pv__remove_dataset_dir(dir), -1);
  assert_int_equal(access(mine, F_OK), 0);
  assert_int_equal(access(odd, F_OK), 0);
  assert_int_not_equal(access(ix, F_OK), 0);
  assert_int_not_equal(access(sh, F_OK), 0);
  assert_int_not_equal(access(rep, F_OK), 0);

  /* pv__commit_dir with force over a folder that is no dataset (any more). */
  char *tmp = NULL;
  assert_int_equal(pv__make_tmpdir(dir, &tmp, why, sizeof why), PV_OK);
  char *tix = pvt_join(tmp, PV_INDEX_FILENAME);
  assert_int_equal(pvt_write_file(tix, PV_INDEX_MAGIC, 8), 0);
  char *left = NULL;
  assert_int_equal(pv__commit_dir(tmp, dir, 1, &left, why, sizeof why), PV_ERR_EXISTS);
  assert_null(left);
  assert_int_equal(access(mine, F_OK), 0);
  assert_int_equal(access(tix, F_OK), 0); /* the new build is still in its tmp */
  /* Made a dataset again: the commit replaces it. */
  unlink(mine);
  unlink(odd);
  assert_int_equal(pvt_write_file(ix, PV_INDEX_MAGIC, 8), 0);
  assert_true(pv__is_dataset_dir(dir, why, sizeof why));
  assert_int_equal(pv__commit_dir(tmp, dir, 1, &left, why, sizeof why), PV_OK);
  assert_null(left);
  assert_int_not_equal(access(tmp, F_OK), 0);
  assert_int_equal(access(ix, F_OK), 0);
  assert_no_temporaries(f->root);
  assert_true(pv__is_dataset_file_name("shard-00000.pvs"));
  assert_true(pv__is_dataset_file_name("shard-123456.pvs"));
  assert_false(pv__is_dataset_file_name("shard-0.pvs"));
  assert_false(pv__is_dataset_file_name("shard-012345.pvs"));
  assert_false(pv__is_dataset_file_name("shard-00000.pvs.bak"));
  assert_false(pv__is_dataset_file_name("shard-+0000.pvs"));
  pvt_rmrf(dir);
  free(dir);
  free(ix);
  free(sh);
  free(rep);
  free(mine);
  free(odd);
  free(tmp);
  free(tix);
}

/* Mode bits of the dataset folder and of every file in it. */
static void assert_modes(const char *dir, mode_t mask) {
  struct stat sb;
  assert_int_equal(stat(dir, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0777 & ~mask);
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *e;
  int files = 0;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char *p = pvt_join(dir, e->d_name);
    assert_int_equal(stat(p, &sb), 0);
    if ((sb.st_mode & 0777) != (0666 & ~mask))
      fail_msg("%s: mode %o, want %o", p, (unsigned)(sb.st_mode & 0777), 0666 & ~mask);
    free(p);
    files++;
  }
  closedir(d);
  assert_true(files >= 3); /* index, report, at least one shard */
}

/* Item 2: a dataset is written with the user's umask (it was drwx------
 * whatever the umask: mkdtemp's 0700 renamed into place). */
static void test_umask(void **state) {
  fx *f = *state;
  static const mode_t masks[] = {022, 077, 002};
  for (size_t i = 0; i < sizeof masks / sizeof *masks; i++) {
    char name[32];
    snprintf(name, sizeof name, "mask%03o.pvpack", (unsigned)masks[i]);
    char *out = pvt_join(f->root, name);
    mode_t old = umask(masks[i]);
    pv_status st = build(f->src, out, 0, PV_PACK_CODEC_JPEG, NULL, 0);
    pv_status st2 = st == PV_OK ? build(f->src, out, 1, PV_PACK_CODEC_ZSTD, NULL, 0) : st;
    umask(old);
    assert_int_equal(st, PV_OK);
    assert_int_equal(st2, PV_OK); /* the --force replacement too */
    assert_modes(out, masks[i]);
    pvt_rmrf(out);
    free(out);
  }
}

/* `get -o FILE` never overwrites FILE (nor the default record-N name). */
static void test_get_never_overwrites(void **state) {
  fx *f = *state;
  char *out = pvt_join(f->root, "get.pvpack");
  assert_int_equal(build(f->src, out, 0, PV_PACK_CODEC_ZSTD, NULL, 0), PV_OK);
  char *file = pvt_join(f->root, "precious.ppm");
  assert_int_equal(pvt_write_file(file, "precious", 8), 0);
  char *log = NULL;
  const char *g[] = {"get", out, "0", "-o", file, NULL};
  assert_int_equal(pvt_run_cli(&log, g), 2);
  assert_non_null(strstr(log, "exists"));
  free(log);
  size_t n = 0;
  uint8_t *b = pvt_read_file(file, &n);
  assert_int_equal(n, 8);
  assert_memory_equal(b, "precious", 8);
  free(b);
  /* Nor through a symlink to it. */
  char *link = pvt_join(f->root, "link.ppm");
  assert_int_equal(symlink(file, link), 0);
  const char *gl[] = {"get", out, "0", "-o", link, NULL};
  assert_int_equal(pvt_run_cli(&log, gl), 2);
  free(log);
  b = pvt_read_file(file, &n);
  assert_int_equal(n, 8);
  free(b);
  /* A new file is written, with the umask's mode. */
  char *fresh = pvt_join(f->root, "fresh.ppm");
  mode_t old = umask(027);
  const char *gf[] = {"get", out, "0", "-o", fresh, NULL};
  int rc = pvt_run_cli(&log, gf);
  umask(old);
  assert_int_equal(rc, 0);
  free(log);
  struct stat sb;
  assert_int_equal(stat(fresh, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0640);
  assert_true(sb.st_size > 16);
  unlink(link);
  unlink(fresh);
  unlink(file);
  pvt_rmrf(out);
  free(out);
  free(file);
  free(link);
  free(fresh);
}

/* `demo DIR` writes only into a new, empty or earlier-demo folder. */
static void test_demo_refuses_user_folder(void **state) {
  fx *f = *state;
  char *log = NULL;
  /* parent/ holds the user's train/ and keep/: refused, nothing written. */
  const char *d[] = {"demo", f->parent, NULL};
  assert_int_equal(pvt_run_cli(&log, d), 2);
  assert_non_null(strstr(log, "not an earlier demo"));
  free(log);
  assert_int_equal(count_prefixed(f->parent, ""), 2);
  assert_user_data_intact(f);
  /* A regular file as DIR. */
  const char *d2[] = {"demo", f->notes, NULL};
  assert_int_equal(pvt_run_cli(&log, d2), 2);
  free(log);
  assert_user_data_intact(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_force_over_parent_of_source, setup, teardown),
      cmocka_unit_test_setup_teardown(test_out_is_source, setup, teardown),
      cmocka_unit_test_setup_teardown(test_out_inside_source, setup, teardown),
      cmocka_unit_test_setup_teardown(test_out_through_symlinks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_force_over_dataset, setup, teardown),
      cmocka_unit_test_setup_teardown(test_force_over_non_datasets, setup, teardown),
      cmocka_unit_test_setup_teardown(test_remove_only_dataset_files, setup, teardown),
      cmocka_unit_test_setup_teardown(test_umask, setup, teardown),
      cmocka_unit_test_setup_teardown(test_get_never_overwrites, setup, teardown),
      cmocka_unit_test_setup_teardown(test_demo_refuses_user_folder, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
