/* cpus.c - see cpus.h. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_ALLOC */
#include "cpus.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PV_CPUS_MAX (1 << 20)
#define CGROUP_ROOT "/sys/fs/cgroup"

/* A decimal without sign, leading '+', spaces or trailing junk; at most
 * 18 digits so it cannot overflow. Returns 1 on success. */
static int parse_dec(const char *s, size_t n, uint64_t *v) {
  if (n == 0 || n > 18) return 0;
  uint64_t x = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return 0;
    x = x * 10 + (uint64_t)(s[i] - '0');
  }
  *v = x;
  return 1;
}

static size_t strip_newline(const char *s, size_t n) {
  return n > 0 && s[n - 1] == '\n' ? n - 1 : n;
}

static int quota_cpus(uint64_t quota, uint64_t period) {
  if (quota == 0 || period == 0) return -1;
  uint64_t c = quota / period + (quota % period != 0);
  return c > PV_CPUS_MAX ? PV_CPUS_MAX : (int)c;
}

int pv__cgroup_cpu_max_parse(const char *text, size_t len) {
  if (!text) return -1;
  len = strip_newline(text, len);
  const char *sp = memchr(text, ' ', len);
  if (!sp) return -1;
  size_t qn = (size_t)(sp - text);
  const char *p = sp + 1;
  size_t pn = len - qn - 1;
  uint64_t period, quota;
  if (!parse_dec(p, pn, &period) || period == 0) return -1;
  if (qn == 3 && !memcmp(text, "max", 3)) return 0;
  if (!parse_dec(text, qn, &quota)) return -1;
  return quota_cpus(quota, period);
}

int pv__cgroup_cfs_parse(const char *quota, size_t qlen, const char *period, size_t plen) {
  if (!quota || !period) return -1;
  qlen = strip_newline(quota, qlen);
  plen = strip_newline(period, plen);
  uint64_t p, q;
  if (!parse_dec(period, plen, &p) || p == 0) return -1;
  if (qlen == 2 && !memcmp(quota, "-1", 2)) return 0;
  if (!parse_dec(quota, qlen, &q)) return -1;
  return quota_cpus(q, p);
}

/* Reads a whole small file into buf (cap bytes); returns its length, or -1
 * when it is missing, unreadable, or does not fit. */
static long read_small(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return -1;
  size_t got = 0;
  for (;;) {
    if (got == cap) {
      got = cap + 1; /* too long */
      break;
    }
    ssize_t r = read(fd, buf + got, cap - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      got = cap + 1;
      break;
    }
    if (r == 0) break;
    got += (size_t)r;
  }
  close(fd);
  return got > cap ? -1 : (long)got;
}

/* Smallest quota (in CPUs) over the cgroup at `rel` under `mount` and every
 * cgroup above it; 0 when none sets one. v2 reads cpu.max, v1 the two cfs
 * files. */
static int quota_up_the_tree(const char *mount, const char *rel, size_t rel_len, int v2) {
  char path[4096], a[64], b[64];
  int best = 0;
  for (int depth = 0; depth < 256; depth++) {
    const char *f1 = v2 ? "cpu.max" : "cpu.cfs_quota_us";
    int n = snprintf(path, sizeof path, "%s%.*s/%s", mount, (int)rel_len, rel, f1);
    if (n > 0 && (size_t)n < sizeof path) {
      long la = read_small(path, a, sizeof a), lb = -1;
      int c = -1;
      if (v2 && la >= 0) {
        c = pv__cgroup_cpu_max_parse(a, (size_t)la);
      } else if (la >= 0) {
        snprintf(path, sizeof path, "%s%.*s/cpu.cfs_period_us", mount, (int)rel_len, rel);
        lb = read_small(path, b, sizeof b);
        if (lb >= 0) c = pv__cgroup_cfs_parse(a, (size_t)la, b, (size_t)lb);
      }
      if (c > 0 && (best == 0 || c < best)) best = c;
    }
    if (rel_len == 0) break;
    while (rel_len > 0 && rel[rel_len - 1] != '/') rel_len--; /* parent */
    if (rel_len > 0) rel_len--;                                /* its '/' */
  }
  return best;
}

/* Does the comma-separated controller list c (n bytes) name "cpu"? */
static int names_cpu(const char *c, size_t n) {
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && c[j] != ',') j++;
    if (j - i == 3 && !memcmp(c + i, "cpu", 3)) return 1;
    i = j + 1;
  }
  return 0;
}

int pv__cgroup_cpus_from(const char *buf, size_t size, const char *root) {
  long n = (long)size;
  int best = 0;
  char mounts[3][512];
  snprintf(mounts[0], sizeof mounts[0], "%s/cpu", root);
  snprintf(mounts[1], sizeof mounts[1], "%s/cpu,cpuacct", root);
  snprintf(mounts[2], sizeof mounts[2], "%s/cpuacct,cpu", root);
  for (long i = 0; buf && n > 0 && i < n;) {
    const char *line = buf + i;
    const char *nl = memchr(line, '\n', (size_t)(n - i));
    size_t len = nl ? (size_t)(nl - line) : (size_t)(n - i);
    i += (long)len + 1;
    /* "ID:CONTROLLERS:PATH" */
    const char *c1 = memchr(line, ':', len);
    const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
    if (!c2) continue;
    const char *path = c2 + 1, *ctl = c1 + 1;
    size_t plen = len - (size_t)(path - line), clen = (size_t)(c2 - ctl);
    if (plen == 0 || path[0] != '/' || memmem(path, plen, "/..", 3)) continue;
    if (plen == 1) plen = 0; /* the root: "" so that mount + "" + "/file" */
    int c = 0;
    if (c1 - line == 1 && line[0] == '0' && clen == 0) {
      c = quota_up_the_tree(root, path, plen, 1);
    } else if (names_cpu(ctl, clen)) {
      for (size_t m = 0; m < 3 && c == 0; m++) c = quota_up_the_tree(mounts[m], path, plen, 0);
    }
    if (c > 0 && (best == 0 || c < best)) best = c;
  }
  return best;
}

/* The CPU limit of the cgroup quotas that apply to this process; 0 = none. */
static int cgroup_cpus(void) {
  enum { CAP = 64 * 1024 };
  char *buf = malloc(CAP);
  if (!buf) return 0;
  long n = read_small("/proc/self/cgroup", buf, CAP);
  int best = n > 0 ? pv__cgroup_cpus_from(buf, (size_t)n, CGROUP_ROOT) : 0;
  free(buf);
  return best;
}

static int affinity_cpus(void) {
  for (int ncpu = 1024; ncpu <= PV_CPUS_MAX; ncpu *= 2) {
    cpu_set_t *set = CPU_ALLOC((size_t)ncpu);
    if (!set) return 0;
    size_t sz = CPU_ALLOC_SIZE((size_t)ncpu);
    CPU_ZERO_S(sz, set);
    if (sched_getaffinity(0, sz, set) == 0) {
      int c = CPU_COUNT_S(sz, set);
      CPU_FREE(set);
      return c;
    }
    int e = errno;
    CPU_FREE(set);
    if (e != EINVAL) return 0; /* EINVAL: the kernel's mask is larger */
  }
  return 0;
}

int pv__available_cpus(void) {
  int n = affinity_cpus();
  if (n <= 0) {
    long s = sysconf(_SC_NPROCESSORS_ONLN);
    n = s > 0 ? (s > PV_CPUS_MAX ? PV_CPUS_MAX : (int)s) : 1;
  }
  int q = cgroup_cpus();
  if (q > 0 && q < n) n = q;
  return n < 1 ? 1 : n;
}
