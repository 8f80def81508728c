#!/usr/bin/env python3
"""dtype_bench.py - issue 13's float32 figures, interleaved, in one run:
the C loader's float32 NCHW normalized rate against its uint8 NHWC rate, and
the Python binding's default path (float32 NCHW, numpy output) against the C
loader with the same options.

Exact command (a Release build with the binding, e.g. `BUILD_DIR=BUILD
./build.sh build`; DS an already packed dataset, e.g. `BUILD/pvpack build
PHOTOS -o DS --resize longer --size 256`):

    PYTHONPATH=BUILD/python /usr/bin/python3 bench/dtype_bench.py --build BUILD DS [--reps 5]

Each rep runs, back to back, in child processes (the order rotating every rep,
so that none is always first or last):
  (u8)  BUILD/pvpack bench DS --threads T --epochs E --json
  (f32) BUILD/pvpack bench DS --threads T --epochs E --dtype float32 --layout nchw --json
  (py)  pvpack.Loader(DS, batch_size=256, size=224, pipeline='train', threads=T,
                      output='numpy') (dtype float32, layout NCHW: the defaults),
        E epochs, images/s from after the loader's creation to the last batch
        (pvpack bench's clock also starts after the open and ends at the last batch).
It prints every rep and the medians of the rates and of the per-rep ratios
f32/u8 and py/f32 (the ratios of runs seconds apart, which other load on the
machine hits alike).
"""
import argparse, json, os, statistics, subprocess, sys, time


def py_child(ds, epochs, threads):
    import pvpack
    ld = pvpack.Loader(ds, batch_size=256, size=224, pipeline="train", threads=threads,
                       output="numpy", rank=0, world_size=1)
    t1 = time.perf_counter()
    n = 0
    for _ in range(epochs):
        for x, y in ld:
            n += x.shape[0]
    el = time.perf_counter() - t1
    assert str(x.dtype) == "float32" and x.shape[1] == 3, (x.dtype, x.shape)
    print(json.dumps({"images_per_s": n / el}))


def rate(cmd):
    out = subprocess.run(cmd, stdout=subprocess.PIPE, check=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["images_per_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ds")
    ap.add_argument("--build", required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--py-child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.py_child:
        py_child(a.ds, a.epochs, a.threads)
        return
    pv = os.path.join(a.build, "pvpack")
    base = [pv, "bench", a.ds, "--threads", str(a.threads), "--epochs", str(a.epochs), "--json"]
    py = [sys.executable, os.path.abspath(__file__), a.ds, "--build", a.build, "--py-child",
          "--epochs", str(a.epochs), "--threads", str(a.threads)]
    rows = []
    cmds = [base, base + ["--dtype", "float32", "--layout", "nchw"], py]
    for r in range(a.reps):
        got = [0.0] * 3
        for i in [(r + j) % 3 for j in range(3)]:  # the order rotates every rep
            got[i] = rate(cmds[i])
        u8, f32, p = got
        rows.append((u8, f32, p))
        print(f"rep {r + 1}: u8 {u8:.0f}  f32 nchw {f32:.0f}  python f32 nchw {p:.0f}  "
              f"f32/u8 {f32 / u8:.3f}  py/f32 {p / f32:.3f}", flush=True)
    med = lambda i: statistics.median(x[i] for x in rows)
    print(f"median images/s: u8 {med(0):.0f}, f32 nchw {med(1):.0f}, python f32 nchw {med(2):.0f}")
    print(f"median of per-rep ratios: f32/u8 {statistics.median(x[1] / x[0] for x in rows):.3f}, "
          f"python/C (float32 NCHW) {statistics.median(x[2] / x[1] for x in rows):.3f}")


if __name__ == "__main__":
    main()
