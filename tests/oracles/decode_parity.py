#!/usr/bin/python3
"""Decode parity: pvpack's source decoder (codec/decode.c) against PIL.

Measures, for every file of one or more ImageFolder trees, how far the RGB
pixels pvpack decodes (build/tests/oracles/decode_dump: pv__probe_image +
pv__decode_image, default options, full resolution, EXIF orientation
ignored) are from torchvision's pil_loader, i.e.
PIL.Image.open(f).convert('RGB'). Reported per source variant (column
`variant` of DIR.manifest.tsv next to each tree when it exists, otherwise
PIL's format/mode): count, count bit-exact, max abs diff, mean abs diff over
all channel values, PSNR over the whole group (and the worst file's PSNR);
then every file PIL opens that pvpack refuses (should be none) and every file
pvpack opens that PIL refuses, and size mismatches.

Run (needs PIL and numpy: Debian's /usr/bin/python3, not a pyenv python):

    cmake --build build -j2 --target decode_dump
    /usr/bin/python3 tests/oracles/decode_parity.py DIR [DIR ...]

Last measured (Debian 12, PIL 9.4.0 and pvpack both on the system
libjpeg62-turbo 2.1.5, libwebp 1.2.4, libtiff 4.5.0): all 1,800 files of
sample/ + bench/ (baseline, progressive, CMYK and gray JPEG, PNG, PNG named
.JPEG) bit-exact, none refused by either side. On synthetic variants the
only differences are decode.c's documented ones: 16-bit gray PNG/PGM
(scaled, PIL clips), RGBA TIFF (libtiff premultiplies unassociated alpha),
plain/bitmap PNM P1-P4 refused, and +-1 on exact .5 ties for PNM maxval < 255.

Options: --dump PATH (default build/tests/oracles/decode_dump), --all-files (also
files without an ImageFolder extension), --worst N (list the N files with the
largest max diff, default 5), --group-by-class (trees without a manifest:
group by class folder, e.g. a synthetic tree with one folder per variant).
"""
import argparse
import collections
import csv
import math
import os
import subprocess
import sys
import warnings

import numpy as np
from PIL import Image, features

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def load_manifest(root):
    """{relative path: variant} from ROOT.manifest.tsv when present."""
    path = root.rstrip("/") + ".manifest.tsv"
    out = {}
    if os.path.exists(path):
        with open(path, newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                out[row["path"]] = row["variant"]
    return out


def pil_decode(path):
    """torchvision's pil_loader; any warning counts as an error for the log."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with open(path, "rb") as f:
            img = Image.open(f)
            fmt, mode = img.format, img.mode
            rgb = np.asarray(img.convert("RGB"))
    return fmt, mode, rgb, [str(x.message) for x in w]


class Dumper:
    """One decode_dump --batch process for all files."""

    def __init__(self, exe):
        self.p = subprocess.Popen([exe, "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def decode(self, path):
        self.p.stdin.write(os.fsencode(path) + b"\n")
        self.p.stdin.flush()
        head = self.p.stdout.readline().decode("utf-8", "replace").rstrip("\n")
        if head.startswith("OK "):
            _, fmt, w, h = head.split(" ")
            w, h = int(w), int(h)
            n = w * h * 3
            data = self.p.stdout.read(n)
            if len(data) != n:
                raise RuntimeError("decode_dump: short read")
            return fmt, np.frombuffer(data, np.uint8).reshape(h, w, 3), None
        if head.startswith("ERR "):
            return None, None, head[4:]
        raise RuntimeError(f"decode_dump: unexpected output {head!r}")

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("roots", nargs="+")
    ap.add_argument("--dump", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   "..", "..", "build", "tests", "oracles",
                                                   "decode_dump"))
    ap.add_argument("--all-files", action="store_true")
    ap.add_argument("--worst", type=int, default=5)
    ap.add_argument("--group-by-class", action="store_true",
                    help="group files without a manifest entry by their class folder "
                         "(for synthetic trees with one folder per variant)")
    args = ap.parse_args()

    print(f"PIL {Image.__version__}, libjpeg(-turbo) {features.version('jpg')}, "
          f"zlib {features.version('zlib')}, webp {features.version('webp')}, "
          f"libtiff {features.version('libtiff')}")
    dumper = Dumper(args.dump)
    # group -> accumulators
    G = collections.OrderedDict()
    pil_only, pv_only, both_refuse, size_mismatch, per_file = [], [], [], [], []
    for root in args.roots:
        manifest = load_manifest(root)
        tree = os.path.basename(root.rstrip("/"))
        for dirpath, dirnames, fnames in sorted(os.walk(root, followlinks=True)):
            for fn in sorted(fnames):
                path = os.path.join(dirpath, fn)
                if not args.all_files and not fn.lower().endswith(IMG_EXTENSIONS):
                    continue
                rel = os.path.relpath(path, root)
                try:
                    pfmt, pmode, prgb, pwarn = pil_decode(path)
                    perr = None
                except Exception as e:  # PIL refuses
                    pfmt = pmode = prgb = None
                    pwarn = []
                    perr = f"{type(e).__name__}: {e}"
                vfmt, vrgb, verr = dumper.decode(path)
                variant = manifest.get(rel)
                if variant is not None:
                    key = variant
                elif args.group_by_class:
                    key = rel.split(os.sep)[0]
                else:
                    key = f"(unlisted) {pfmt}/{pmode}"
                g = G.setdefault(key, dict(n=0, exact=0, maxd=0, sumd=0, sumsq=0, vals=0,
                                           worst_psnr=math.inf, modes=collections.Counter(),
                                           trees=collections.Counter()))
                g["n"] += 1
                g["trees"][tree] += 1
                g["modes"][f"{pfmt}/{pmode}->pv:{vfmt}"] += 1
                where = f"{tree}/{rel}"
                if perr and verr:
                    both_refuse.append((where, perr, verr))
                    continue
                if perr:
                    pv_only.append((where, perr))
                    continue
                if verr:
                    pil_only.append((where, f"{pfmt}/{pmode}", verr))
                    continue
                if prgb.shape != vrgb.shape:
                    size_mismatch.append((where, prgb.shape, vrgb.shape))
                    continue
                d = np.abs(prgb.astype(np.int16) - vrgb.astype(np.int16))
                mx = int(d.max())
                sq = float((d.astype(np.int64) ** 2).sum())
                g["exact"] += mx == 0
                g["maxd"] = max(g["maxd"], mx)
                g["sumd"] += int(d.sum())
                g["sumsq"] += sq
                g["vals"] += d.size
                mse = sq / d.size
                psnr = math.inf if mse == 0 else 10 * math.log10(255 ** 2 / mse)
                g["worst_psnr"] = min(g["worst_psnr"], psnr)
                per_file.append((mx, psnr, where, key, f"{pfmt}/{pmode}", pwarn,
                                 int((d > 0).any(axis=2).sum()), d.shape[0] * d.shape[1]))
    dumper.close()

    def fpsnr(x):
        return "inf" if x == math.inf else f"{x:.2f}"

    print()
    print("| variant | files | bit-exact | max abs diff | mean abs diff | PSNR dB (group) | worst file PSNR dB | PIL format/mode -> pvpack format |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    tot = dict(n=0, exact=0, maxd=0, sumd=0, sumsq=0, vals=0, worst_psnr=math.inf)
    for key, g in G.items():
        mse = g["sumsq"] / g["vals"] if g["vals"] else 0
        psnr = math.inf if mse == 0 else 10 * math.log10(255 ** 2 / mse)
        mean = g["sumd"] / g["vals"] if g["vals"] else 0
        modes = ", ".join(f"{k} x{v}" for k, v in sorted(g["modes"].items()))
        print(f"| {key} | {g['n']} | {g['exact']} | {g['maxd']} | {mean:.5f} | {fpsnr(psnr)} | "
              f"{fpsnr(g['worst_psnr'])} | {modes} |")
        for k in ("n", "exact", "sumd", "sumsq", "vals"):
            tot[k] += g[k]
        tot["maxd"] = max(tot["maxd"], g["maxd"])
        tot["worst_psnr"] = min(tot["worst_psnr"], g["worst_psnr"])
    mse = tot["sumsq"] / tot["vals"] if tot["vals"] else 0
    print(f"| **all** | {tot['n']} | {tot['exact']} | {tot['maxd']} | "
          f"{(tot['sumd'] / tot['vals'] if tot['vals'] else 0):.5f} | "
          f"{fpsnr(math.inf if mse == 0 else 10 * math.log10(255 ** 2 / mse))} | "
          f"{fpsnr(tot['worst_psnr'])} | |")

    print(f"\nPIL opens, pvpack refuses: {len(pil_only)}")
    for x in pil_only:
        print("  ", *x)
    print(f"pvpack opens, PIL refuses: {len(pv_only)}")
    for x in pv_only:
        print("  ", *x)
    print(f"both refuse: {len(both_refuse)}")
    for x in both_refuse:
        print("  ", *x)
    print(f"size mismatches: {len(size_mismatch)}")
    for x in size_mismatch:
        print("  ", *x)
    warned = [p for p in per_file if p[5]]
    print(f"files PIL decoded with a warning: {len(warned)}")
    for p in warned:
        print("  ", p[2], p[5])
    diff = sorted((p for p in per_file if p[0] > 0), key=lambda p: (-p[0], p[1]))
    if diff and args.worst:
        print(f"\nlargest differences (max abs diff, PSNR, differing pixels/total):")
        for p in diff[: args.worst]:
            print(f"   {p[0]:3d} {fpsnr(p[1]):>7s} {p[6]}/{p[7]}  {p[2]}  [{p[3]}; {p[4]}]")
    return 1 if pil_only or size_mismatch else 0


if __name__ == "__main__":
    sys.exit(main())
