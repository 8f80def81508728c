/* merge.c - pv_merge (pv_pack.h): the N parts of OUT/parts/ into one
 * dataset in OUT, without rewriting a payload byte.
 *
 * Order (crash-safe, resumable):
 *   1. every part K-of-N for K < N complete (part.txt), one N, one plan
 *      fingerprint, one dataset id; every part's index.pvi validated.
 *   2. OUT/parts/merge.txt (the marker: this plan's merge has begun; from
 *      here on the parts belong to the merge), fsynced.
 *   3. per shard, in global order: its header and footer rewritten in
 *      place (shard_index, first_record; the checksums they cover), fsynced,
 *      then renamed to OUT/shard-GGGGG.pvs. A shard already in OUT (a
 *      resumed merge) is checked against what it must be.
 *   4. report.txt, then index.pvi (written under parts/, renamed last):
 *      before this rename OUT holds nothing that opens as a dataset.
 *   5. the marker and the emptied part directories removed (pvpack's
 *      files only, never recursive).
 * A rerun after a kill at any step sees the marker, finds every shard at
 * its part path or at its final path, and finishes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build.h"
#include "pack_util.h"
#include "pv_format.h"
#include "pv_pack.h"

#define PART_RECORD "part.txt"
#define PART_MAGIC "pvpack part 1\n"
#define MERGE_MARKER "merge.txt"
#define MAX_INDEX_BYTES (64ull << 30)

/* A path into buf; out_dir is bounded at entry (PATH_CAP), so none is cut. */
#define PATH_CAP 4096
static void pj(char *buf, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void pj(char *buf, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, cap, fmt, ap);
  va_end(ap);
}

typedef struct mpart {
  uint64_t fp, dataset_id, jobs, first, end, records;
  uint32_t shards;
  uint8_t *ix;
  size_t ix_size;
  pv_index_view v;
  char *dir;
  uint8_t *report;
  size_t report_len;
} mpart;

static int field(const char *buf, const char *key, int hex, uint64_t *out) {
  char pat[32];
  pj(pat, sizeof pat, "\n%s ", key);
  const char *p = strstr(buf, pat);
  if (!p) return -1;
  p += strlen(pat);
  char *end;
  errno = 0;
  unsigned long long v = strtoull(p, &end, hex ? 16 : 10);
  if (errno || end == p || *end != '\n') return -1;
  *out = v;
  return 0;
}

/* Reads a whole small file (bounded by max); NULL on failure. */
static uint8_t *slurp(const char *path, uint64_t max, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return NULL;
  struct stat sb;
  uint8_t *b = NULL;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > max) goto out;
  b = malloc((size_t)sb.st_size + 1);
  if (!b) goto out;
  size_t got = 0;
  while (got < (size_t)sb.st_size) {
    ssize_t r = pread(fd, b + got, (size_t)sb.st_size - got, (off_t)got);
    if (r <= 0) {
      free(b);
      b = NULL;
      goto out;
    }
    got += (size_t)r;
  }
  b[got] = 0;
  *len = got;
out:
  close(fd);
  return b;
}

static pv_status read_part(const char *parts, uint32_t k, uint32_t n, mpart *p, char *err,
                           size_t cap) {
  char path[4096];
  pj(path, sizeof path, "%s/%u-of-%u", parts, k, n);
  if (!(p->dir = strdup(path))) return PV_ERR_NOMEM;
  struct stat sb;
  if (lstat(p->dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    snprintf(err, cap, "%s is missing: part %u of %u has not completed (run pvpack build --part %u/%u)",
             p->dir, k, n, k, n);
    return PV_ERR_NOT_FOUND;
  }
  pj(path, sizeof path, "%s/%s", p->dir, PART_RECORD);
  size_t len = 0;
  char *rec = (char *)slurp(path, 4096, &len);
  uint64_t kk = 0, nn = 0, sh = 0;
  int bad = !rec || strncmp(rec, PART_MAGIC, strlen(PART_MAGIC)) || field(rec, "part", 0, &kk) ||
            field(rec, "parts", 0, &nn) || field(rec, "plan", 1, &p->fp) ||
            field(rec, "dataset_id", 1, &p->dataset_id) || field(rec, "jobs", 0, &p->jobs) ||
            field(rec, "first", 0, &p->first) || field(rec, "end", 0, &p->end) ||
            field(rec, "records", 0, &p->records) || field(rec, "shards", 0, &sh) ||
            kk != k || nn != n || sh > PV_MAX_SHARDS;
  free(rec);
  if (bad) {
    snprintf(err, cap, "%s: no readable completion record (%s)", p->dir, PART_RECORD);
    return PV_ERR_CORRUPT;
  }
  p->shards = (uint32_t)sh;
  pj(path, sizeof path, "%s/%s", p->dir, PV_INDEX_FILENAME);
  if (!(p->ix = slurp(path, MAX_INDEX_BYTES, &p->ix_size))) {
    snprintf(err, cap, "%s: cannot read its %s", p->dir, PV_INDEX_FILENAME);
    return PV_ERR_IO;
  }
  char why[256];
  pv_status st = pv_index_validate(p->ix, p->ix_size, &p->v, why, sizeof why);
  if (st != PV_OK) {
    snprintf(err, cap, "%s/%s: %s", p->dir, PV_INDEX_FILENAME, why);
    return st;
  }
  if (p->v.header.record_count != p->records || p->v.header.shard_count != p->shards ||
      p->v.header.dataset_id != p->dataset_id) {
    snprintf(err, cap, "%s: its index disagrees with its completion record", p->dir);
    return PV_ERR_CORRUPT;
  }
  pj(path, sizeof path, "%s/%s", p->dir, PV_REPORT_FILENAME);
  p->report = slurp(path, MAX_INDEX_BYTES, &p->report_len); /* may be absent */
  return PV_OK;
}

/* Rewrites the header and footer of the shard at path as global shard g
 * starting at record first (dataset id and record count checked), fsyncs,
 * and returns its new reference. Idempotent. Payload bytes are not read. */
static pv_status place_header(const char *path, uint32_t g, uint64_t first, uint64_t dataset_id,
                              uint32_t count, pv_shard_ref *ref, char *err, size_t cap) {
  int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    snprintf(err, cap, "%s: %s", path, strerror(errno));
    return PV_ERR_IO;
  }
  pv_status st = PV_ERR_CORRUPT;
  struct stat sb;
  uint8_t *m = MAP_FAILED;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
      (uint64_t)sb.st_size < PV_SHARD_HEADER_SIZE + PV_SHARD_FOOTER_SIZE) {
    snprintf(err, cap, "%s: not a shard", path);
    goto out;
  }
  m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) {
    snprintf(err, cap, "%s: cannot map: %s", path, strerror(errno));
    st = PV_ERR_IO;
    goto out;
  }
  pv_shard_header h;
  pv_shard_footer f;
  char why[256];
  uint64_t size = (uint64_t)sb.st_size;
  if ((st = pv_shard_header_decode(m, size, &h, NULL, why, sizeof why)) != PV_OK ||
      (st = pv_shard_footer_decode(m, size, &f, why, sizeof why)) != PV_OK) {
    snprintf(err, cap, "%s: %s", path, why);
    goto out;
  }
  if (h.dataset_id != dataset_id || h.record_count != count || f.record_count != count) {
    snprintf(err, cap, "%s: not the shard its part's index names (dataset or record count)", path);
    st = PV_ERR_CORRUPT;
    goto out;
  }
  if (h.shard_index != g || h.first_record != first || f.shard_index != g) {
    uint8_t hb[PV_SHARD_HEADER_SIZE], fb[PV_SHARD_FOOTER_SIZE];
    /* keep the header's other bytes (unused ones included) as written */
    h.shard_index = g;
    h.first_record = first;
    pv_shard_header_encode(&h, hb);
    f.shard_index = g;
    uint64_t hc = 0;
    if (pv_shard_header_decode(hb, sizeof hb, &h, &hc, why, sizeof why) != PV_OK) {
      snprintf(err, cap, "%s: %s", path, why);
      st = PV_ERR_CORRUPT;
      goto out;
    }
    f.header_checksum = hc;
    pv_shard_footer_encode(&f, fb);
    if (pwrite(fd, hb, sizeof hb, 0) != (ssize_t)sizeof hb ||
        pwrite(fd, fb, sizeof fb, (off_t)(size - sizeof fb)) != (ssize_t)sizeof fb ||
        fsync(fd) != 0) {
      snprintf(err, cap, "%s: cannot rewrite its header: %s", path, strerror(errno));
      st = PV_ERR_IO;
      goto out;
    }
    if ((st = pv_shard_footer_decode(m, size, &f, why, sizeof why)) != PV_OK) {
      snprintf(err, cap, "%s: %s", path, why);
      goto out;
    }
  }
  ref->file_size = size;
  ref->first_record = first;
  ref->record_count = count;
  ref->footer_checksum = f.footer_checksum;
  st = PV_OK;
out:
  if (m != MAP_FAILED) munmap(m, (size_t)sb.st_size);
  close(fd);
  return st;
}

static pv_status write_file_at(const char *dir, const char *name, const void *buf, size_t n,
                               char *err, size_t cap) {
  char path[4096];
  pj(path, sizeof path, "%s/%s", dir, name);
  unlink(path); /* ours: a name under parts/ only pvpack writes */
  int fd = pv__create_file(dir, name, err, cap);
  if (fd < 0) return PV_ERR_IO;
  uint64_t off = 0;
  pv_status st = pv__write_all(fd, buf, n, &off, err, cap);
  if (st != PV_OK) {
    close(fd);
    return st;
  }
  return pv__fsync_close(fd, err, cap);
}

pv_status pv_merge(const char *out_dir, pv_build_summary *summary, char *err, size_t errcap) {
  char ebuf[512] = "";
  if (!err) {
    err = ebuf;
    errcap = sizeof ebuf;
  }
  err[0] = 0;
  if (summary) memset(summary, 0, sizeof *summary);
  if (!out_dir) return PV_ERR_INVALID_ARG;
  if (strlen(out_dir) > PATH_CAP / 2) {
    snprintf(err, errcap, "output path longer than %d bytes", PATH_CAP / 2);
    return PV_ERR_LIMIT;
  }
  pv_status st = PV_OK;
  char parts[PATH_CAP], path[PATH_CAP], dst[PATH_CAP];
  pj(parts, sizeof parts, "%s/parts", out_dir);
  mpart *pp = NULL;
  uint32_t n = 0;
  pv_shard_ref *refs = NULL;
  const char **paths = NULL;
  uint32_t *labels = NULL;
  uint64_t *counts = NULL;
  char **cnames = NULL;
  char *pathbuf = NULL, *skipped = NULL, *options = NULL, *report = NULL;
  uint8_t *ixbuf = NULL;

  /* 1. which N: from the part directories present */
  DIR *d = opendir(parts);
  if (!d) {
    snprintf(err, errcap, "%s: %s (build the parts first: pvpack build --part K/N)", parts,
             strerror(errno));
    return errno == ENOENT ? PV_ERR_NOT_FOUND : PV_ERR_IO;
  }
  struct dirent *de;
  char first_name[256] = "";
  while ((de = readdir(d))) {
    unsigned k, nn;
    char tail;
    if (strchr(de->d_name, '.') || sscanf(de->d_name, "%u-of-%u%c", &k, &nn, &tail) != 2) continue;
    if (n == 0) {
      n = nn;
      pj(first_name, sizeof first_name, "%s", de->d_name);
    } else if (nn != n) {
      snprintf(err, errcap, "%s/%s is a part of %u parts, %s/%s of %u: parts of another N", parts,
               de->d_name, nn, parts, first_name, n);
      st = PV_ERR_INVALID_ARG;
    }
  }
  closedir(d);
  if (st != PV_OK) return st;
  if (n == 0 || n > PV_MAX_PARTS) {
    snprintf(err, errcap, "%s holds no complete part", parts);
    return PV_ERR_NOT_FOUND;
  }
  pj(path, sizeof path, "%s/%s", out_dir, PV_INDEX_FILENAME);
  struct stat sb;
  char marker[PATH_CAP];
  pj(marker, sizeof marker, "%s/%s", parts, MERGE_MARKER);
  if (lstat(path, &sb) == 0 && lstat(marker, &sb) == 0) {
    /* Killed after its index went into place: the dataset is complete (a
     * fresh merge refuses an OUT with an index, so this one is ours); only
     * the cleanup of step 5 is left. */
    for (uint32_t k = 0; k < n; k++) {
      char pd[PATH_CAP];
      pj(pd, sizeof pd, "%s/%u-of-%u", parts, k, n);
      pj(dst, sizeof dst, "%s/%s", pd, PART_RECORD);
      unlink(dst);
      pv__remove_dataset_dir(pd);
    }
    pv__parts_sweep(parts, n);
    pj(dst, sizeof dst, "%s/plan", parts);
    pv__remove_plan_dir(dst);
    unlink(marker);
    rmdir(parts);
    return PV_OK;
  }
  if (lstat(path, &sb) == 0) {
    snprintf(err, errcap, "%s already holds a dataset (%s)", out_dir, PV_INDEX_FILENAME);
    return PV_ERR_EXISTS;
  }
  if (!(pp = calloc(n, sizeof *pp))) return PV_ERR_NOMEM;
  uint64_t total = 0, nshards = 0, nskipped = 0;
  for (uint32_t k = 0; k < n; k++) {
    if ((st = read_part(parts, k, n, &pp[k], err, errcap)) != PV_OK) goto out;
    if (pp[k].fp != pp[0].fp || pp[k].dataset_id != pp[0].dataset_id || pp[k].jobs != pp[0].jobs) {
      snprintf(err, errcap,
               "%s is from another plan than %s (fingerprint %016" PRIx64 ", not %016" PRIx64
               "): the tree, the options or N changed between parts; rebuild it with --force",
               pp[k].dir, pp[0].dir, pp[k].fp, pp[0].fp);
      st = PV_ERR_INVALID_ARG;
      goto out;
    }
    uint64_t want_first = 0, want_end = 0;
    pv__plan_part(pp[0].jobs, k, n, &want_first, &want_end);
    if (pp[k].first != want_first || pp[k].end != want_end ||
        pp[k].records > pp[k].end - pp[k].first) {
      snprintf(err, errcap, "%s: its jobs [%" PRIu64 ", %" PRIu64 ") are not part %u of %u's", pp[k].dir,
               pp[k].first, pp[k].end, k, n);
      st = PV_ERR_CORRUPT;
      goto out;
    }
    if (pp[k].v.header.class_count != pp[0].v.header.class_count) {
      snprintf(err, errcap, "%s: other classes than %s", pp[k].dir, pp[0].dir);
      st = PV_ERR_CORRUPT;
      goto out;
    }
    total += pp[k].records;
    nshards += pp[k].shards;
    nskipped += pp[k].v.header.skipped_count;
  }
  if (nshards > PV_MAX_SHARDS) {
    snprintf(err, errcap, "%" PRIu64 " shards: more than %u", nshards, PV_MAX_SHARDS);
    st = PV_ERR_LIMIT;
    goto out;
  }
  if (total == 0) {
    snprintf(err, errcap, "the parts hold no record");
    st = PV_ERR_EMPTY;
    goto out;
  }

  /* 2. the marker */
  {
    char text[256];
    int len = snprintf(text, sizeof text, "pvpack merge 1\nplan %016" PRIx64 "\nparts %u\n",
                       pp[0].fp, n);
    pj(path, sizeof path, "%s/%s", parts, MERGE_MARKER);
    if (lstat(path, &sb) != 0) {
      /* A fresh merge: OUT must hold no dataset file yet (never overwrite
       * what pvpack did not write; a resumed merge's files are its own). */
      DIR *od = opendir(out_dir);
      if (!od) {
        snprintf(err, errcap, "%s: %s", out_dir, strerror(errno));
        st = PV_ERR_IO;
        goto out;
      }
      struct dirent *oe;
      while ((oe = readdir(od)))
        if (pv__is_dataset_file_name(oe->d_name)) {
          pj(err, errcap, "%s/%s exists already, and pvpack's merge did not write it", out_dir,
             oe->d_name);
          st = PV_ERR_EXISTS;
          break;
        }
      closedir(od);
      if (st != PV_OK) goto out;
      if ((st = write_file_at(parts, MERGE_MARKER, text, (size_t)len, err, errcap)) != PV_OK ||
          (st = pv__fsync_path(parts, NULL, err, errcap)) != PV_OK)
        goto out;
    }
  }

  /* 3. the shards */
  uint32_t classes = pp[0].v.header.class_count;
  if (!(refs = calloc(nshards ? nshards : 1, sizeof *refs)) ||
      !(paths = calloc(total, sizeof *paths)) || !(labels = calloc(total, sizeof *labels)) ||
      !(counts = calloc(classes ? classes : 1, sizeof *counts)) ||
      !(cnames = calloc(classes ? classes : 1, sizeof *cnames))) {
    st = PV_ERR_NOMEM;
    goto out;
  }
  uint32_t g = 0;
  uint64_t base = 0, pathbytes = 0, skipbytes = 0, reportbytes = 0;
  for (uint32_t k = 0; k < n; k++) {
    for (uint32_t j = 0; j < pp[k].shards; j++, g++) {
      pv_shard_ref r;
      pv_index_shard(&pp[k].v, j, &r);
      char name[32];
      snprintf(name, sizeof name, PV_SHARD_NAME_FMT, j);
      pj(path, sizeof path, "%s/%s", pp[k].dir, name);
      snprintf(name, sizeof name, PV_SHARD_NAME_FMT, g);
      pj(dst, sizeof dst, "%s/%s", out_dir, name);
      int have_src = lstat(path, &sb) == 0, have_dst = lstat(dst, &sb) == 0;
      if (have_src && have_dst) {
        snprintf(err, errcap, "%s exists already, and pvpack did not put it there", dst);
        st = PV_ERR_EXISTS;
        goto out;
      }
      const char *at = have_src ? path : dst;
      if (!have_src && !have_dst) {
        snprintf(err, errcap, "%s is gone (and not in %s)", path, out_dir);
        st = PV_ERR_NOT_FOUND;
        goto out;
      }
      if ((st = place_header(at, g, base + r.first_record, pp[0].dataset_id, r.record_count,
                             &refs[g], err, errcap)) != PV_OK)
        goto out;
      if (have_src && rename(path, dst) != 0) {
        snprintf(err, errcap, "cannot rename %s to %s: %s", path, dst, strerror(errno));
        st = PV_ERR_IO;
        goto out;
      }
    }
    for (uint64_t i = 0; i < pp[k].records; i++) {
      uint32_t len;
      pv_index_record_path(&pp[k].v, i, &len, &labels[base + i]);
      pathbytes += len + 1;
    }
    uint64_t sl = 0;
    pv_index_section_text(&pp[k].v, PV_SEC_SKIPPED, &sl);
    skipbytes += sl;
    reportbytes += pp[k].report_len;
    base += pp[k].records;
  }
  if ((st = pv__fsync_path(out_dir, NULL, err, errcap)) != PV_OK) goto out;

  /* 4. report.txt and index.pvi */
  if (!(pathbuf = malloc(pathbytes ? pathbytes : 1)) || !(skipped = malloc(skipbytes + 1)) ||
      !(report = malloc(reportbytes + 1))) {
    st = PV_ERR_NOMEM;
    goto out;
  }
  {
    uint64_t po = 0, so = 0, ro = 0, rec = 0;
    for (uint32_t k = 0; k < n; k++) {
      for (uint64_t i = 0; i < pp[k].records; i++, rec++) {
        uint32_t len, lab;
        const char *s = pv_index_record_path(&pp[k].v, i, &len, &lab);
        memcpy(pathbuf + po, s, len);
        pathbuf[po + len] = 0;
        paths[rec] = pathbuf + po;
        po += len + 1;
      }
      for (uint32_t c = 0; c < classes; c++) counts[c] += pv_index_class_records(&pp[k].v, c);
      uint64_t sl = 0;
      const char *s = pv_index_section_text(&pp[k].v, PV_SEC_SKIPPED, &sl);
      if (sl) memcpy(skipped + so, s, sl);
      so += sl;
      if (pp[k].report_len) memcpy(report + ro, pp[k].report, pp[k].report_len);
      ro += pp[k].report_len;
    }
    skipped[so] = 0;
    report[ro] = 0;
    for (uint32_t c = 0; c < classes; c++) {
      uint32_t len;
      const char *s = pv_index_class_name(&pp[0].v, c, &len);
      if (!(cnames[c] = malloc(len + 1))) {
        st = PV_ERR_NOMEM;
        goto out;
      }
      memcpy(cnames[c], s, len);
      cnames[c][len] = 0;
    }
    uint64_t ol = 0;
    const char *os = pv_index_section_text(&pp[0].v, PV_SEC_OPTIONS, &ol);
    if (!(options = malloc(ol + 1))) {
      st = PV_ERR_NOMEM;
      goto out;
    }
    memcpy(options, os, ol);
    options[ol] = 0;
    if (ro) {
      if ((st = write_file_at(parts, "merge-report.txt", report, ro, err, errcap)) != PV_OK) goto out;
      pj(path, sizeof path, "%s/merge-report.txt", parts);
      pj(dst, sizeof dst, "%s/%s", out_dir, PV_REPORT_FILENAME);
      if (rename(path, dst) != 0) {
        snprintf(err, errcap, "cannot rename %s to %s: %s", path, dst, strerror(errno));
        st = PV_ERR_IO;
        goto out;
      }
    }
  }
  {
    pv_index_input in = {0};
    in.dataset_id = pp[0].dataset_id;
    in.shard_count = g;
    in.shards = refs;
    in.class_count = classes;
    in.class_names = (const char *const *)cnames;
    in.class_record_counts = counts;
    in.record_count = total;
    in.record_paths = paths;
    in.record_labels = labels;
    in.options = options;
    in.skipped = skipped;
    in.skipped_count = nskipped;
    uint64_t isz = pv_index_encoded_size(&in);
    if (isz == 0) {
      snprintf(err, errcap, "index limits exceeded");
      st = PV_ERR_LIMIT;
      goto out;
    }
    if (!(ixbuf = malloc((size_t)isz))) {
      st = PV_ERR_NOMEM;
      goto out;
    }
    if ((st = pv_index_encode(&in, ixbuf, isz)) != PV_OK) goto out;
    if ((st = write_file_at(parts, "merge-index.pvi", ixbuf, (size_t)isz, err, errcap)) != PV_OK)
      goto out;
    pj(path, sizeof path, "%s/merge-index.pvi", parts);
    pj(dst, sizeof dst, "%s/%s", out_dir, PV_INDEX_FILENAME);
    if (rename(path, dst) != 0) {
      snprintf(err, errcap, "cannot rename %s to %s: %s", path, dst, strerror(errno));
      st = PV_ERR_IO;
      goto out;
    }
    if ((st = pv__fsync_path(out_dir, NULL, err, errcap)) != PV_OK) goto out;
    if (summary) {
      summary->images = total;
      summary->skipped = nskipped;
      summary->classes = classes;
      summary->shards = g;
      summary->bytes_out = isz;
      for (uint32_t s = 0; s < g; s++) summary->bytes_out += refs[s].file_size;
    }
  }

  /* 5. the parts are consumed: remove what pvpack wrote there */
  for (uint32_t k = 0; k < n; k++) {
    pj(path, sizeof path, "%s/%s", pp[k].dir, PART_RECORD);
    unlink(path);
    pv__remove_dataset_dir(pp[k].dir);
  }
  /* dead duplicate attempts of the parts (Spark speculation, retries): their
   * directories go too; a live one's stays, and that attempt discards its
   * copy (and removes parts/) when it finds the index */
  pv__parts_sweep(parts, n);
  pj(path, sizeof path, "%s/plan", parts); /* build --plan's files, when there */
  pv__remove_plan_dir(path);
  pj(path, sizeof path, "%s/%s", parts, MERGE_MARKER);
  unlink(path);
  rmdir(parts); /* only when empty */

out:
  for (uint32_t k = 0; pp && k < n; k++) {
    free(pp[k].ix);
    free(pp[k].dir);
    free(pp[k].report);
  }
  for (uint32_t c = 0; cnames && c < pp[0].v.header.class_count; c++) free(cnames[c]);
  free(cnames);
  free(pp);
  free(refs);
  free(paths);
  free(labels);
  free(counts);
  free(pathbuf);
  free(skipped);
  free(options);
  free(report);
  free(ixbuf);
  return st;
}
