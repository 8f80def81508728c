#!/usr/bin/env python3
"""pack_bench.py - packer and verify figures against same-run baselines.

usage: python3 bench/pack_bench.py --data DIR [--build BUILD_DIR] [--reps N]

On an ImageFolder (--data, required), measured in one run, each
figure the best of --reps runs (the machines are shared and noisy):
  - `pvpack build` images/s with 1 and 2 threads, and their ratio;
  - the ceiling: bench/pack_ceiling (read + decode + resize + encode only)
    on the same files and thread counts; packer / ceiling;
  - `pvpack verify` GB/s against reading the same shards once (cat > /dev/null);
  - output size / input size for each codec (jpeg, raw, zstd).
Needs a Release build with bench drivers: ./build.sh build
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time

EXTS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def files_of(root):
    out = []
    for c in sorted(e.name for e in os.scandir(root) if e.is_dir()):
        for d, _, fs in sorted(os.walk(os.path.join(root, c), followlinks=True)):
            out += [os.path.join(d, f) for f in sorted(fs) if f.lower().endswith(EXTS)]
    return out


def timed(cmd, **kw):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    el = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr}")
    return el, r.stdout


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="the ImageFolder tree to measure on")
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    pvpack = os.path.join(a.build, "pvpack")
    ceiling = os.path.join(a.build, "bench", "pack_ceiling")
    files = files_of(a.data)
    n = len(files)
    bytes_in = sum(os.path.getsize(f) for f in files)
    for f in files:  # warm the page cache: every run reads from memory
        with open(f, "rb") as fh:
            fh.read()
    tmp = tempfile.mkdtemp(prefix="pvbench-")
    lst = os.path.join(tmp, "files.txt")
    with open(lst, "w") as fh:
        fh.write("\n".join(os.path.abspath(f) for f in files) + "\n")
    out = os.path.join(tmp, "out")
    best = {}
    try:
        for _ in range(a.reps):  # interleave configurations against drift
            for t in (1, 2):
                el, _ = timed([pvpack, "build", a.data, "-o", out, "--threads", str(t), "--quiet", "--force"])
                best[("pack", t)] = min(best.get(("pack", t), 1e9), el)
                el, s = timed([ceiling, str(t), lst])
                sec = float(s.split("seconds=")[1].split()[0])
                best[("ceil", t)] = min(best.get(("ceil", t), 1e9), sec)
        # verify on the default (jpeg) build and on a raw build (10x the bytes,
        # so that process start-up weighs less in the ratio)
        out_raw = os.path.join(tmp, "out-raw")
        timed([pvpack, "build", a.data, "-o", out_raw, "--codec", "raw", "--quiet"])
        vres = {}
        for label, d in (("jpeg", out), ("raw", out_raw)):
            shards = sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".pvs"))
            nbytes = sum(os.path.getsize(x) for x in shards)
            b = {}
            for _ in range(a.reps):
                t0 = time.perf_counter()
                subprocess.run(["cat"] + shards, stdout=subprocess.DEVNULL, check=True)
                b["cat"] = min(b.get("cat", 1e9), time.perf_counter() - t0)
                t0 = time.perf_counter()
                r = subprocess.run([pvpack, "verify", d, "--json", "--threads", "2"],
                                   stdout=subprocess.PIPE, text=True, check=True)
                b["verify"] = min(b.get("verify", 1e9), time.perf_counter() - t0)
                b["inner"] = min(b.get("inner", 1e9), json.loads(r.stdout)["seconds"])
            vres[label] = (nbytes, b)
        shutil.rmtree(out_raw)
        sizes = {}
        for codec in ("jpeg", "raw", "zstd"):
            o2 = os.path.join(tmp, "c-" + codec)
            timed([pvpack, "build", a.data, "-o", o2, "--codec", codec, "--quiet"])
            sizes[codec] = sum(os.path.getsize(os.path.join(o2, f)) for f in os.listdir(o2)
                               if f.endswith((".pvs", ".pvi")))
            shutil.rmtree(o2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    p1, p2 = n / best[("pack", 1)], n / best[("pack", 2)]
    c1, c2 = n / best[("ceil", 1)], n / best[("ceil", 2)]
    print(f"data: {a.data}: {n} files, {bytes_in/1e6:.1f} MB; best of {a.reps} runs")
    print(f"pack   1 thread : {p1:8.1f} images/s   ceiling {c1:8.1f}/s   packer/ceiling {p1/c1:.2f}")
    print(f"pack   2 threads: {p2:8.1f} images/s   ceiling {c2:8.1f}/s   packer/ceiling {p2/c2:.2f}")
    print(f"scaling 2 threads / 1 thread: packer {p2/p1:.2f}x  ceiling {c2/c1:.2f}x")
    for label, (nbytes, b) in vres.items():
        gb = nbytes / 1e9
        print(f"verify {label:4s} {nbytes/1e6:7.1f} MB: {gb/b['verify']:.2f} GB/s whole command "
              f"({gb/b['inner']:.2f} GB/s inside); cat > /dev/null {gb/b['cat']:.2f} GB/s; "
              f"verify/cat {b['cat']/b['verify']:.2f} (inside {b['cat']/b['inner']:.2f})")
    for c, s in sizes.items():
        print(f"size  {c:5s}: {s/1e6:8.1f} MB  = {s/bytes_in:.3f} x input")


if __name__ == "__main__":
    main()
