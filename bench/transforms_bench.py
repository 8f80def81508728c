#!/usr/bin/env python3
"""transforms_bench.py - the cost of pvpack.Loader's Python transform hooks.

usage (the binding of a Release build on PYTHONPATH):
    PYTHONPATH=BUILD/python python3 bench/transforms_bench.py [--data DIR]
        [--reps 5] [--threads 2] [--batch 64] [--size 224] [--epochs 1]

On a packed ImageFolder (--data, packed once with default options into a
temporary directory; default: a generated tree of --images 640 JPEGs of
--image-size 320x240 made with PIL), measured in one run, interleaved
(a, b, c, d, e, a, b, ...), each --reps times:

  (a) C pipeline alone: Loader(batch_size, size, threads) -- float32 NCHW,
      RandomResizedCrop + flip + normalize, all in C;
  (b) + sample_transform=ColorJitter(0.4, 0.4, 0.4) per sample (torchvision
      transforms.v2 when installed, else a plain-torch brightness / contrast /
      saturation jitter of the same shape; the line says which);
  (c) + batch_transform=MixUp(alpha=1.0) per batch (torchvision v2.MixUp when
      it has one, else a plain-torch mixup with one-hot labels);
  (d) + both;
  (e) + an identity sample_transform (lambda x: x): the hook machinery alone
      (per-sample seeding, the call, conversion to float32 NCHW in torch).

Each figure is images/s over --epochs epochs from iter(loader) to the last
batch (the loader is created outside the clock), median and best of --reps.
Per-sample hooks run in the iterating Python thread, one sample at a time,
while the C workers keep decoding ahead.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np


def make_tree(root, n, w, h):
    from PIL import Image
    rng = np.random.default_rng(0)
    for i in range(n):
        d = os.path.join(root, f"class{i % 10}")
        os.makedirs(d, exist_ok=True)
        base = rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
        img = Image.fromarray(base).resize((w, h), Image.BILINEAR)
        img.save(os.path.join(d, f"{i:05d}.jpg"), quality=90)


def jitter_hook():
    try:
        from torchvision.transforms import v2
        return "torchvision.transforms.v2.ColorJitter(0.4, 0.4, 0.4)", v2.ColorJitter(0.4, 0.4, 0.4)
    except ImportError:
        pass
    import torch

    def jitter(img):
        b, c, s = (0.6 + 0.8 * torch.rand(3)).tolist()
        x = img.float() * b
        mean = x.mean()
        x = (x - mean) * c + mean
        gray = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]).unsqueeze(0)
        x = (x - gray) * s + gray
        return x.clamp_(0, 255).to(torch.uint8)
    return "plain-torch ColorJitter-like (brightness, contrast, saturation 0.4)", jitter


def mixup_hook(classes):
    try:
        from torchvision.transforms import v2
        if hasattr(v2, "MixUp"):
            return "torchvision.transforms.v2.MixUp(alpha=1.0)", v2.MixUp(alpha=1.0,
                                                                           num_classes=classes)
    except ImportError:
        pass
    import torch

    def mixup(images, labels):
        lam = float(torch.distributions.Beta(1.0, 1.0).sample())
        perm = torch.randperm(images.shape[0])
        onehot = torch.nn.functional.one_hot(labels, classes).float()
        return lam * images + (1 - lam) * images[perm], lam * onehot + (1 - lam) * onehot[perm]
    return "plain-torch mixup (Beta(1,1), one-hot)", mixup


def _identity(img):
    return img


def run(loader, epochs):
    n = 0
    t0 = time.perf_counter()
    for e in range(epochs):
        loader.set_epoch(e)
        for images, _ in loader:
            n += images.shape[0]
    return n / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data")
    ap.add_argument("--images", type=int, default=640)
    ap.add_argument("--image-size", default="320x240")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--epochs", type=int, default=1)
    a = ap.parse_args()
    import torch
    import pvpack
    torch.set_num_threads(1)  # the hooks run per sample; intra-op threads only add overhead
    with tempfile.TemporaryDirectory() as tmp:
        src = a.data
        if src is None:
            w, h = (int(v) for v in a.image_size.split("x"))
            src = os.path.join(tmp, "tree")
            make_tree(src, a.images, w, h)
        ds_dir = os.path.join(tmp, "data.pvpack")
        pvpack.build(src, ds_dir, quiet=True)
        ds = pvpack.Dataset(ds_dir)
        jname, jitter = jitter_hook()
        mname, mixup = mixup_hook(len(ds.classes))
        base = dict(batch_size=a.batch, size=a.size, threads=a.threads, seed=1)
        variants = [("C pipeline alone", {}),
                    ("+ per-sample ColorJitter", {"sample_transform": jitter}),
                    ("+ batch MixUp", {"batch_transform": mixup}),
                    ("+ both", {"sample_transform": jitter, "batch_transform": mixup}),
                    ("+ identity sample hook", {"sample_transform": _identity})]
        figures = {name: [] for name, _ in variants}
        for name, extra in variants:  # warm-up (page cache, imports)
            with pvpack.Loader(ds, **base, **extra) as ld:
                run(ld, 1)
        for _ in range(a.reps):
            for name, extra in variants:
                with pvpack.Loader(ds, **base, **extra) as ld:
                    figures[name].append(run(ld, a.epochs))
        print(f"pvpack {pvpack.__version__}, torch {torch.__version__}, {len(ds)} records, "
              f"batch {a.batch}, size {a.size}, threads {a.threads}, epochs {a.epochs}, "
              f"reps {a.reps}, {os.cpu_count()} CPUs")
        print(f"ColorJitter: {jname}")
        print(f"MixUp: {mname}")
        ref = statistics.median(figures[variants[0][0]])
        for name, _ in variants:
            f = figures[name]
            med = statistics.median(f)
            print(f"{name:28s} median {med:8.0f} img/s  best {max(f):8.0f}  "
                  f"({med / ref:5.2f}x the C pipeline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
