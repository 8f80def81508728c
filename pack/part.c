/* part.c - one part of a build cut into N (pv_build_part, pv_pack.h).
 *
 * Every part walks the same tree and makes the same plan (pv__plan_make), or
 * reads its slice of the plan `pvpack build --plan` made once;
 * part k packs the jobs pv__plan_part(jobs, k, n) gives it into
 * OUT/parts/<k>-of-<n>/: its shards (numbered from 0, records from 0, the
 * plan's dataset id), its report.txt, a partial index.pvi (the records'
 * paths and labels, the class counts, the skipped lines and shard refs of
 * the part: what a merge needs, read back with format/'s validator) and,
 * last, part.txt, the completion record naming the plan's fingerprint.
 * Everything is written into OUT/parts/<k>-of-<n>.tmp-XXXXXX and renamed
 * into place, so a part directory exists only complete.
 *
 * Duplicate attempts of one part may run at the same time (Spark
 * speculation, a Ray retry beside a slow first attempt, a Slurm task started
 * twice, on one machine or several that share OUT). Each attempt writes its
 * own temporary directory and holds an flock on the attempt.lock file in it
 * for as long as it lives, so a dead attempt's directory (its lock free) is
 * told from a live one's (held). Two short critical sections take the part
 * lock OUT/parts/<k>-of-<n>.lock: the birth of an attempt (sweeping dead
 * attempts' directories, creating its own and locking it) and its commit
 * (looking at <k>-of-<n> again, then rename-if-absent). The first attempt
 * to commit places the part; a later one finds it complete from the same
 * plan, discards its own copy and succeeds; both copies hold the same bytes
 * (the plan is deterministic). The part lock file is unlinked by its holder
 * before it unlocks (a waiter checks it locked the file still at that path),
 * so none is left. Where the file system has no flock (ENOLCK, EOPNOTSUPP,
 * ...), attempts still end well through rename-if-absent, but no directory
 * of another attempt is removed (a live one cannot be told from a dead one).
 *
 * The fingerprint is XXH3-64 of: the options text (which holds the seed and
 * every option that changes the bytes), n, and for every file of the walk
 * in torchvision order its path, label, size and modification time
 * (pv__plan_fingerprint). With a plan made once by `pvpack build --plan`
 * (plan_file.c), a part reads its slice of the plan instead of walking. */
#define _GNU_SOURCE /* renameat2, RENAME_NOREPLACE */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build.h"
#include "opts_copy.h"
#include "pack_util.h"

#define PART_RECORD "part.txt"
#define PART_MAGIC "pvpack part 1\n"
#define ATTEMPT_LOCK "attempt.lock"
#define MERGE_MARKER "merge.txt" /* merge.c's: a merge of OUT has begun */

/* Reads dir/part.txt's "plan" line into *fp; 0 when it is there and well
 * formed, else -1. The file is ours, but read as untrusted: bounded. */
static int read_part_record(const char *dir, uint64_t *fp) {
  char path[4096], buf[1024];
  if (snprintf(path, sizeof path, "%s/%s", dir, PART_RECORD) >= (int)sizeof path) return -1;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return -1;
  ssize_t r = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (r <= 0) return -1;
  buf[r] = 0;
  if (strncmp(buf, PART_MAGIC, strlen(PART_MAGIC))) return -1;
  const char *pl = strstr(buf, "\nplan ");
  if (!pl) return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(pl + 6, &end, 16);
  if (errno || end == pl + 6 || *end != '\n') return -1;
  *fp = v;
  return 0;
}

/* Removes a part directory pvpack wrote (dataset files, part.txt and
 * attempt.lock only, then rmdir: never recursive). 0 when it is gone. */
static int remove_part_dir(const char *dir) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s/%s", dir, PART_RECORD) < (int)sizeof path) unlink(path);
  if (snprintf(path, sizeof path, "%s/%s", dir, ATTEMPT_LOCK) < (int)sizeof path) unlink(path);
  return pv__remove_dataset_dir(dir);
}

/* errno values of a file system that does not do flock. */
static int no_flock(int e) {
  return e == ENOLCK || e == EOPNOTSUPP || e == ENOSYS || e == EINVAL || e == EBADF;
}

/* The part lock, OUT/parts/<name>.lock: fd -1 when not held. */
typedef struct part_lock {
  int fd;
  char path[4096];
} part_lock;

/* Takes the part lock (waits for it). Returns 0 held, 1 when the file
 * system does not do flock (l->fd = -1: go on unlocked), -1 on an error
 * (err says it). The holder unlinks the file before unlocking, so after
 * flock the waiter checks the path still names the file it locked. */
static int part_lock_take(const char *parts, const char *name, part_lock *l, char *err,
                          size_t cap) {
  l->fd = -1;
  if (snprintf(l->path, sizeof l->path, "%s/%s.lock", parts, name) >= (int)sizeof l->path) {
    snprintf(err, cap, "%s: path too long", parts);
    return -1;
  }
  for (;;) {
    int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) {
      snprintf(err, cap, "cannot open the part lock %s: %s", l->path, strerror(errno));
      return -1;
    }
    int r;
    while ((r = flock(fd, LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (r != 0) {
      int e = errno;
      close(fd);
      if (no_flock(e)) {
        unlink(l->path); /* ours: a name under parts/ only pvpack writes */
        return 1;
      }
      snprintf(err, cap, "cannot lock %s: %s", l->path, strerror(e));
      return -1;
    }
    struct stat a, b;
    if (fstat(fd, &a) == 0 && stat(l->path, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino) {
      l->fd = fd;
      return 0;
    }
    close(fd); /* its holder unlinked it before unlocking: lock the new one */
  }
}

static void part_lock_release(part_lock *l) {
  if (l->fd < 0) return;
  unlink(l->path);
  close(l->fd);
  l->fd = -1;
}

/* Removes dir, a temporary directory of an attempt of a part, when that
 * attempt is dead: no attempt.lock (killed before locking it, or while
 * committing or cleaning up; --force's old part moved aside) or an
 * attempt.lock no process holds. Only pvpack's files in it go; a directory
 * where anything else appeared is kept. The caller holds the part lock (no
 * attempt is being born meanwhile). 1 when it is left to a live attempt
 * (its lock held; or no flock here: live and dead cannot be told apart). */
static unsigned sweep_one(const char *dir) {
  char lk[4200];
  snprintf(lk, sizeof lk, "%s/%s", dir, ATTEMPT_LOCK);
  int fd = open(lk, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    if (errno != ENOENT) return 1;
    remove_part_dir(dir);
    return 0;
  }
  unsigned live = 0;
  if (flock(fd, LOCK_EX | LOCK_NB) == 0)
    remove_part_dir(dir); /* its attempt died: the kernel freed its lock */
  else
    live = 1; /* EWOULDBLOCK: alive; or no flock here: cannot tell, keep it */
  close(fd);
  return live;
}

/* Is d_name "<k>-of-<n>.tmp-XXXXXX", k < n (and n the given one)? */
static int attempt_name(const char *d_name, uint32_t n, uint32_t *k) {
  unsigned kk, nn;
  int end = 0;
  if (sscanf(d_name, "%u-of-%u.tmp-%n", &kk, &nn, &end) != 2 || end == 0 ||
      strlen(d_name + end) != 6 || nn != n || kk >= nn)
    return 0;
  char canon[48];
  snprintf(canon, sizeof canon, "%u-of-%u.tmp-", kk, nn);
  if (strlen(canon) != (size_t)end || strncmp(canon, d_name, (size_t)end))
    return 0; /* not the name pvpack writes ("01-of-3", "+1-of-3") */
  *k = kk;
  return 1;
}

/* Sweeps the dead attempts' directories of part `name` (the caller holds
 * its lock). Returns how many directories were left to live attempts. */
static unsigned sweep_dead_attempts(const char *parts, const char *name) {
  char pat[64], dir[4096];
  snprintf(pat, sizeof pat, "%s.tmp-", name);
  size_t pn = strlen(pat);
  unsigned live = 0;
  DIR *d = opendir(parts);
  if (!d) return 0;
  struct dirent *de;
  while ((de = readdir(d)))
    if (!strncmp(de->d_name, pat, pn) && strlen(de->d_name) == pn + 6 &&
        snprintf(dir, sizeof dir, "%s/%s", parts, de->d_name) < (int)sizeof dir)
      live += sweep_one(dir);
  closedir(d);
  return live;
}

unsigned pv__parts_sweep(const char *parts, uint32_t n) {
  char dir[4096], name[48], err[256];
  unsigned live = 0;
  DIR *d = opendir(parts);
  if (!d) return 0;
  struct dirent *de;
  uint32_t k;
  while ((de = readdir(d))) {
    if (!attempt_name(de->d_name, n, &k) ||
        snprintf(dir, sizeof dir, "%s/%s", parts, de->d_name) >= (int)sizeof dir)
      continue;
    snprintf(name, sizeof name, "%" PRIu32 "-of-%" PRIu32, k, n);
    part_lock l;
    if (part_lock_take(parts, name, &l, err, sizeof err) == 0)
      live += sweep_one(dir);
    else
      live++; /* no flock (or no lock to be had): cannot tell, keep it */
    part_lock_release(&l);
  }
  closedir(d);
  return live;
}

/* Creates and locks tmpdir/attempt.lock: held until the attempt ends (the
 * fd is closed, or the process dies). -1 when it cannot be created. A file
 * system without flock leaves it unlocked (sweepers then keep the
 * directory). */
static int attempt_lock_take(const char *tmpdir, char *err, size_t cap) {
  char lk[4200];
  snprintf(lk, sizeof lk, "%s/%s", tmpdir, ATTEMPT_LOCK);
  int fd = open(lk, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
  if (fd < 0) {
    snprintf(err, cap, "cannot create %s: %s", lk, strerror(errno));
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0 && !no_flock(errno)) {
    snprintf(err, cap, "cannot lock %s: %s", lk, strerror(errno));
    close(fd);
    unlink(lk);
    return -1;
  }
  return fd;
}

/* rename(2), but never over an existing name where the system can say so
 * (renameat2 RENAME_NOREPLACE; rename alone already fails over a non-empty
 * directory, which a complete part always is). */
static int rename_noreplace(const char *from, const char *to) {
#if defined(__linux__) && defined(RENAME_NOREPLACE)
  if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
#endif
  return rename(from, to);
}

/* What <k>-of-<n> holds now. */
enum final_state { FINAL_NONE, FINAL_SAME, FINAL_OTHER, FINAL_FOREIGN };

static enum final_state final_state(const char *final, uint64_t fp) {
  struct stat sb;
  if (lstat(final, &sb) != 0) return FINAL_NONE;
  uint64_t old = 0;
  if (!S_ISDIR(sb.st_mode) || read_part_record(final, &old) != 0) return FINAL_FOREIGN;
  return old == fp ? FINAL_SAME : FINAL_OTHER;
}

static pv_status write_part_record(const char *dir, uint32_t k, uint32_t n, uint64_t fp,
                                   const pv__plan *p, uint64_t first, uint64_t end,
                                   const pv__shards *s, char *err, size_t cap) {
  char text[1024];
  int len = snprintf(text, sizeof text,
                     PART_MAGIC "part %" PRIu32 "\nparts %" PRIu32 "\nplan %016" PRIx64
                                "\ndataset_id %016" PRIx64 "\njobs %" PRIu64 "\nfirst %" PRIu64
                                "\nend %" PRIu64 "\nrecords %" PRIu64 "\nshards %" PRIu32
                                "\nskipped %" PRIu64 "\n",
                     k, n, fp, p->dataset_id, p->jobs, first, end, s->records, s->shard_count,
                     s->skipped_count);
  int fd = pv__create_file(dir, PART_RECORD, err, cap);
  if (fd < 0) return PV_ERR_IO;
  uint64_t off = 0;
  pv_status st = pv__write_all(fd, text, (size_t)len, &off, err, cap);
  if (st != PV_OK) {
    close(fd);
    return st;
  }
  return pv__fsync_close(fd, err, cap);
}

/* Has a merge of out_dir taken the parts (parts/merge.txt: begun; index.pvi:
 * done)? From then on part directories are being consumed (one may be seen
 * without its part.txt) or gone. */
static int merge_began(const char *out_dir, const char *parts) {
  char path[4200];
  struct stat sb;
  snprintf(path, sizeof path, "%s/%s", parts, MERGE_MARKER);
  if (lstat(path, &sb) == 0) return 1;
  snprintf(path, sizeof path, "%s/%s", out_dir, PV_INDEX_FILENAME);
  return lstat(path, &sb) == 0;
}

/* What <k>-of-<n>'s state means for a new attempt: PV_OK to go on (none,
 * or another plan's with --force; or the same plan's without --force: the
 * caller stops there, done, and this logs it); PV_ERR_EXISTS with err. */
static pv_status check_final(const pv_build_options *o, enum final_state fs, const char *final,
                             const char *name, const char *out_dir, char *err, size_t errcap) {
  switch (fs) {
  case FINAL_NONE:
    return PV_OK;
  case FINAL_SAME:
    if (!o->force)
      pv__build_log(o, PV_LOG_INFO,
                    "part %s of %s is already complete for this plan; nothing to do", name,
                    out_dir);
    return PV_OK;
  case FINAL_FOREIGN: /* not pvpack's: never replaced, whatever force says */
    snprintf(err, errcap,
             "refusing to replace %s: it is not a complete pvpack part (no readable %s)", final,
             PART_RECORD);
    return PV_ERR_EXISTS;
  case FINAL_OTHER:
    if (o->force) return PV_OK;
    snprintf(err, errcap, "%s holds a part of another plan: the tree, the options or N changed "
             "(use --force to repack it)", final);
    return PV_ERR_EXISTS;
  }
  return PV_OK;
}

/* The plan of part k of n and its fingerprint: read from OUT/parts/plan/
 * when `pvpack build --plan` made one (this part's slice only, no listing),
 * else made by walking the tree and stat'ing every file. Both give the same
 * fingerprint and the same jobs for the same tree and options. */
static pv_status make_plan(const char *src, const char *src_abs, const char *out_dir,
                           const pv_build_options *o, uint32_t k, uint32_t n, pv__plan *plan,
                           uint64_t *fp, pv_build_summary *sum, char *err, size_t cap) {
  char dir[4200], path[4300];
  snprintf(dir, sizeof dir, "%s/parts/plan", out_dir);
  struct stat sb;
  if (lstat(dir, &sb) != 0) {
    pv_status st = pv__plan_make(src, src_abs, o, plan, sum, err, cap);
    return st != PV_OK ? st : pv__plan_fingerprint(plan, n, fp, NULL, err, cap);
  }
  snprintf(path, sizeof path, "%s/%" PRIu32 "-of-%" PRIu32 ".pvl", dir, k, n);
  if (!S_ISDIR(sb.st_mode) || lstat(path, &sb) != 0) {
    memset(plan, 0, sizeof *plan);
    snprintf(err, cap, "%s holds no plan for part %" PRIu32 " of %" PRIu32
             " (planned for another N?): make the plan again with --parts %" PRIu32
             " --plan --force",
             dir, k, n, n);
    return PV_ERR_NOT_FOUND;
  }
  return pv__plan_file_read(path, k, n, o, src_abs, plan, fp, sum, err, cap);
}

pv_status pv_build_part(const char *src, const char *out_dir, const pv_build_options *opts,
                        uint32_t k, uint32_t n, pv_build_summary *summary, char *err,
                        size_t errcap) {
  pv_build_options o;
  pv_build_summary sum;
  char ebuf[512] = "";
  if (!err) {
    err = ebuf;
    errcap = sizeof ebuf;
  }
  err[0] = 0;
  memset(&sum, 0, sizeof sum);
  if (summary) memset(summary, 0, sizeof *summary);
  if (!src || !out_dir || !opts) return PV_ERR_INVALID_ARG;
  if (n == 0 || k >= n || n > PV_MAX_PARTS) {
    snprintf(err, errcap, "part %" PRIu32 " of %" PRIu32 ": need 0 <= K < N <= %u", k, n,
             PV_MAX_PARTS);
    return PV_ERR_INVALID_ARG;
  }
  if (pv__build_options_take(opts, &o, err, errcap) != PV_OK) return PV_ERR_INVALID_ARG;
  double t0 = pv__build_now();
  pv_status st = PV_OK;
  char *src_abs = NULL, *tmpdir = NULL, *parts = NULL, *final = NULL, *aside = NULL;
  char name[48];
  pv__plan plan;
  pv__shards shards;
  part_lock plk = {.fd = -1};
  int afd = -1, merged = 0;
  char lk[4200];
  memset(&plan, 0, sizeof plan);
  memset(&shards, 0, sizeof shards);
  snprintf(name, sizeof name, "%" PRIu32 "-of-%" PRIu32, k, n);

  if ((st = pv__source_realpath(src, &src_abs, err, errcap)) != PV_OK) goto out;
  if ((st = pv__check_output_place(src_abs, out_dir, err, errcap)) != PV_OK) goto out;
  size_t need = strlen(out_dir) + 8 + sizeof name;
  if (!(parts = malloc(need)) || !(final = malloc(need + 1))) {
    st = PV_ERR_NOMEM;
    goto out;
  }
  snprintf(parts, need, "%s/parts", out_dir);
  snprintf(final, need + 1, "%s/%s", parts, name);
  int had_merge = merge_began(out_dir, parts); /* a merge began before this attempt */
  uint64_t fp = 0, first = 0, end = 0;
  if ((st = make_plan(src, src_abs, out_dir, &o, k, n, &plan, &fp, &sum, err, errcap)) != PV_OK)
    goto out;
  pv__plan_part(plan.jobs, k, n, &first, &end);

  enum final_state fs = final_state(final, fp);
  if ((st = check_final(&o, fs, final, name, out_dir, err, errcap)) != PV_OK ||
      (fs == FINAL_SAME && !o.force)) {
    sum.images = 0; /* and sum.threads stays 0: the write stage did not run */
    goto out;       /* refused, or PV_OK: already complete */
  }
  if ((st = pv__mkdir_if_missing(out_dir, err, errcap)) != PV_OK ||
      (st = pv__mkdir_if_missing(parts, err, errcap)) != PV_OK)
    goto out;

  /* birth, under the part lock: dead attempts swept, our directory made and
   * locked (a sweeper never sees it unlocked), <k>-of-<n> looked at again */
  if (part_lock_take(parts, name, &plk, err, errcap) < 0) {
    st = PV_ERR_IO;
    goto out;
  }
  if (plk.fd >= 0) sweep_dead_attempts(parts, name);
  if (!had_merge && merge_began(out_dir, parts)) {
    merged = 1; /* the parts were merged (or are being) since this attempt began */
    pv__build_log(&o, PV_LOG_INFO, "part %s of %s: a merge of %s began meanwhile; nothing to do",
                  name, out_dir, out_dir);
    sum.images = 0;
    goto out;
  }
  fs = final_state(final, fp);
  if ((st = check_final(&o, fs, final, name, out_dir, err, errcap)) != PV_OK ||
      (fs == FINAL_SAME && !o.force)) { /* another attempt committed meanwhile */
    sum.images = 0;
    goto out;
  }
  if ((st = pv__make_tmpdir(final, &tmpdir, err, errcap)) != PV_OK) goto out;
  if ((afd = attempt_lock_take(tmpdir, err, errcap)) < 0) {
    st = PV_ERR_IO;
    goto out;
  }
  part_lock_release(&plk);

  if ((st = pv__write_shards(&plan, first, end, tmpdir, &shards, &sum, err, errcap)) != PV_OK)
    goto out;
  if ((st = pv__write_index(&plan, &shards, tmpdir, 0, &sum, err, errcap)) != PV_OK) goto out;
  if ((st = write_part_record(tmpdir, k, n, fp, &plan, first, end, &shards, err, errcap)) != PV_OK)
    goto out;
  if ((st = pv__fsync_path(tmpdir, NULL, err, errcap)) != PV_OK) goto out;

  /* commit, under the part lock: rename-if-absent */
  if (part_lock_take(parts, name, &plk, err, errcap) < 0) {
    st = PV_ERR_IO;
    goto out;
  }
  fs = final_state(final, fp);
  if (!had_merge && merge_began(out_dir, parts)) {
    /* a merge began while this attempt ran: a duplicate (the merge took the
     * part another attempt placed, and may be consuming it now); ours is
     * not needed */
    pv__build_log(&o, PV_LOG_INFO,
                  "part %s of %s: a merge of %s began meanwhile; this attempt's copy is "
                  "discarded", name, out_dir, out_dir);
    merged = 1;
    goto out; /* PV_OK; tmpdir removed below */
  }
  if (fs == FINAL_SAME && !o.force) {
    pv__build_log(&o, PV_LOG_INFO,
                  "part %s of %s was completed by another attempt of the same plan; this "
                  "attempt's identical copy is discarded", name, out_dir);
    goto out; /* PV_OK */
  }
  if (fs == FINAL_FOREIGN || (fs == FINAL_OTHER && !o.force)) {
    st = check_final(&o, fs, final, name, out_dir, err, errcap);
    goto out;
  }
  if (fs != FINAL_NONE) { /* --force: the old part aside, the new one in, the old one removed */
    if ((st = pv__make_tmpdir(final, &aside, err, errcap)) != PV_OK) goto out;
    if (rename(final, aside) != 0) { /* replaces the empty directory just made */
      snprintf(err, errcap, "cannot move %s aside: %s", final, strerror(errno));
      rmdir(aside);
      st = PV_ERR_IO;
      goto out;
    }
  }
  snprintf(lk, sizeof lk, "%s/%s", tmpdir, ATTEMPT_LOCK);
  unlink(lk); /* the fd keeps our lock; no sweeper looks while we hold the part lock */
  if (rename_noreplace(tmpdir, final) != 0) {
    int e = errno;
    if ((e == EEXIST || e == ENOTEMPTY) && !aside && final_state(final, fp) == FINAL_SAME) {
      /* placed just now by an attempt that could not take the part lock
       * (a file system without flock): the same bytes, so ours goes */
      pv__build_log(&o, PV_LOG_INFO,
                    "part %s of %s was completed by another attempt of the same plan; this "
                    "attempt's identical copy is discarded", name, out_dir);
      goto out; /* PV_OK */
    }
    snprintf(err, errcap, "cannot rename %s to %s: %s", tmpdir, final, strerror(e));
    st = PV_ERR_IO;
    goto out;
  }
  free(tmpdir);
  tmpdir = NULL;
  if (aside && remove_part_dir(aside) != 0)
    pv__build_log(&o, PV_LOG_WARN, "warning: kept %s (the replaced part): files pvpack did not write appeared in it", aside);
  st = pv__fsync_path(parts, NULL, err, errcap);

out:
  if (tmpdir) remove_part_dir(tmpdir);
  if (afd >= 0) close(afd); /* after the directory is gone: a sweeper keeps off until then */
  part_lock_release(&plk);
  if (merged) rmdir(parts); /* only when empty: a merge that saw our directory left it */
  sum.seconds = pv__build_now() - t0;
  if (summary) *summary = sum;
  pv__shards_free(&shards);
  pv__plan_free(&plan);
  free(tmpdir);
  free(aside);
  free(src_abs);
  free(parts);
  free(final);
  return st;
}

/* A decimal in [0, UINT32_MAX], nothing else (no sign, no spaces). */
static int parse_u32(const char *s, uint32_t *v) {
  if (!s || *s < '0' || *s > '9') return -1;
  uint64_t x = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    x = x * 10 + (uint64_t)(*s - '0');
    if (x > UINT32_MAX) return -1;
  }
  *v = (uint32_t)x;
  return 0;
}

pv_status pv_part_parse(const char *text, uint32_t *k, uint32_t *n, char *err, size_t errcap) {
  char buf[32];
  const char *slash = text ? strchr(text, '/') : NULL;
  if (!slash || (size_t)(slash - text) >= sizeof buf) goto bad;
  memcpy(buf, text, (size_t)(slash - text));
  buf[slash - text] = 0;
  if (parse_u32(buf, k) || parse_u32(slash + 1, n) || *n == 0 || *k >= *n || *n > PV_MAX_PARTS)
    goto bad;
  return PV_OK;
bad:
  if (err) snprintf(err, errcap, "part '%.40s': expected K/N with 0 <= K < N <= %u", text ? text : "",
                    PV_MAX_PARTS);
  return PV_ERR_INVALID_ARG;
}

pv_status pv_part_from_env(uint32_t parts, uint32_t *k, uint32_t *n, char *err, size_t errcap) {
  const char *id = getenv("SLURM_ARRAY_TASK_ID");
  const char *cnt = getenv("SLURM_ARRAY_TASK_COUNT");
  const char *mn = getenv("SLURM_ARRAY_TASK_MIN"), *mx = getenv("SLURM_ARRAY_TASK_MAX");
  const char *jci = getenv("JOB_COMPLETION_INDEX");
  uint32_t v_id = 0, v_cnt = 0, v_min = 0, v_max = 0, nn = 0;
  if (id) {
    if (parse_u32(id, &v_id) || (mn && parse_u32(mn, &v_min)) || (mx && parse_u32(mx, &v_max)) ||
        (cnt && parse_u32(cnt, &v_cnt))) {
      snprintf(err, errcap, "SLURM_ARRAY_TASK_* variables are not decimal numbers");
      return PV_ERR_INVALID_ARG;
    }
    if (mx && v_max < v_min) {
      snprintf(err, errcap, "SLURM_ARRAY_TASK_MAX %u is below SLURM_ARRAY_TASK_MIN %u", v_max,
               v_min);
      return PV_ERR_INVALID_ARG;
    }
    if (mx && cnt && (uint64_t)v_max - v_min + 1 != v_cnt) {
      snprintf(err, errcap,
               "the Slurm array is not contiguous (MIN %u, MAX %u, COUNT %u): use "
               "--array=0-%u, or --part K/N",
               v_min, v_max, v_cnt, v_cnt ? v_cnt - 1 : 0);
      return PV_ERR_INVALID_ARG;
    }
    nn = cnt ? v_cnt : mx ? v_max - v_min + 1 : parts;
    if (v_id < v_min || (parts && nn && nn != parts)) {
      snprintf(err, errcap,
               "SLURM_ARRAY_TASK_ID %u with an array of %u tasks does not fit --parts %u", v_id,
               nn, parts);
      return PV_ERR_INVALID_ARG;
    }
    *k = v_id - v_min;
    *n = nn;
  } else if (jci) {
    if (parse_u32(jci, &v_id)) {
      snprintf(err, errcap, "JOB_COMPLETION_INDEX '%.20s' is not a decimal number", jci);
      return PV_ERR_INVALID_ARG;
    }
    if (!parts) {
      snprintf(err, errcap, "JOB_COMPLETION_INDEX gives K only: add --parts N (the Job's completions)");
      return PV_ERR_INVALID_ARG;
    }
    *k = v_id;
    *n = parts;
  } else {
    snprintf(err, errcap,
             "no part given: --part K/N, or --parts N with SLURM_ARRAY_TASK_ID or "
             "JOB_COMPLETION_INDEX in the environment");
    return PV_ERR_INVALID_ARG;
  }
  if (*n == 0 || *k >= *n || *n > PV_MAX_PARTS) {
    snprintf(err, errcap, "part %u of %u from the environment: need 0 <= K < N <= %u", *k, *n,
             PV_MAX_PARTS);
    return PV_ERR_INVALID_ARG;
  }
  return PV_OK;
}
