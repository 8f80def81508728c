"""pvpack.build: the packer, in-process."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Union

from . import _pvpack
from ._dataset import PathLike

_RESIZE = {"shorter": 0, "longer": 1, "none": 2}
_FILTERS = {"bilinear": 0, "bicubic": 1, "lanczos": 2}
_CODECS = {"raw": 0, "jpeg": 1, "zstd": 2, "auto": 3}
_PROGRESS = {"none": 0, "bar": 1, "lines": 2}


@dataclass(frozen=True)
class BuildSummary:
    """What pvpack.build wrote (the command's closing summary)."""
    out: str
    files: int
    images: int
    skipped: int
    classes: int
    shards: int
    bytes_in: int
    bytes_out: int
    codecs: Dict[str, int]
    original: int
    seconds: float


def _bytes(name: str, v: Union[int, str]) -> int:
    """An int, or a string with a K/M/G suffix like the command line's."""
    if isinstance(v, int):
        n = v
    else:
        s = str(v).strip()
        mul = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(s[-1:].lower(), 1)
        try:
            n = int(s[:-1] if mul > 1 else s) * mul
        except ValueError:
            raise ValueError(f"{name}: {v!r} is not a byte count (e.g. 256M)") from None
    if n < 0:
        raise ValueError(f"{name} must be >= 0")
    return n


def _pick(name: str, v: str, table: Dict[str, int]) -> int:
    if v not in table:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, table))}, not {v!r}")
    return table[v]


def build(src: PathLike, out: Optional[PathLike] = None, *, resize: str = "shorter",
          size: int = 256, filter: str = "bilinear", codec: str = "jpeg",
          auto_threshold: Union[int, str] = 65536, quality: int = 90, zstd_level: int = 3,
          keep_original: bool = True, shard_size: Union[int, str] = "256M", shuffle: bool = True,
          seed: int = 0, threads: Optional[int] = None, max_pixels: int = 178956970,
          max_file_size: Union[int, str] = "1G", exif_orientation: bool = False,
          strict: bool = False, force: bool = False, progress: Optional[str] = None,
          quiet: bool = False,
          log: Optional[Callable[[str, str], None]] = None) -> BuildSummary:
    """Pack the ImageFolder tree ``src`` into a dataset directory, like
    ``pvpack build SRC [-o OUT] [options]`` (same options, same defaults, same
    output bytes), in this process.

    Args:
        src: the ImageFolder root (one sub-folder per class).
        out: the dataset directory to write (default ``SRC.pvpack`` beside SRC).
            An existing one is replaced only with ``force=True``, and only once
            the new dataset is complete.
        resize: 'shorter' (torchvision Resize(size)), 'longer' or 'none'.
        size: the resize target (default 256).
        filter: 'bilinear', 'bicubic' or 'lanczos'.
        codec: 'jpeg', 'raw', 'zstd' or 'auto' (zstd for images whose raw RGB
            size is at most ``auto_threshold`` bytes, jpeg for the others).
        quality: JPEG quality; zstd_level: zstd level.
        keep_original: store source JPEGs that need no change byte for byte.
        shard_size: target shard size, bytes or '256M'-style.
        shuffle, seed: shuffle the record order at pack time.
        threads: worker threads (None: all cores).
        max_pixels, max_file_size: skip larger inputs.
        exif_orientation: apply EXIF orientation (torchvision does not).
        strict: fail (pvpack.Error PV_ERR_SKIPPED) if any file is skipped.
        force: replace an existing ``out``.
        progress: 'bar', 'lines' or 'none' on stderr (default: a bar when
            stderr is a terminal, else periodic lines; 'none' when quiet).
        quiet: no progress and no per-file lines (warnings still print).
        log: called as ``log(level, line)`` (level 'info', 'warn' or 'skip')
            for each message instead of printing it to stderr.

    Returns:
        BuildSummary: counts, sizes and time.

    Raises:
        pvpack.Error: ``status_name`` says why: PV_ERR_NOT_FOUND (no src),
            PV_ERR_EXISTS (out exists, no force), PV_ERR_EMPTY (nothing to
            pack), PV_ERR_SKIPPED (strict), PV_ERR_IO, ...
        KeyboardInterrupt: Ctrl-C cancels the build; its temporary directory
            is removed and ``out`` is left as it was.
    """
    opts = {
        "resize": _pick("resize", resize, _RESIZE), "size": int(size),
        "filter": _pick("filter", filter, _FILTERS), "codec": _pick("codec", codec, _CODECS),
        "auto_threshold": _bytes("auto_threshold", auto_threshold), "quality": int(quality),
        "zstd_level": int(zstd_level), "keep_original": int(bool(keep_original)),
        "shard_size": _bytes("shard_size", shard_size), "shuffle": int(bool(shuffle)),
        "seed": int(seed), "threads": int(threads or 0), "max_pixels": int(max_pixels),
        "max_file_size": _bytes("max_file_size", max_file_size),
        "exif_orientation": int(bool(exif_orientation)), "strict": int(bool(strict)),
        "force": int(bool(force)),
    }
    if not 1 <= opts["size"] <= 65500:
        raise ValueError("size must be 1..65500")
    if not 1 <= opts["quality"] <= 100:
        raise ValueError("quality must be 1..100")
    if not 1 <= opts["zstd_level"] <= 22:
        raise ValueError("zstd_level must be 1..22")
    if threads is not None and not 1 <= threads <= 1024:
        raise ValueError("threads must be 1..1024 (or None for all cores)")
    if progress is not None:
        opts["progress"] = _pick("progress", progress, _PROGRESS)
    if quiet:
        opts["progress"] = 0
    if log is None and quiet:
        def log(level: str, line: str) -> None:
            if level == "warn":
                print(line, file=sys.stderr)
    src_s = os.fspath(src)
    out_s = os.fspath(out) if out is not None else _pvpack.default_output_dir(src_s)
    r = _pvpack.build(src_s, out_s, opts, log)
    return BuildSummary(**r)
