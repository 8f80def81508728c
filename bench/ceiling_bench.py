#!/usr/bin/env python3
"""ceiling_bench.py - issue 13's loader figures against the same-run
full-decode ceilings, and thread scaling, interleaved, medians.

Exact command (a Release build in BUILD, e.g. `cmake -S . -B BUILD
-DCMAKE_BUILD_TYPE=Release && cmake --build BUILD -j2`; DS one or more
packed datasets, e.g. `BUILD/pvpack build PHOTOS -o DS --resize longer
--size 256`):

    python3 bench/ceiling_bench.py --build BUILD DS [DS ...] [--reps 5] [--threads 2]

For each DS, each rep runs back to back (the order rotates every rep):
  (acc)   BUILD/pvpack bench DS --threads T --epochs E --jpeg-decode accurate --json
  (fast)  BUILD/pvpack bench DS --threads T --epochs E --jpeg-decode fast --json
  (fast1) the same with --threads 1                         (thread scaling)
  (ceil)  BUILD/bench/decode_ceiling DS T E accurate        (TurboJPEG, flags 0)
  (ceilf) BUILD/bench/decode_ceiling DS T E fast            (FASTDCT|FASTUPSAMPLE)
The train pipeline (RandomResizedCrop 224 + flip, batch 256, uint8 NHWC)
throughout. It prints every rep, the median rate of each and the medians of
the per-rep ratios: acc/ceil, fast/ceil, fast/ceilf, fast/acc and
fast(T)/fast1 (runs seconds apart, which other load on the machine hits
alike), and the same ratios of images per CPU-second of each child (user +
system time: what the work costs, less sensitive than wall time to other
load on a shared machine; the loader's process includes its open and its
consumer thread).
"""
import argparse, json, os, resource, statistics, subprocess


CPU = {}  # cmd name -> list of images per CPU-second (user + system of the child)


def child(cmd):
    """Runs cmd; its stdout and the CPU seconds it used (getrusage of children)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, stdout=subprocess.PIPE, check=True, text=True).stdout
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return out, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def pv_rate(cmd):
    out, cpu = child(cmd)
    d = json.loads(out.strip().splitlines()[-1])
    return d["images_per_s"], d["images"] / cpu


def ceil_rate(cmd):
    out, cpu = child(cmd)
    kv = dict(f.split("=", 1) for f in out.split())
    return float(kv["images_per_s"]), float(kv["images"]) / cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ds", nargs="+")
    ap.add_argument("--build", required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    pv = os.path.join(a.build, "pvpack")
    ceil = os.path.join(a.build, "bench", "decode_ceiling")
    T, E = str(a.threads), str(a.epochs)
    for ds in a.ds:
        runs = {
            "acc": lambda: pv_rate([pv, "bench", ds, "--threads", T, "--epochs", E,
                                    "--jpeg-decode", "accurate", "--json"]),
            "fast": lambda: pv_rate([pv, "bench", ds, "--threads", T, "--epochs", E,
                                     "--jpeg-decode", "fast", "--json"]),
            "fast1": lambda: pv_rate([pv, "bench", ds, "--threads", "1", "--epochs", E,
                                      "--jpeg-decode", "fast", "--json"]),
            "ceil": lambda: ceil_rate([ceil, ds, T, E, "accurate"]),
            "ceilf": lambda: ceil_rate([ceil, ds, T, E, "fast"]),
        }
        names = list(runs)
        got = {k: [] for k in names}
        cpu = {k: [] for k in names}
        for rep in range(a.reps):
            order = names[rep % len(names):] + names[:rep % len(names)]
            for k in order:
                wall, per_cpu = runs[k]()
                got[k].append(wall)
                cpu[k].append(per_cpu)
            print(ds, "rep", rep, " ".join(f"{k}={got[k][-1]:.0f}" for k in names), flush=True)
        med = {k: statistics.median(v) for k, v in got.items()}

        def ratio(x, y):
            return statistics.median(p / q for p, q in zip(got[x], got[y]))

        print(f"{ds}: medians (images/s, {a.threads} threads, {a.reps} reps): " +
              " ".join(f"{k}={med[k]:.0f}" for k in names))
        print(f"{ds}: ratios (median of per-rep): acc/ceil={ratio('acc', 'ceil'):.3f} "
              f"fast/ceil={ratio('fast', 'ceil'):.3f} fast/ceilf={ratio('fast', 'ceilf'):.3f} "
              f"fast/acc={ratio('fast', 'acc'):.3f} ceilf/ceil={ratio('ceilf', 'ceil'):.3f} "
              f"fast/fast1={ratio('fast', 'fast1'):.3f}", flush=True)

        def cratio(x, y):
            return statistics.median(p / q for p, q in zip(cpu[x], cpu[y]))

        print(f"{ds}: per CPU-second (images / (user + system s), median of per-rep ratios): "
              f"acc/ceil={cratio('acc', 'ceil'):.3f} fast/ceil={cratio('fast', 'ceil'):.3f} "
              f"fast/ceilf={cratio('fast', 'ceilf'):.3f} fast/acc={cratio('fast', 'acc'):.3f}",
              flush=True)


if __name__ == "__main__":
    main()
