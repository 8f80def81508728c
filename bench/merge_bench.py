#!/usr/bin/env python3
"""merge_bench.py - `pvpack merge` at scale: a synthetic tree of --records tiny
JPEG files packed as --parts parts, then merged; time and peak memory.

usage: python3 bench/merge_bench.py --work DIR [--records 1000000] [--parts 64]
                                    [--classes 1000] [--build BUILD_DIR] [--jobs J]
                                    [--reps 3]

--work DIR is this benchmark's scratch space (it needs ~5 GB for 1M files):
DIR/src (the tree: --classes folders of one 8x8 JPEG each, every file with its
own bytes, written once and reused by later runs), DIR/out.parts (the parts, built
once per run) and DIR/out (a copy of them, merged). The files are tiny and kept byte for byte
(--resize none, the default --codec jpeg keeps a source JPEG that needs no
resize), so the parts cost little beyond the listing, and the merge sees a
real index of --records paths, the part of its work that grows with the
dataset (it never reads a payload byte).

Reported, measured in this run:
  - the tree's listing: `pvpack build --part 0/N` of one part (listing the
    whole tree, planning it, packing 1/N of it), and the mean time of a part;
  - `pvpack merge OUT` (median of --reps; the parts are built once into
    DIR/out.parts and each merge runs on a fresh copy of them): wall time and peak RSS (ru_maxrss of the
    child), against the size of the index it writes;
  - `pvpack verify OUT` passes on the merged dataset (checked once).
"""
import argparse, os, resource, shutil, statistics, struct, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor

# An 8x8 baseline JPEG (quality 90, 4:2:0) with a COM segment: the
# generator writes the record number into the comment so every file differs.
_SOI = b"\xff\xd8"


def tiny_jpeg() -> bytes:
    try:
        from PIL import Image
        import io
        b = io.BytesIO()
        Image.new("RGB", (8, 8), (90, 140, 200)).save(b, "JPEG", quality=90)
        return b.getvalue()
    except ImportError:
        sys.exit("merge_bench: needs PIL (python3-pil) to make its one source JPEG")


def make_tree(src: str, records: int, classes: int) -> None:
    mark = os.path.join(src, ".complete-%d-%d" % (records, classes))
    if os.path.exists(mark):
        return
    if os.path.exists(src):
        shutil.rmtree(src)
    base = tiny_jpeg()
    assert base.startswith(_SOI)
    t = time.perf_counter()
    for c in range(classes):
        os.makedirs(os.path.join(src, "c%04d" % c))
    for i in range(records):
        c = i % classes
        com = b"pvpack merge_bench %010d" % i
        data = _SOI + b"\xff\xfe" + struct.pack(">H", len(com) + 2) + com + base[2:]
        with open(os.path.join(src, "c%04d" % c, "%09d.jpg" % i), "wb") as f:
            f.write(data)
    open(mark, "w").close()
    print("tree: %d files in %d classes written in %.1f s" % (records, classes,
                                                             time.perf_counter() - t))


def run(cmd, **kw):
    """(wall seconds, child's peak RSS in MiB); exits on failure."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    _, status, ru = os.wait4(p.pid, 0)
    el = time.perf_counter() - t
    out, err = p.stdout.read(), p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit("failed (%d): %s\n%s%s" % (p.returncode, " ".join(cmd), out.decode(), err.decode()))
    return el, ru.ru_maxrss / 1024.0


def build_parts(pvpack, src, out, n, jobs):
    if os.path.exists(out):
        shutil.rmtree(out)
    opts = ["--resize", "none", "--quiet", "--threads", "1"]
    first, _ = run([pvpack, "build", src, "-o", out, "--part", "0/%d" % n] + opts)
    t = time.perf_counter()
    with ThreadPoolExecutor(jobs) as ex:
        times = list(ex.map(lambda k: run([pvpack, "build", src, "-o", out, "--part",
                                           "%d/%d" % (k, n)] + opts)[0], range(1, n)))
    return first, times, time.perf_counter() - t


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True, help="scratch directory (~5 GB for 1M records)")
    ap.add_argument("--records", type=int, default=1000000)
    ap.add_argument("--parts", type=int, default=64)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    pvpack = os.path.abspath(os.path.join(a.build, "pvpack"))
    src = os.path.join(os.path.abspath(a.work), "src")
    out = os.path.join(os.path.abspath(a.work), "out")
    make_tree(src, a.records, a.classes)
    pristine = out + ".parts"
    first, times, wall = build_parts(pvpack, src, pristine, a.parts, a.jobs)
    print("part 0/%d (lists %d files, packs 1/%d): %.2f s; the other parts: mean %.2f s, "
          "%d at a time in %.1f s" % (a.parts, a.records, a.parts, first,
                                      statistics.mean(times) if times else 0, a.jobs, wall))
    merges, rss = [], []
    for rep in range(a.reps):
        # a fresh copy of the parts for each merge (merge consumes them; a
        # copy, not hard links: merge rewrites shard headers in place)
        if os.path.exists(out):
            shutil.rmtree(out)
        shutil.copytree(pristine, out)
        subprocess.run(["sync"], check=True)
        el, peak = run([pvpack, "merge", out])
        merges.append(el)
        rss.append(peak)
        ix = os.path.getsize(os.path.join(out, "index.pvi"))
        shards = len([f for f in os.listdir(out) if f.endswith(".pvs")])
        print("rep %d: merge %.3f s, peak RSS %.1f MiB; index %.1f MiB, %d shards"
              % (rep, el, peak, ix / 2**20, shards))
        if rep == 0:
            v, vpeak = run([pvpack, "verify", out])
            print("verify: clean in %.2f s (peak RSS %.1f MiB)" % (v, vpeak))
    print("merge of %d records in %d parts: median %.3f s (min %.3f, max %.3f), peak RSS "
          "median %.1f MiB, index %.1f MiB (RSS / index = %.2f)"
          % (a.records, a.parts, statistics.median(merges), min(merges), max(merges),
             statistics.median(rss), ix / 2**20, statistics.median(rss) / (ix / 2**20)))


if __name__ == "__main__":
    main()
