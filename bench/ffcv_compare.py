#!/usr/bin/env python3
"""ffcv_compare.py - `pvpack bench` (the C loader) against FFCV's Loader, side by side,
on the same photos stored the same way, interleaved, medians.

Both sides: the photos stored at longer side 256, JPEG quality 90; RandomResizedCrop 224
(scale 0.08-1, ratio 3/4-4/3) + horizontal flip; batch 256; 2 threads / workers; uint8
NHWC out; page cache warm (every input file is read once before the first round).

    PYTHON bench/ffcv_compare.py --data DIR --pvpack BUILD/pvpack \
        --ffcv-python FFCV_PY --work TMP [--rounds 5] [--epochs 5]

It runs once (skipped when the output is already there):
    BUILD/pvpack build DIR -o TMP/pv --resize longer --size 256
    FFCV_PY ffcv_compare.py --ffcv-write DIR TMP/data.beton     (DatasetWriter with
        RGBImageField(write_mode='jpg', max_resolution=256, jpeg_quality=90) + IntField,
        num_workers=2)
then --rounds times, the order of the two swapped every round (ABBA...), each in a fresh
process:
  (p) BUILD/pvpack bench TMP/pv --threads 2 --batch 256 --size 224 --pipeline train
        --epochs E --json                      images/s as pvpack bench reports it
  (f) FFCV_PY ffcv_compare.py --ffcv-child TMP/data.beton: Loader(batch_size=256,
        num_workers=2, order=OrderOption.RANDOM, os_cache=True, drop_last=False,
        pipelines image: RandomResizedCropRGBImageDecoder((224, 224)),
        RandomHorizontalFlip(), ToTensor(); label: IntDecoder(), ToTensor());
        one warm-up epoch (numba compiles FFCV's pipeline in it), then E timed epochs:
        images/s = images of the timed epochs / their wall time (epoch starts included).
Peak RSS and CPU time of each child come from os.wait4 (FFCV's CPU time is also taken
over its timed epochs alone, with os.times(), since import and numba compiling are heavy). It prints every round, the medians, the ratio
of the medians and the median of the per-round ratios (both sides of a round run within
seconds of each other, so load from other jobs hits both alike).
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time


def ffcv_write(data, beton, workers):
    # The writer of python_bench.py (one home for how FFCV's copy is made).
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from python_bench import write_beton
    t0 = time.perf_counter()
    n = write_beton(data, beton, workers)
    el = time.perf_counter() - t0
    print(json.dumps({"images": n, "seconds": el, "images_per_s": n / el,
                      "bytes": os.path.getsize(beton)}))


def ffcv_child(beton, epochs, batch, workers, size, drop_last):
    from ffcv.fields.decoders import IntDecoder, RandomResizedCropRGBImageDecoder
    from ffcv.loader import Loader, OrderOption
    from ffcv.transforms import RandomHorizontalFlip, ToTensor

    t0 = time.perf_counter()
    ld = Loader(beton, batch_size=batch, num_workers=workers, order=OrderOption.RANDOM,
                os_cache=True, drop_last=drop_last,
                pipelines={"image": [RandomResizedCropRGBImageDecoder((size, size)),
                                     RandomHorizontalFlip(), ToTensor()],
                           "label": [IntDecoder(), ToTensor()]})
    t1 = time.perf_counter()
    for x, y in ld:  # warm-up: numba compiles the pipeline
        pass
    t2 = time.perf_counter()
    c2 = os.times()
    n = 0
    per_epoch = []
    for _ in range(epochs):
        te = time.perf_counter()
        for x, y in ld:
            n += x.shape[0]
        per_epoch.append(round(time.perf_counter() - te, 4))
    el = time.perf_counter() - t2
    c3 = os.times()
    cpu = (c3.user - c2.user) + (c3.system - c2.system)
    print(json.dumps({"images_per_s": n / el, "images": n, "seconds": el,
                      "cpu_s": cpu, "cores_busy": cpu / el, "create_s": t1 - t0, "warmup_epoch_s": t2 - t1, "epoch_s": per_epoch,
                      "batch_type": f"{type(x).__module__}.{type(x).__name__}",
                      "batch_dtype": str(x.dtype), "batch_shape": list(x.shape)}))


def run(cmd):
    """Runs cmd; returns (last stdout line as JSON, peak RSS in MB, error)."""
    t0 = time.time()
    with tempfile.TemporaryFile("w+") as ef:  # stderr to a file: no pipe to fill up
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=ef, text=True)
        out = p.stdout.read()
        p.stdout.close()
        # os.wait4 gives this child's own rusage (ru_maxrss in KB on Linux)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        ef.seek(0)
        errs = ef.read()
    if p.returncode != 0:
        return None, None, f"failed ({p.returncode}) after {time.time() - t0:.1f} s: " \
                           f"{' '.join(cmd)}\n{errs[-3000:]}"
    r = json.loads(out.strip().splitlines()[-1])
    r["proc_cpu_s"] = ru.ru_utime + ru.ru_stime  # the whole child process
    return r, ru.ru_maxrss / 1024, None


def warm(paths):
    for top in paths:
        if os.path.isfile(top):
            with open(top, "rb") as f:
                while f.read(1 << 24):
                    pass
            continue
        for d, _, fs in os.walk(top, followlinks=True):
            for fn in fs:
                with open(os.path.join(d, fn), "rb") as f:
                    while f.read(1 << 24):
                        pass


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", help="the ImageFolder tree")
    ap.add_argument("--pvpack", default=os.path.join(here, "..", "build", "pvpack"),
                    help="the pvpack binary (copy it first if others rebuild it)")
    ap.add_argument("--ffcv-python", default=sys.executable)
    ap.add_argument("--work", help="where TMP/pv and TMP/data.beton go (kept for reuse)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--ffcv-drop-last", action="store_true",
                    help="FFCV's default drop_last=True (pvpack bench keeps the last batch)")
    ap.add_argument("--json-out")
    ap.add_argument("--ffcv-child", metavar="BETON", help=argparse.SUPPRESS)
    ap.add_argument("--ffcv-write", nargs=2, metavar=("DATA", "BETON"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.ffcv_child:
        return ffcv_child(a.ffcv_child, a.epochs, a.batch, a.threads, a.size, a.ffcv_drop_last)
    if a.ffcv_write:
        return ffcv_write(a.ffcv_write[0], a.ffcv_write[1], a.threads)
    if not a.data or not a.work:
        ap.error("--data and --work are required")

    data, work, pvb = os.path.abspath(a.data), os.path.abspath(a.work), os.path.abspath(a.pvpack)
    os.makedirs(work, exist_ok=True)
    pv, beton = os.path.join(work, "pv"), os.path.join(work, "data.beton")
    me = [a.ffcv_python, os.path.abspath(__file__), "--threads", str(a.threads),
          "--batch", str(a.batch), "--size", str(a.size), "--epochs", str(a.epochs)]
    if a.ffcv_drop_last:
        me.append("--ffcv-drop-last")
    warm([data])
    writes = {}
    if not os.path.exists(os.path.join(pv, "index.pvi")):
        t0 = time.perf_counter()
        subprocess.run([pvb, "build", data, "-o", pv, "--resize", "longer", "--size", "256",
                        "--threads", str(a.threads), "--progress", "none"], check=True,
                       stdout=subprocess.DEVNULL)
        writes["pvpack_build_s"] = time.perf_counter() - t0
    if not os.path.exists(beton):
        r, rss, err = run(me + ["--ffcv-write", data, beton])
        if err:
            sys.exit(err)
        writes["ffcv_write"] = dict(r, peak_rss_mb=rss)
    if writes:
        print("writes:", json.dumps(writes), flush=True)
    warm([pv, beton])

    pv_cmd = [pvb, "bench", pv, "--threads", str(a.threads), "--batch", str(a.batch), "--size",
              str(a.size), "--pipeline", "train", "--epochs", str(a.epochs), "--json"]
    ff_cmd = me + ["--ffcv-child", beton]
    res = {"pvpack": [], "ffcv": []}
    ratios = []
    for i in range(a.rounds):
        order = [("pvpack", pv_cmd), ("ffcv", ff_cmd)]
        if i % 2:
            order.reverse()
        got = {}
        for k, cmd in order:
            r, rss, err = run(cmd)
            if err:
                print(f"round {i + 1} {k}: {err}", file=sys.stderr, flush=True)
                continue
            r["peak_rss_mb"] = rss
            res[k].append(r)
            got[k] = r["images_per_s"]
        if len(got) == 2:
            ratios.append(got["pvpack"] / got["ffcv"])
        print(f"round {i + 1}/{a.rounds}: " + ", ".join(f"{k} {v:8.1f} img/s" for k, v in
                                                           got.items()) +
              (f", ratio {ratios[-1]:.2f}x" if len(got) == 2 else ""), flush=True)

    def med(k, f="images_per_s"):
        v = [r[f] for r in res[k]]
        return statistics.median(v) if v else float("nan")

    print(f"ffcv_compare: {data}, longer side 256 q90, train {a.size}, batch {a.batch}, "
          f"{a.threads} threads/workers, {a.epochs} epochs per run, {a.rounds} rounds")
    for k, name in (("pvpack", "pvpack bench (C loader, uint8 NHWC)"),
                    ("ffcv", "FFCV Loader (uint8 NHWC, RANDOM, os_cache)")):
        v = " ".join(f"{r['images_per_s']:.0f}" for r in res[k])
        print(f"  {name:44s} median {med(k):8.1f} img/s  runs [{v}]  "
              f"peak RSS median {med(k, 'peak_rss_mb'):.0f} MB")
    if res["pvpack"] and res["ffcv"]:  # CPU time per image: less hit by other jobs than img/s
        pv_us = statistics.median(1e6 * r["proc_cpu_s"] / r["images"] for r in res["pvpack"])
        ff_us = statistics.median(1e6 * r["cpu_s"] / r["images"] for r in res["ffcv"])
        print(f"  CPU time per image (median): pvpack bench {pv_us:.0f} us (whole process), "
              f"FFCV {ff_us:.0f} us (timed epochs only; {ff_us / pv_us:.2f}x); "
              f"FFCV cores busy in its timed epochs: median "
              f"{statistics.median(r['cores_busy'] for r in res['ffcv']):.2f}")
    if ratios:
        print(f"  pvpack / FFCV: ratio of medians {med('pvpack') / med('ffcv'):.2f}x, "
              f"median per-round ratio {statistics.median(ratios):.2f}x "
              f"(range {min(ratios):.2f}..{max(ratios):.2f})")
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"writes": writes, "results": res, "ratios": ratios}, f, indent=1)
    return 0 if res["pvpack"] and res["ffcv"] else 1


if __name__ == "__main__":
    sys.exit(main())
