"""pvpack.build: the packer, in-process.

Its keywords are libpvpack's build options table (``_pvpack.options('build')``,
pack/build_options.h), the same table ``pvpack build`` takes its flags,
ranges, defaults and --help from; the values are checked by the library.
Intentional differences from the command line (python/tests/test_options.py
checks that there are no others):

- ``out`` is the second argument, the command's ``-o/--output``.
- ``threads=None`` (the default) is the table's 0, "the CPUs this process
  may use"; an explicit 0 is refused, as before.
- ``progress`` also takes a callable ``f(done, total)`` and 'tqdm'; None
  (the default) is a ``tqdm.auto`` bar when tqdm is installed, else the
  table's default, 'auto' (printed by C on fd 2).
- ``log`` exists only here (the command prints to stderr); None (the
  default) sends the lines to ``logging.getLogger("pvpack")``.
"""
from __future__ import annotations

import importlib.util
import inspect
import logging
import os
import textwrap
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple

from . import _pvpack
from ._dataset import PathLike

_TABLE = _pvpack.options("build")
_BY_NAME = {o["name"]: o for o in _TABLE}
# Python keyword -> its default where it is not the table's (see above).
_PY_DEFAULTS: Dict[str, Any] = {"threads": None, "progress": None}
_PY_NOTES = {"threads": "here None is that, and 0 is refused",
             "progress": "also 'tqdm' or a callable f(done, total); None: a tqdm.auto bar "
                         "when tqdm is installed, else 'auto'"}
_PROGRESS_CHOICES = tuple(_BY_NAME["progress"]["choices"])

logger = logging.getLogger("pvpack")
# build's log levels -> logging's: skipped files are warnings too (a build
# that drops inputs should be seen), info lines are info.
_LEVELS = {"info": logging.INFO, "warn": logging.WARNING, "skip": logging.WARNING}


def _to_logger(level: str, line: str) -> None:
    logger.log(_LEVELS.get(level, logging.INFO), "%s", line, extra={"pvpack_level": level})


class _Tqdm:
    """progress(done, total) -> a tqdm.auto bar (notebook widget or terminal
    bar), created at the first call, closed at the last."""

    def __init__(self, desc: str) -> None:
        from tqdm.auto import tqdm
        self._tqdm, self._desc, self.bar = tqdm, desc, None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = self._tqdm(total=total, desc=self._desc, unit="img")
        self.bar.update(done - self.bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _progress(progress: Any, desc: str) -> Tuple[Optional[str], Any]:
    """(the table's progress choice or None for its default, the callback or None)."""
    if progress is None:
        if importlib.util.find_spec("tqdm") is not None:
            return None, _Tqdm(desc)
        return None, None
    if isinstance(progress, str):
        if progress == "tqdm":
            if importlib.util.find_spec("tqdm") is None:
                raise ImportError("progress='tqdm' needs tqdm (pip install tqdm)")
            return None, _Tqdm(desc)
        if progress not in _PROGRESS_CHOICES:
            raise ValueError(f"progress must be one of {', '.join(map(repr, _PROGRESS_CHOICES))}"
                             f", 'tqdm' or a callable, not {progress!r}")
        return progress, None
    if callable(progress):
        return None, progress
    raise TypeError(f"progress must be a string, a callable or None, not "
                    f"{type(progress).__name__}")


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


def _signature() -> inspect.Signature:
    P = inspect.Parameter
    params = [P("src", P.POSITIONAL_OR_KEYWORD), P("out", P.POSITIONAL_OR_KEYWORD, default=None)]
    for o in _TABLE:
        params.append(P(o["name"], P.KEYWORD_ONLY, default=_PY_DEFAULTS.get(o["name"], o["default"])))
    params += [P("quiet", P.KEYWORD_ONLY, default=False), P("log", P.KEYWORD_ONLY, default=None),
               P("part", P.KEYWORD_ONLY, default=None)]
    return inspect.Signature(params, return_annotation=BuildSummary)


_SIGNATURE = _signature()


def _describe(o: Dict[str, Any]) -> str:
    """One option's line in the docstring: help, choices or range, default
    (as ``pvpack build --help`` writes them)."""
    text = o["help"]
    if o["kind"] == "choice":
        text += "; one of " + ", ".join(repr(c) for c in o["choices"])
    elif o["kind"] in ("int", "bytes") and o["max"] < 2**63:
        text += f"; {o['min']}..{o['max']}"
    elif o["kind"] in ("int", "bytes") and o["min"] > 0:
        text += f"; at least {o['min']}"
    if o["kind"] == "bytes":
        text += " (an int, or a string such as '256M')"
    if o["name"] in _PY_NOTES:
        text += f" ({_PY_NOTES[o['name']]})"
    default = _PY_DEFAULTS.get(o["name"], o["default"])
    return textwrap.fill(f"{o['name']}: {text} (default {default!r}).", width=80,
                         initial_indent=" " * 8, subsequent_indent=" " * 12)


def build(src: PathLike, out: Optional[PathLike] = None, **options: Any) -> BuildSummary:
    return _build(src, out, None, options)


def plan(src: PathLike, out: PathLike, parts: int, **options: Any) -> BuildSummary:
    """List the tree ``src`` once for a build in ``parts`` parts, like ``pvpack
    build SRC -o OUT --parts N --plan``: writes ``out/parts/plan/`` (every
    part's slice of the plan: paths, labels, sizes, modification times), which
    ``build(src, out, part=(k, parts), **options)`` then reads instead of
    listing the whole tree itself. Run it once (on the driver, or as a job
    before the parts): N parts then cost one listing, not N. The parts must
    get the same options (else pvpack.Error PV_ERR_INVALID_ARG naming the
    option); a file changed since the plan fails its part (PV_ERR_CHANGED).
    A plan already there for the same tree, options and N is kept; another
    is refused (PV_ERR_EXISTS) unless ``force=True``. Options: those of :func:`build`, without part.
    Releases the GIL; no global state.

    Returns:
        BuildSummary: files and classes of the tree.
    """
    if "part" in options:
        raise TypeError("plan() takes parts=n, not part")
    if isinstance(parts, bool) or not isinstance(parts, int):
        raise TypeError("parts must be an int")
    return _build(src, out, parts, options)


def _build(src: PathLike, out: Optional[PathLike], plan_parts: Optional[int],
           options: Dict[str, Any]) -> BuildSummary:
    a = _SIGNATURE.bind(src, out, **options)
    a.apply_defaults()
    args = dict(a.arguments)
    src, out = args.pop("src"), args.pop("out")
    quiet: bool = bool(args.pop("quiet"))
    log: Optional[Callable[[str, str], None]] = args.pop("log")
    part = args.pop("part")
    if part is not None:
        if out is None:
            raise ValueError("part=(k, n) needs out (the directory every part shares)")
        part = tuple(part)
    threads = args["threads"]
    if threads is None:
        args["threads"] = 0
    elif isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        top = _BY_NAME["threads"]["max"]
        raise ValueError(f"threads must be 1..{top} (or None for all cores)")
    choice, on_progress = _progress(args.pop("progress"), os.path.basename(
        os.path.normpath(os.fspath(src))))
    if choice is not None:
        args["progress"] = choice
    if quiet:
        args["progress"], on_progress = "none", None
    if log is None:
        log = _to_logger
        if quiet:
            def log(level: str, line: str) -> None:
                if level == "warn":
                    _to_logger(level, line)
    src_s = os.fspath(src)
    out_s = os.fspath(out) if out is not None else _pvpack.default_output_dir(src_s)
    if plan_parts is not None and out is None:
        raise ValueError("plan() needs out (the directory every part shares)")
    try:
        r = _pvpack.build(src_s, out_s, args, log, part, on_progress, plan_parts)
    finally:
        if isinstance(on_progress, _Tqdm):
            on_progress.close()
    return BuildSummary(**r)


def merge(out: PathLike) -> Dict[str, int]:
    """Merge the parts in ``out/parts/`` (written by ``build(src, out,
    part=(k, n))`` for k in range(n)) into the dataset ``out``, like ``pvpack
    merge OUT``: refuses a missing part and parts of other plans; rewrites only
    shard headers, footers and the index; a killed merge is finished by calling
    it again. Releases the GIL; no global state.

    Returns:
        dict: images, skipped, classes, shards, bytes_out.

    Raises:
        pvpack.Error: PV_ERR_NOT_FOUND (a part missing), PV_ERR_INVALID_ARG
            (parts of another plan or N), PV_ERR_EXISTS (out holds a dataset).
    """
    return _pvpack.merge(os.fspath(out))


build.__signature__ = _SIGNATURE  # type: ignore[attr-defined]
build.__doc__ = """Pack the ImageFolder tree ``src`` into a dataset directory, like
    ``pvpack build SRC [-o OUT] [options]`` (same options, same defaults, same
    output bytes), in this process.

    Args:
        src: the ImageFolder root (one sub-folder per class).
        out: the dataset directory to write (default ``SRC.pvpack`` beside SRC).
            An existing one is replaced only with ``force=True``, and only once
            the new dataset is complete.
{options}
        quiet: no progress and no per-file lines (warnings still go to the
            logger).
        log: called as ``log(level, line)`` (level 'info', 'warn' or 'skip')
            for each message. None (default): each goes to
            ``logging.getLogger("pvpack")`` -- 'warn' and 'skip' as WARNING,
            'info' as INFO, the level name in the record's ``pvpack_level``
            -- so notebooks and applications see them in order, where
            logging's handlers put them (unconfigured: WARNING and above on
            ``sys.stderr``).
        part: ``(k, n)`` to build part k of n (0 <= k < n) into
            ``out/parts/k-of-n/`` (then ``pvpack.merge(out)``); a plain
            function call, so a Ray task, a Spark ``foreach`` or a Dask
            delayed call can run it. A part already complete is left as is.

    Out-of-range values raise ValueError, values of the wrong type TypeError,
    as the library checks them (the command line's own checks).

    Returns:
        BuildSummary: counts, sizes and time.

    Raises:
        pvpack.Error: ``status_name`` says why: PV_ERR_NOT_FOUND (no src),
            PV_ERR_EXISTS (out exists, no force), PV_ERR_EMPTY (nothing to
            pack), PV_ERR_SKIPPED (strict), PV_ERR_IO, ...
        KeyboardInterrupt: Ctrl-C cancels the build; its temporary directory
            is removed and ``out`` is left as it was.
    """.format(options="\n".join(_describe(o) for o in _TABLE))
