#!/usr/bin/python3
"""make_image_corpus.py - writes the seed corpora of fuzz_image and fuzz_record.

    /usr/bin/python3 tests/fuzz/make_image_corpus.py tests/fuzz/corpus   # from the source root

Needs PIL (Debian python3-pil) and the zstd command. The output is
deterministic for a given PIL/libjpeg; crash inputs found by libFuzzer are
added by hand (crash-*, timeout-*, leak-*, regress-*) and are not touched here.

corpus/image/NAME: one option byte (see fuzz_image.c: bit 0 EXIF orientation,
bits 1-2 scaling hint, bit 3 small pixel limit), then a small image file.
corpus/record/NAME: codec, width (LE16), height (LE16), stride extra, payload
(see fuzz_record.c).
"""
import io
import os
import struct
import subprocess
import sys
import zlib

from PIL import Image

OPT_NONE, OPT_EXIF, OPT_SCALE_1, OPT_SCALE_64, OPT_SCALE_300, OPT_SMALL = 0, 1, 2, 4, 6, 8


def gradient(w, h, mode="RGB"):
    im = Image.new("RGB", (w, h))
    im.putdata([((x * 255) // max(w - 1, 1), (y * 255) // max(h - 1, 1), ((x + y) * 97) % 256)
                for y in range(h) for x in range(w)])
    return im.convert(mode) if mode != "RGB" else im


def pil_bytes(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


def exif_block(orientation, le=True):
    """A minimal TIFF-structured EXIF block with one Orientation entry."""
    e = "<" if le else ">"
    head = (b"II" if le else b"MM") + struct.pack(e + "HI", 42, 8)
    ifd = struct.pack(e + "H", 1) + struct.pack(e + "HHIHH", 0x0112, 3, 1, orientation, 0)
    return head + ifd + struct.pack(e + "I", 0)


# ---- PNG, written by hand so that every colour type, depth and Adam7 appear --

def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png(w, h, ctype, depth, pixel, interlace=False, extra=b""):
    """pixel(x, y) -> tuple of samples for this colour type."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]

    def row_bytes(xs, y):
        if depth < 8:
            bits, out = 0, bytearray()
            nbits = 0
            for x in xs:
                bits = (bits << depth) | pixel(x, y)[0]
                nbits += depth
                if nbits == 8:
                    out.append(bits)
                    bits = nbits = 0
            if nbits:
                out.append(bits << (8 - nbits))
            return bytes(out)
        fmt = ">" + ("B" if depth == 8 else "H") * channels
        return b"".join(struct.pack(fmt, *pixel(x, y)) for x in xs)

    raw = bytearray()
    if not interlace:
        for y in range(h):
            raw += b"\x00" + row_bytes(range(w), y)
    else:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                  (1, 0, 2, 2), (0, 1, 1, 2)]
        for x0, y0, dx, dy in passes:
            xs = list(range(x0, w, dx))
            if not xs:
                continue
            for y in range(y0, h, dy):
                raw += b"\x00" + row_bytes(xs, y)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 1 if interlace else 0)
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
    if ctype == 3:
        out += png_chunk(b"PLTE", bytes(v for i in range(16) for v in (i * 16, 255 - i * 16, 80)))
    out += extra
    out += png_chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + png_chunk(b"IEND", b"")
    return out


# ---- BMP and PNM, by hand ------------------------------------------------------

def bmp(w, h, bpp, top_down=False):
    palette = b""
    if bpp <= 8:
        n = 1 << bpp
        palette = b"".join(bytes((i * 255 // (n - 1), 255 - i * 255 // (n - 1), 128, 0))
                           for i in range(n))
    stride = (w * bpp + 31) // 32 * 4
    rows = []
    for y in range(h):
        if bpp == 24:
            r = b"".join(bytes(((x * 40) % 256, (y * 60) % 256, 200)) for x in range(w))
        elif bpp == 32:
            r = b"".join(bytes(((x * 40) % 256, (y * 60) % 256, 200, 255)) for x in range(w))
        elif bpp == 8:
            r = bytes((x * 7 + y * 13) % 256 for x in range(w))
        else:  # 1 bit
            bits = [(x + y) & 1 for x in range(w)]
            r = bytes(sum(b << (7 - i) for i, b in enumerate(bits[k:k + 8]))
                      for k in range(0, w, 8))
        rows.append(r + b"\x00" * (stride - len(r)))
    pix = b"".join(rows if top_down else rows[::-1])
    off = 14 + 40 + len(palette)
    hdr = b"BM" + struct.pack("<IHHI", off + len(pix), 0, 0, off)
    info = struct.pack("<IiiHHIIiiII", 40, w, -h if top_down else h, 1, bpp, 0, len(pix),
                       2835, 2835, len(palette) // 4 if bpp <= 8 else 0, 0)
    return hdr + info + palette + pix


def pnm(kind, w, h, maxval, comment=False):
    chans = 3 if kind == 6 else 1
    head = b"P%d\n" % kind + (b"# fuzz seed\n" if comment else b"") + b"%d %d\n%d\n" % (w, h, maxval)
    samples = [((x * 31 + y * 17 + c * 50) % (maxval + 1))
               for y in range(h) for x in range(w) for c in range(chans)]
    if kind in (2, 3):
        return head + " ".join(str(s) for s in samples).encode() + b"\n"
    fmt = ">" + ("B" if maxval < 256 else "H") * len(samples)
    return head + struct.pack(fmt, *samples)


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c", "-19", "--no-check", "--stream-size=%d" % len(data)],
                          input=data,
                          stdout=subprocess.PIPE, check=True).stdout


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus"
    idir, rdir = os.path.join(root, "image"), os.path.join(root, "record")
    os.makedirs(idir, exist_ok=True)
    os.makedirs(rdir, exist_ok=True)

    def put(name, opt, data):
        with open(os.path.join(idir, name), "wb") as f:
            f.write(bytes((opt,)) + data)

    g = gradient(40, 24)
    # JPEG: baseline 4:2:0 and 4:4:4, progressive, gray, CMYK (Adobe), EXIF.
    put("jpeg-baseline.jpg", OPT_NONE, pil_bytes(g, "JPEG", quality=75))
    put("jpeg-444.jpg", OPT_SCALE_1, pil_bytes(g, "JPEG", quality=90, subsampling=0))
    put("jpeg-422.jpg", OPT_SMALL, pil_bytes(g, "JPEG", quality=60, subsampling=1))
    put("jpeg-progressive.jpg", OPT_NONE, pil_bytes(g, "JPEG", quality=75, progressive=True))
    put("jpeg-gray.jpg", OPT_NONE, pil_bytes(gradient(33, 17, "L"), "JPEG", quality=80))
    put("jpeg-cmyk.jpg", OPT_NONE, pil_bytes(gradient(24, 16, "CMYK"), "JPEG", quality=80))
    put("jpeg-exif6.jpg", OPT_EXIF, pil_bytes(g, "JPEG", quality=70, exif=b"Exif\0\0" + exif_block(6)))
    put("jpeg-exif3-be.jpg", OPT_EXIF | OPT_SCALE_1,
        pil_bytes(gradient(20, 12), "JPEG", quality=70, exif=b"Exif\0\0" + exif_block(3, le=False)))
    put("jpeg-exif8-noapply.jpg", OPT_NONE,
        pil_bytes(gradient(16, 8), "JPEG", quality=50, exif=b"Exif\0\0" + exif_block(8)))
    put("jpeg-scale.jpg", OPT_SCALE_64, pil_bytes(gradient(320, 200), "JPEG", quality=20))
    put("jpeg-scale-prog.jpg", OPT_SCALE_64 | OPT_EXIF,
        pil_bytes(gradient(256, 160), "JPEG", quality=15, progressive=True,
                  exif=b"Exif\0\0" + exif_block(5)))
    put("jpeg-restart.jpg", OPT_NONE, pil_bytes(g, "JPEG", quality=60, restart_marker_blocks=2))

    # PNG: every colour type, 1/2/4/8/16 bits, Adam7, eXIf.
    def rgb(x, y):
        return ((x * 37) % 256, (y * 53) % 256, ((x ^ y) * 11) % 256)
    put("png-rgb.png", OPT_NONE, png(17, 11, 2, 8, rgb))
    put("png-rgba.png", OPT_SCALE_64, png(12, 9, 6, 8, lambda x, y: rgb(x, y) + ((x * y) % 256,)))
    put("png-rgb16.png", OPT_NONE, png(9, 7, 2, 16, lambda x, y: tuple(v * 257 for v in rgb(x, y))))
    put("png-palette.png", OPT_NONE, png(15, 10, 3, 4, lambda x, y: ((x + y) % 16,)))
    put("png-palette8-trns.png", OPT_SMALL,
        png(10, 10, 3, 8, lambda x, y: ((x * y) % 16,), extra=png_chunk(b"tRNS", bytes(range(0, 256, 16)))))
    put("png-gray1.png", OPT_NONE, png(19, 5, 0, 1, lambda x, y: ((x + y) & 1,)))
    put("png-gray2.png", OPT_NONE, png(13, 6, 0, 2, lambda x, y: ((x + y) & 3,)))
    put("png-gray8.png", OPT_NONE, png(16, 16, 0, 8, lambda x, y: ((x * 16 + y) % 256,)))
    put("png-gray16.png", OPT_NONE, png(8, 8, 0, 16, lambda x, y: ((x * 8000 + y * 300) % 65536,)))
    put("png-graya.png", OPT_NONE, png(8, 5, 4, 8, lambda x, y: (x * 30, y * 40)))
    put("png-interlaced.png", OPT_NONE, png(13, 11, 2, 8, rgb, interlace=True))
    put("png-interlaced-pal2.png", OPT_NONE,
        png(9, 9, 3, 2, lambda x, y: ((x + 2 * y) % 4,), interlace=True))
    put("png-exif6.png", OPT_EXIF, png(10, 6, 2, 8, rgb, extra=png_chunk(b"eXIf", exif_block(6))))

    # WebP: lossless, lossy, with alpha, extended with EXIF.
    put("webp-lossless.webp", OPT_NONE, pil_bytes(gradient(20, 14), "WEBP", lossless=True))
    put("webp-lossy.webp", OPT_SCALE_64, pil_bytes(gradient(24, 16), "WEBP", quality=50))
    put("webp-alpha.webp", OPT_NONE,
        pil_bytes(gradient(16, 10, "RGBA"), "WEBP", lossless=True))
    put("webp-exif6.webp", OPT_EXIF,
        pil_bytes(gradient(12, 8), "WEBP", quality=40, exif=b"Exif\0\0" + exif_block(6)))

    # TIFF: raw, LZW, PackBits, Deflate, gray, palette, bilevel, orientation.
    put("tiff-raw.tif", OPT_NONE, pil_bytes(gradient(12, 8), "TIFF"))
    put("tiff-lzw.tif", OPT_NONE, pil_bytes(gradient(20, 12), "TIFF", compression="tiff_lzw"))
    put("tiff-packbits-gray.tif", OPT_NONE,
        pil_bytes(gradient(16, 9, "L"), "TIFF", compression="packbits"))
    put("tiff-deflate-rgba.tif", OPT_NONE,
        pil_bytes(gradient(10, 7, "RGBA"), "TIFF", compression="tiff_adobe_deflate"))
    put("tiff-palette.tif", OPT_SMALL, pil_bytes(gradient(14, 6, "P"), "TIFF"))
    put("tiff-bilevel-g4.tif", OPT_NONE,
        pil_bytes(gradient(32, 8, "1"), "TIFF", compression="group4"))
    put("tiff-orient6.tif", OPT_EXIF, pil_bytes(gradient(9, 5), "TIFF", tiffinfo={274: 6}))
    put("tiff-jpeg.tif", OPT_NONE, pil_bytes(gradient(16, 16), "TIFF", compression="jpeg"))

    # BMP and PNM.
    put("bmp-24.bmp", OPT_NONE, bmp(7, 5, 24))
    put("bmp-32-topdown.bmp", OPT_NONE, bmp(6, 4, 32, top_down=True))
    put("bmp-8.bmp", OPT_SMALL, bmp(9, 6, 8))
    put("bmp-1.bmp", OPT_NONE, bmp(13, 3, 1))
    put("ppm-p6.ppm", OPT_NONE, pnm(6, 8, 6, 255))
    put("ppm-p6-maxval100.ppm", OPT_NONE, pnm(6, 5, 4, 100, comment=True))
    put("ppm-p6-16bit.ppm", OPT_NONE, pnm(6, 4, 3, 1000))
    put("pgm-p5.pgm", OPT_NONE, pnm(5, 10, 7, 255))
    put("pgm-p5-16bit.pgm", OPT_EXIF, pnm(5, 6, 5, 65535))
    put("pgm-p2-plain.pgm", OPT_NONE, pnm(2, 4, 3, 15))

    # Records: codec, width, height (LE16), stride extra, payload.
    def rec(name, codec, w, h, extra, payload):
        with open(os.path.join(rdir, name), "wb") as f:
            f.write(struct.pack("<BHHB", codec, w, h, extra) + payload)

    small = gradient(16, 12)
    raw = small.tobytes()
    rec("raw-16x12", 0, 16, 12, 5, raw)
    rec("raw-1x1", 0, 1, 1, 1, b"\x10\x20\x30")
    rec("regress-raw-short-payload", 0, 16, 12, 3, raw[:-1])  # read past the payload before
    rec("zstd-16x12", 2, 16, 12, 7, zstd(raw))
    rec("zstd-33x7", 2, 33, 7, 2, zstd(gradient(33, 7).tobytes()))
    rec("zstd-wrong-size", 2, 16, 11, 1, zstd(raw))
    rec("jpeg-16x12", 1, 16, 12, 9, pil_bytes(small, "JPEG", quality=80))
    rec("jpeg-33x17-gray", 1, 33, 17, 4, pil_bytes(gradient(33, 17, "L"), "JPEG", quality=80))
    rec("jpeg-progressive", 1, 24, 16, 3,
        pil_bytes(gradient(24, 16), "JPEG", quality=70, progressive=True))
    rec("jpeg-444-cmyk", 1, 24, 16, 1, pil_bytes(gradient(24, 16, "CMYK"), "JPEG", quality=70))
    rec("unknown-codec", 7, 4, 4, 1, b"\x00" * 48)


if __name__ == "__main__":
    main()
