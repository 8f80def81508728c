/* cpus.h - how many CPUs this process may use (internal to platform/, used by
 * pack/ and reader/).
 *
 * The default thread count of the packer, verify and the loader: the CPUs of
 * this thread's affinity mask (sched_getaffinity, e.g. `taskset -c 0`),
 * capped by the cgroup CPU quota (v2 cpu.max, or v1 cpu.cfs_quota_us /
 * cpu.cfs_period_us) of this process's cgroup and of every cgroup above it,
 * as ceil(quota / period). Never less than 1.
 *
 * Depends on: libc (Linux sched_getaffinity; /proc and /sys/fs/cgroup when
 * present). Thread-safety: reentrant; each call re-reads the mask and the
 * cgroup files (a few small reads), so call it once per pool, not per task.
 */
#ifndef PV_CPUS_H
#define PV_CPUS_H

#include <stddef.h>

/* The number of CPUs this process may use (see above), >= 1. Files that are
 * missing, unreadable or not in the expected form are ignored. */
int pv__available_cpus(void);

/* Parses the text of a cgroup v2 cpu.max file ("QUOTA PERIOD" or
 * "max PERIOD", one optional trailing newline, nothing else; both numbers
 * decimal without sign, PERIOD >= 1, QUOTA >= 1). Returns ceil(QUOTA /
 * PERIOD) (at least 1, at most 1 << 20) for a quota, 0 for "max" (no
 * limit), -1 for anything else. text need not be NUL-terminated. */
int pv__cgroup_cpu_max_parse(const char *text, size_t len);

/* The same for cgroup v1: the texts of cpu.cfs_quota_us ("-1" = no limit,
 * else a positive decimal) and cpu.cfs_period_us (a positive decimal), each
 * with one optional trailing newline. Returns as pv__cgroup_cpu_max_parse. */
int pv__cgroup_cfs_parse(const char *quota, size_t qlen, const char *period, size_t plen);

/* The quota part of pv__available_cpus, given the text of
 * /proc/self/cgroup (size bytes) and the cgroup file system's mount point
 * (root, "/sys/fs/cgroup"): the smallest limit, in CPUs, of the cgroup of
 * each line and of every cgroup above it, read from ROOT/PATH/cpu.max for
 * the v2 line ("0::PATH"), and for a v1 line naming the cpu controller
 * from cpu.cfs_quota_us and cpu.cfs_period_us under PATH in the first of
 * ROOT/cpu, ROOT/cpu,cpuacct and ROOT/cpuacct,cpu that sets a limit.
 * 0 when none sets a limit; lines and files not in the expected form are
 * ignored. Exposed so tests can point it at a fake tree. */
int pv__cgroup_cpus_from(const char *text, size_t size, const char *root);

#endif
