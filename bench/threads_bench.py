#!/usr/bin/env python3
"""threads_bench.py - the C loader's scaling with its thread count, and its
behaviour oversubscribed (more threads than cores: a lock that every record
took, or a wake-up of every worker per record, shows there as a rate that
falls with the thread count), interleaved, medians.

Exact command (a Release build in BUILD; DS a packed dataset):

    python3 bench/threads_bench.py --build BUILD DS [--threads 1,2,4,8,16,32] [--reps 5]
                                   [--baseline OTHER_BUILD] [--size N]

For the lock alone, a dataset of tiny records whose decode costs ~1 us (so
that the loader's own synchronisation is most of the work):
    BUILD/tools/gen_dataset TINY --records 100000 --classes 10 --shards 1 --side 8
    python3 bench/threads_bench.py --build BUILD TINY --size 8 --baseline OLD_BUILD

Each rep runs, for every T of --threads (the order rotating every rep):
    BUILD/pvpack bench DS --threads T --epochs E --json
(train pipeline, RandomResizedCrop 224 + flip, batch 256, uint8 NHWC) and
it prints every rep, then per T the median images/s, the median of the
per-rep ratio to the first T (1 thread by default), the samples per lock
round trip (samples_per_claim: the workers claim runs of samples, see
reader/loader.c) and the CPUs this process may use. With --baseline, the
same command of OTHER_BUILD's pvpack runs right after each, and the median
of the per-run ratios BUILD / OTHER_BUILD is printed per T.
"""
import argparse, json, os, statistics, subprocess


def run(cmd):
    out = subprocess.run(cmd, stdout=subprocess.PIPE, check=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ds")
    ap.add_argument("--build", required=True)
    ap.add_argument("--threads", default="1,2,4,8,16,32")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--baseline", help="another build to compare with, run after each")
    a = ap.parse_args()
    ts = [int(t) for t in a.threads.split(",")]
    pv = os.path.join(a.build, "pvpack")
    got = {t: [] for t in ts}
    base = {t: [] for t in ts}
    claims = {t: [] for t in ts}
    for rep in range(a.reps):
        order = ts[rep % len(ts):] + ts[:rep % len(ts)]
        for t in order:
            args = ["bench", a.ds, "--threads", str(t), "--epochs", str(a.epochs), "--size",
                    str(a.size), "--json"]
            d = run([pv] + args)
            got[t].append(d["images_per_s"])
            claims[t].append(d.get("samples_per_claim", 0.0))
            if a.baseline:
                base[t].append(run([os.path.join(a.baseline, "pvpack")] + args)["images_per_s"])
        print("rep", rep, " ".join(f"T{t}={got[t][-1]:.0f}" for t in ts), flush=True)
    t0 = ts[0]
    print(f"{a.ds}: {a.reps} reps, {a.epochs} epochs each, CPUs usable: {len(os.sched_getaffinity(0))}")
    for t in ts:
        r = statistics.median(x / y for x, y in zip(got[t], got[t0]))
        print(f"  threads {t:3d}: median {statistics.median(got[t]):8.0f} images/s, "
              f"x{r:.3f} of {t0} thread(s), {statistics.median(claims[t]):.1f} samples per "
              "lock round trip" + (f"; baseline median {statistics.median(base[t]):8.0f}, "
                                   f"this / baseline x{statistics.median(x / y for x, y in zip(got[t], base[t])):.3f}"
                                   if a.baseline else ""), flush=True)


if __name__ == "__main__":
    main()
