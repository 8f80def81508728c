#!/usr/bin/env python3
"""python_bench.py - the Python binding against `pvpack bench`, torchvision's
DataLoader and (when it is installed) FFCV, in one run.

Exact command (a Release build with the binding, e.g. `BUILD_DIR=BUILD
./build.sh build`, and a Python with torch + torchvision):

    PYTHON bench/python_bench.py --data DIR --build BUILD [--reps 3]

With TMP a fresh temporary directory and DATA the ImageFolder (default
--data, required), it runs once

    BUILD/pvpack build DATA -o TMP/data.pvpack --quiet           (default options)

then --reps times, interleaved, each in a child process:
  (a) pvpack through Python, uint8 NHWC (what `pvpack bench` produces):
        pvpack.Loader(TMP/data.pvpack, batch_size=256, size=224, pipeline='train',
                      threads=2, dtype='uint8', layout='NHWC', output='torch')
      --pv-epochs epochs; images/s from after the loader's creation to the
      last batch (so it includes the first batch's latency, like (b)).
  (b) BUILD/pvpack bench TMP/data.pvpack --threads 2 --batch 256 --size 224
        --pipeline train --epochs N --json
  (c) the same as (a) with the drop-in defaults: float32 NCHW normalized.
  (d) torchvision: bench/loader_bench.py --tv-child (ImageFolder(DATA,
      RandomResizedCrop(224) + RandomHorizontalFlip() + ToTensor()),
      DataLoader(batch_size=256, num_workers=2, shuffle=True), 2 epochs,
      images/s including start-up).
  (e) pvpack through Python as (a) on the photos packed like FFCV stores
      them: BUILD/pvpack build DATA -o TMP/longer.pvpack --resize longer
      --size 256 (longer side 256, JPEG quality 90 unless kept as is).
  (f) FFCV, if `import ffcv` works in --ffcv-python (e.g. a venv with
      `pip install ffcv`, which needs libopencv-dev for pkg-config, then
      `pip install "numpy<2" "opencv-python<4.11"` to stay importable with
      Debian's torch 1.13): the photos written with
      DatasetWriter(RGBImageField(max_resolution=256, jpeg_quality=90)) to a
      .beton, then Loader(batch_size=256, num_workers=2, order=RANDOM,
      pipelines RandomResizedCropRGBImageDecoder((224, 224)) +
      RandomHorizontalFlip() + ToTensor()); images/s over --tv-epochs epochs
      after one warm-up epoch (numba compiles FFCV's pipeline in the first);
      otherwise reported as skipped.
and then --pairs times (a) and (b) back to back.

Device figure (a GPU machine; cuda/check.sh runs it): with --device-figure DS
(an already packed dataset) only these run, --reps times, interleaved:
  (g) pvpack through Python with device='cuda', float32 NCHW normalized on the
      GPU, torch CUDA tensors (torch.cuda.synchronize() before the clock
      stops), and the same with uint8 NHWC;
  (b) BUILD/pvpack bench DS (the C loader, host uint8 NHWC);
and it prints images/s and device-via-Python / pvpack bench. Figures: best and median
images/s of the reps. The binding overhead is 1 - a/b taken over the pairs
(median of the per-pair ratios), since (a) and (b) run within a few seconds
of each other and other load on the machine hits both alike.
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))


def pv_child(ds, epochs, batch, threads, size, dtype, layout, output, device="cpu"):
    import pvpack
    t0 = time.perf_counter()
    ld = pvpack.Loader(ds, batch_size=batch, size=size, pipeline="train", threads=threads,
                       dtype=dtype, layout=layout, output=output, rank=0, world_size=1,
                       device=device)
    t1 = time.perf_counter()
    n = 0
    first = None
    for _ in range(epochs):
        for x, y in ld:
            if first is None:
                first = time.perf_counter() - t1
            n += x.shape[0]
    if device != "cpu" and output == "torch":
        import torch
        torch.cuda.synchronize()
    el = time.perf_counter() - t1
    print(json.dumps({"images_per_s": n / el, "images": n, "seconds": el,
                      "create_s": t1 - t0, "first_batch_s": first, "stats": ld.stats(),
                      "type": type(x).__module__ + "." + type(x).__name__}))


class ImageFolderPIL:
    """torchvision's ImageFolder order and PIL loading, without torchvision:
    the samples FFCV's DatasetWriter is given (here and in ffcv_compare.py)."""
    exts = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")

    def __init__(self, root):
        classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
        self.samples = []
        for c, name in enumerate(classes):
            for dp, _, fs in sorted(os.walk(os.path.join(root, name), followlinks=True)):
                for f in sorted(fs):
                    if f.lower().endswith(self.exts):
                        self.samples.append((os.path.join(dp, f), c))

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        from PIL import Image
        p, c = self.samples[i]
        with open(p, "rb") as f:
            return Image.open(f).convert("RGB"), c


def write_beton(data, beton, workers):
    """FFCV's DatasetWriter over DATA: jpg at longer side 256, quality 90 (the
    resolution pvpack is packed at in these comparisons), int labels.
    Returns the number of images written."""
    from ffcv.fields import IntField, RGBImageField
    from ffcv.writer import DatasetWriter
    ds = ImageFolderPIL(data)
    w = DatasetWriter(beton, {"image": RGBImageField(write_mode="jpg", max_resolution=256,
                                                     jpeg_quality=90),
                              "label": IntField()}, num_workers=workers)
    w.from_indexed_dataset(ds)
    return len(ds)


def ffcv_child(data, tmp, epochs, batch, workers, size):
    import numpy as np
    import torch
    from ffcv.fields.decoders import IntDecoder, RandomResizedCropRGBImageDecoder
    from ffcv.loader import Loader, OrderOption
    from ffcv.transforms import RandomHorizontalFlip, ToTensor

    beton = os.path.join(tmp, "data.beton")
    if not os.path.exists(beton):
        write_beton(data, beton, workers)
    ld = Loader(beton, batch_size=batch, num_workers=workers, order=OrderOption.RANDOM,
                pipelines={"image": [RandomResizedCropRGBImageDecoder((size, size)),
                                     RandomHorizontalFlip(), ToTensor()],
                           "label": [IntDecoder(), ToTensor()]})
    t1 = time.perf_counter()
    n = n1 = 0
    for e in range(epochs + 1):  # epoch 0 also compiles FFCV's numba pipeline
        for x, y in ld:
            n += x.shape[0]
        if e == 0:
            t2, n1 = time.perf_counter(), n
    el = time.perf_counter() - t1
    print(json.dumps({"images_per_s": (n - n1) / (el - (t2 - t1)), "images": n - n1,
                      "seconds": el - (t2 - t1), "with_first_epoch_images_per_s": n / el}))


def run(cmd, env=None, timeout=300):
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s: {' '.join(cmd)}"
    if r.returncode != 0:
        return None, f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-2000:]}"
    return json.loads(r.stdout.strip().splitlines()[-1]), None


def device_figure(a):
    """(g) pvpack via Python with device='cuda' against (b) pvpack bench."""
    build = os.path.abspath(a.build)
    pvpack_bin = os.path.join(build, "pvpack")
    env = dict(os.environ, PYTHONPATH=os.path.join(build, "python"))
    ds = os.path.abspath(a.device_figure)
    me = [sys.executable, os.path.abspath(__file__), "--build", build, "--threads",
          str(a.threads), "--batch", str(a.batch), "--size", str(a.size), "--pv-epochs",
          str(a.pv_epochs), "--device", "cuda"]
    res = {"cuda_float32": [], "cuda_uint8": [], "bench": []}
    notes = {}
    for _ in range(a.reps):
        r, err = run(me + ["--pv-child", ds, "float32", "NCHW", "torch"], env)
        res["cuda_float32"].append(r) if r else notes.setdefault("cuda_float32", err)
        r, err = run(me + ["--pv-child", ds, "uint8", "NHWC", "torch"], env)
        res["cuda_uint8"].append(r) if r else notes.setdefault("cuda_uint8", err)
        r, err = run([pvpack_bin, "bench", ds, "--threads", str(a.threads), "--batch",
                      str(a.batch), "--size", str(a.size), "--pipeline", "train", "--epochs",
                      str(a.pv_epochs), "--json"])
        res["bench"].append(r) if r else notes.setdefault("bench", err)

    def med(k):
        v = [r["images_per_s"] for r in res[k]]
        return statistics.median(v) if v else float("nan")

    print(f"python_bench device figure: {ds}, train {a.size}, batch {a.batch}, {a.threads} "
          f"threads, {a.pv_epochs} epochs, median of {a.reps} (images/s)")
    for k, name in (("cuda_float32", "pvpack via Python, device='cuda', float32 NCHW"),
                    ("cuda_uint8", "pvpack via Python, device='cuda', uint8 NHWC"),
                    ("bench", "pvpack bench (C, host uint8 NHWC)")):
        print(f"  {name:50s} {med(k):9.1f}")
    b = med("bench")
    print(f"  device via Python / pvpack bench: {med('cuda_float32') / b:.3f} (float32), "
          f"{med('cuda_uint8') / b:.3f} (uint8)")
    if res["cuda_float32"]:
        st = res["cuda_float32"][-1]["stats"]
        print(f"  last float32 run: detached {st.get('detached')}, wait {st.get('wait_s', 0):.2f} s,"
              f" h2d {st.get('h2d_s', 0):.2f} s, kernel {st.get('kernel_s', 0):.3f} s")
    for k, v in notes.items():
        print(f"  note {k}: {v}")
    return 0 if not notes else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", help="the ImageFolder tree to measure on (required but with --device-figure)")
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--pv-epochs", type=int, default=5)
    ap.add_argument("--tv-epochs", type=int, default=2)
    ap.add_argument("--ffcv-python", default=sys.executable)
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--skip-tv", action="store_true")
    ap.add_argument("--json-out")
    ap.add_argument("--pv-child", nargs=4, metavar=("DS", "DTYPE", "LAYOUT", "OUTPUT"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--ffcv-child", nargs=2, metavar=("DATA", "TMP"), help=argparse.SUPPRESS)
    ap.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    ap.add_argument("--device-figure", metavar="DS",
                    help="only the device figure on this packed dataset (GPU machine)")
    a = ap.parse_args()
    if a.pv_child:
        ds, dt, lay, out = a.pv_child
        return pv_child(ds, a.pv_epochs, a.batch, a.threads, a.size, dt, lay, out, a.device)
    if a.device_figure:
        return device_figure(a)
    if a.ffcv_child:
        return ffcv_child(a.ffcv_child[0], a.ffcv_child[1], a.tv_epochs, a.batch, a.threads,
                          a.size)

    if not a.data:
        ap.error("--data DIR is required")
    data = os.path.abspath(a.data)
    build = os.path.abspath(a.build)
    pvpack_bin = os.path.join(build, "pvpack")
    env = dict(os.environ, PYTHONPATH=os.path.join(build, "python"))
    for d, _, fs in os.walk(data, followlinks=True):  # warm the page cache
        for f in fs:
            with open(os.path.join(d, f), "rb") as fh:
                fh.read()
    tmp = tempfile.mkdtemp(prefix="pvpy-")
    results = {k: [] for k in ("py_uint8", "bench", "py_float32", "torchvision", "py_longer",
                               "ffcv")}
    notes = {}
    try:
        ds = os.path.join(tmp, "data.pvpack")
        subprocess.run([pvpack_bin, "build", data, "-o", ds, "--quiet"], check=True,
                       stdout=subprocess.DEVNULL)
        longer = os.path.join(tmp, "longer.pvpack")
        subprocess.run([pvpack_bin, "build", data, "-o", longer, "--quiet", "--resize", "longer",
                        "--size", "256"], check=True, stdout=subprocess.DEVNULL)
        me = [sys.executable, os.path.abspath(__file__), "--build", build,
              "--threads", str(a.threads), "--batch", str(a.batch), "--size", str(a.size),
              "--pv-epochs", str(a.pv_epochs), "--tv-epochs", str(a.tv_epochs)]
        have_ffcv = subprocess.run([a.ffcv_python, "-c", "import ffcv"],
                                   capture_output=True).returncode == 0
        if not have_ffcv:
            notes["ffcv"] = "not importable in " + a.ffcv_python
        for rep in range(a.reps):
            r, err = run(me + ["--pv-child", ds, "uint8", "NHWC", "torch"], env)
            results["py_uint8"].append(r) if r else notes.setdefault("py_uint8", err)
            r, err = run([pvpack_bin, "bench", ds, "--threads", str(a.threads), "--batch",
                          str(a.batch), "--size", str(a.size), "--pipeline", "train",
                          "--epochs", str(a.pv_epochs), "--json"])
            results["bench"].append(r) if r else notes.setdefault("bench", err)
            r, err = run(me + ["--pv-child", ds, "float32", "NCHW", "torch"], env)
            results["py_float32"].append(r) if r else notes.setdefault("py_float32", err)
            if not a.skip_tv:
                r, err = run([sys.executable, os.path.join(HERE, "loader_bench.py"), "--tv-child",
                              "--data", data, "--tv-epochs", str(a.tv_epochs), "--batch",
                              str(a.batch), "--threads", str(a.threads), "--size", str(a.size)])
                results["torchvision"].append(r) if r else notes.setdefault("torchvision", err)
            r, err = run(me + ["--pv-child", longer, "uint8", "NHWC", "torch"], env)
            results["py_longer"].append(r) if r else notes.setdefault("py_longer", err)
            if have_ffcv:
                r, err = run([a.ffcv_python, os.path.abspath(__file__), "--ffcv-child", data, tmp,
                              "--threads", str(a.threads), "--batch", str(a.batch), "--size",
                              str(a.size), "--tv-epochs", str(a.tv_epochs)])
                results["ffcv"].append(r) if r else notes.setdefault("ffcv", err)
            print(f"rep {rep + 1}/{a.reps} done", file=sys.stderr, flush=True)
        results["pairs"] = []
        for _ in range(a.pairs):
            r1, err = run(me + ["--pv-child", ds, "uint8", "NHWC", "torch"], env)
            r2, err2 = run([pvpack_bin, "bench", ds, "--threads", str(a.threads), "--batch",
                            str(a.batch), "--size", str(a.size), "--pipeline", "train",
                            "--epochs", str(a.pv_epochs), "--json"])
            if r1 and r2:
                results["pairs"].append([r1["images_per_s"], r2["images_per_s"]])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def fig(k):
        v = [r["images_per_s"] for r in results[k]]
        return (max(v), statistics.median(v)) if v else (float("nan"), float("nan"))

    print(f"python_bench: {data}, train pipeline {a.size}, batch {a.batch}, {a.threads} "
          f"threads/workers, {a.reps} reps (best / median images/s)")
    labels = {"py_uint8": "pvpack via Python (uint8 NHWC, torch tensors)",
              "bench": "pvpack bench (C, uint8 NHWC)",
              "py_float32": "pvpack via Python (float32 NCHW normalized)",
              "torchvision": "torchvision ImageFolder + DataLoader",
              "py_longer": "pvpack via Python, longer side 256 (uint8)",
              "ffcv": "FFCV Loader, longer side 256 (uint8)"}
    for k, name in labels.items():
        best, med = fig(k)
        print(f"  {name:48s} {best:9.1f} / {med:9.1f}")
    pb, bb = fig("py_uint8")[1], fig("bench")[1]
    tv = fig("torchvision")[1]
    ratios = sorted(p / b for p, b in results["pairs"])
    if ratios:
        print(f"  binding overhead over {len(ratios)} back-to-back pairs: median "
              f"{100 * (1 - statistics.median(ratios)):.1f}%, range "
              f"{100 * (1 - ratios[-1]):.1f}% .. {100 * (1 - ratios[0]):.1f}% (target <= 5%)")
    print(f"  binding overhead from the rep medians: {100 * (1 - pb / bb):.1f}%")
    print(f"  pvpack via Python / torchvision (median): {pb / tv:.1f}x uint8, "
          f"{fig('py_float32')[1] / tv:.1f}x float32 (target >= 8x)")
    if results["ffcv"]:
        print(f"  pvpack via Python / FFCV, both longer side 256 (median): "
              f"{fig('py_longer')[1] / fig('ffcv')[1]:.2f}x")
    for k, v in notes.items():
        print(f"  note {k}: {v}")
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"results": results, "notes": notes}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
