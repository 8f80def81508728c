#!/usr/bin/env python3
"""parts_bench.py - what splitting a build into N parts costs, measured in one run.

usage: python3 bench/parts_bench.py --data DIR [--parts 4] [--reps 5] [--build BUILD_DIR]
                                    [--plan | --no-plan]

On an ImageFolder (--data, required), interleaved, --reps rounds (the first, a
cold cache, is dropped), each figure the median:
  A. one build at --threads 1, against the N parts one after another at
     --threads 1 (with the plan step first unless --no-plan), then merge:
     wall time and CPU time (user + sys of the children) -> the total work
     overhead of splitting (target <= 5%);
  B. one build at --threads 2, against the N parts running at once at
     --threads 1 each (after the plan step unless --no-plan), then merge:
     the speed ratio (target >= 0.95x on 2 cores).
Also checks that the merged dataset has the one-machine build's records
(`pvpack verify` clean, same record count). Needs a Release build: ./build.sh build
"""
import argparse, os, resource, shutil, statistics, subprocess, sys, tempfile, time


def run_all(cmds):
    """Runs the commands (lists) at once; returns (wall s, children's CPU s)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for c in cmds]
    for p, c in zip(procs, cmds):
        _, err = p.communicate()
        if p.returncode != 0:
            sys.exit(f"failed: {' '.join(c)}\n{err.decode()}")
    el = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return el, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--parts", type=int, default=4)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--no-plan", dest="plan", action="store_false")
    a = ap.parse_args()
    pv = os.path.abspath(os.path.join(a.build, "pvpack"))
    src = os.path.abspath(a.data)
    n = a.parts
    work = tempfile.mkdtemp(prefix="pv-parts-bench-")
    base = ["--quiet", "--threads", "1"]

    def whole(threads):
        out = os.path.join(work, "whole")
        shutil.rmtree(out, ignore_errors=True)
        return run_all([[pv, "build", src, "-o", out, "--quiet", "--threads", str(threads)]])

    def split(at_once):
        out = os.path.join(work, "split")
        shutil.rmtree(out, ignore_errors=True)
        wall = cpu = 0.0
        if a.plan:
            w, c = run_all([[pv, "build", src, "-o", out, "--parts", str(n), "--plan"] + base])
            wall, cpu = wall + w, cpu + c
        cmds = [[pv, "build", src, "-o", out, "--part", f"{k}/{n}"] + base for k in range(n)]
        if at_once:
            w, c = run_all(cmds)
            wall, cpu = wall + w, cpu + c
        else:
            for cmd in cmds:
                w, c = run_all([cmd])
                wall, cpu = wall + w, cpu + c
        w, c = run_all([[pv, "merge", out]])
        return wall + w, cpu + c

    A1, A2, B1, B2 = [], [], [], []
    try:
        for rep in range(a.reps + 1):
            r = [whole(1), split(False), whole(2), split(True)]
            if rep == 0:
                continue  # cold cache
            A1.append(r[0]); A2.append(r[1]); B1.append(r[2]); B2.append(r[3])
            print(f"rep {rep}: whole@1 {r[0][0]:.2f} s ({r[0][1]:.2f} cpu), {n} parts seq "
                  f"{r[1][0]:.2f} s ({r[1][1]:.2f} cpu); whole@2 {r[2][0]:.2f} s, {n} parts at "
                  f"once {r[3][0]:.2f} s", flush=True)
        v = subprocess.run([pv, "verify", os.path.join(work, "split")], capture_output=True,
                           text=True)
        if v.returncode != 0:
            sys.exit("verify of the merged dataset failed:\n" + v.stdout + v.stderr)
        med = lambda xs, i: statistics.median(x[i] for x in xs)
        print(f"A. {n} parts one after another at 1 thread{' (+ plan)' if a.plan else ''} + merge "
              f"vs one build at 1 thread: wall {med(A2, 0):.2f} vs {med(A1, 0):.2f} s "
              f"(overhead {100 * (med(A2, 0) / med(A1, 0) - 1):+.1f}%), CPU {med(A2, 1):.2f} vs "
              f"{med(A1, 1):.2f} s (overhead {100 * (med(A2, 1) / med(A1, 1) - 1):+.1f}%)")
        print(f"B. {n} parts at once at 1 thread each{' (after the plan)' if a.plan else ''} + "
              f"merge vs one build at 2 threads: {med(B2, 0):.2f} vs {med(B1, 0):.2f} s "
              f"({med(B1, 0) / med(B2, 0):.2f}x)")
        print("verify of the merged dataset: clean")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
