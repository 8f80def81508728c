#!/usr/bin/python3
"""resize_psnr.py - how close image/resample.c is to PIL on real photos
(a benchmark, not a test).

For every image under an ImageFolder tree (DIR, required;
read in place, never copied), decode with PIL .convert('RGB'), then resize
to "shorter side 256" and "longer side 256" with PIL
(Image.resize(size, filter, reducing_gap=None)) and with tests/oracles/resize_tool
on the same decoded pixels, and report PSNR of ours against PIL (mean, min,
per filter and target) plus resize time per image (best of --reps, resize
only; ours is timed inside the C tool, PIL's around Image.resize).

Build the tool, then run with Debian's python (it has PIL):
  gcc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -Iformat -Ireader \\
      tests/oracles/resize_tool.c image/resample.c format/status.c -lm -o resize_tool
  /usr/bin/python3 tests/oracles/resize_psnr.py [--tool PATH] [--limit N] DIR
"""
import argparse
import math
import os
import subprocess
import sys
import time

from PIL import Image, ImageChops

FILTERS = {"bilinear": Image.BILINEAR, "lanczos": Image.LANCZOS}
EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".tif", ".tiff", ".gif")


def target(w, h, side, shorter):
    """Size with the shorter (or longer) side equal to `side`, aspect kept."""
    if (w <= h) == shorter:
        return side, max(1, round(h * side / w))
    return max(1, round(w * side / h)), side


def psnr(a, b):
    """PSNR of two same-size RGB images, from PIL's difference histogram."""
    hist = ImageChops.difference(a, b).histogram()  # 3 x 256 bins
    sse = sum((i % 256) ** 2 * n for i, n in enumerate(hist))
    if sse == 0:
        return float("inf")
    return 10 * math.log10(255.0 ** 2 * a.size[0] * a.size[1] * 3 / sse)


def read_ppms(data, count):
    """Splits concatenated binary PPMs written by resize_tool."""
    out, pos = [], 0
    for _ in range(count):
        fields = []
        while len(fields) < 4:
            while data[pos:pos + 1].isspace():
                pos += 1
            end = pos
            while not data[end:end + 1].isspace():
                end += 1
            fields.append(data[pos:end])
            pos = end
        pos += 1  # the single whitespace after maxval
        w, h = int(fields[1]), int(fields[2])
        n = w * h * 3
        out.append(((w, h), data[pos:pos + n]))
        pos += n
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root", help="an ImageFolder tree")
    ap.add_argument("--tool", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                 "build", "tests", "oracles", "resize_tool"))
    ap.add_argument("--limit", type=int, default=0, help="stop after N images (0: all)")
    ap.add_argument("--reps", type=int, default=3, help="timing: best of N resizes")
    ap.add_argument("--side", type=int, default=256)
    args = ap.parse_args()

    files = []
    for d, _, names in os.walk(args.root):
        files += [os.path.join(d, n) for n in names if n.lower().endswith(EXTS)]
    files.sort()
    if args.limit:
        files = files[: args.limit]

    stats = {}  # (mode, filter) -> list of (psnr, ours_us, pil_us)
    skipped = 0
    for path in files:
        try:
            with Image.open(path) as im:
                im = im.convert("RGB")
                im.load()
        except Exception as e:  # unreadable files are counted, not fatal
            print(f"skip {path}: {e}", file=sys.stderr)
            skipped += 1
            continue
        w, h = im.size
        specs = []
        for mode, shorter in (("short256", True), ("long256", False)):
            size = target(w, h, args.side, shorter)
            for fname in FILTERS:
                specs.append((mode, fname, size))
        ppm = b"P6\n%d %d\n255\n" % (w, h) + im.tobytes()
        cmd = [args.tool, "-r", str(args.reps), "-"] + [f"{s[0]}x{s[1]}:{f}" for _, f, s in specs]
        res = subprocess.run(cmd, input=ppm, capture_output=True, check=True)
        ours = read_ppms(res.stdout, len(specs))
        times = [float(l.split("us=")[1]) for l in res.stderr.decode().splitlines() if "us=" in l]
        for (mode, fname, size), (osize, obytes), ous in zip(specs, ours, times):
            assert osize == size, (osize, size)
            best = math.inf
            for _ in range(args.reps):
                t0 = time.perf_counter()
                ref = im.resize(size, FILTERS[fname], reducing_gap=None)
                best = min(best, time.perf_counter() - t0)
            p = psnr(Image.frombytes("RGB", osize, obytes), ref)
            stats.setdefault((mode, fname), []).append((p, ous, best * 1e6, path))

    print(f"{len(files) - skipped} images from {args.root} ({skipped} skipped); "
          f"PSNR of ours vs PIL {Image.__version__ if hasattr(Image, '__version__') else ''}"
          " reducing_gap=None; times: best of %d, one core" % args.reps)
    print(f"{'target':9} {'filter':9} {'mean dB':>8} {'min dB':>8} {'ours us':>9} {'PIL us':>9} "
          f"{'speed-up':>8}  worst image")
    for (mode, fname), rows in sorted(stats.items()):
        finite = [r[0] for r in rows if r[0] != math.inf]
        exact = len(rows) - len(finite)
        mean = sum(finite) / len(finite) if finite else math.inf
        worst = min(rows, key=lambda r: r[0])
        ous = sum(r[1] for r in rows) / len(rows)
        pus = sum(r[2] for r in rows) / len(rows)
        print(f"{mode:9} {fname:9} {mean:8.2f} {worst[0]:8.2f} {ous:9.0f} {pus:9.0f} "
              f"{pus / ous:7.2f}x  {os.path.relpath(worst[3], args.root)}"
              + (f"  ({exact} identical)" if exact else ""))


if __name__ == "__main__":
    main()
