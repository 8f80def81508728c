"""One options table (issue 10, item 4): the command line and the Python API
take the same options, with the same defaults.

The command's side is read from its --help (`pvpack build --help`,
`pvpack bench --help`), the Python side from the signatures of pvpack.build,
pvpack.Loader and pvpack.Dataset, so a flag added to one and not the other,
or a default changed in one, fails here. The differences that are meant to
be are listed below, each with its reason.
"""
import filecmp
import inspect
import os
import re
import subprocess

import pytest

import pvpack
from pvpack import _pvpack

# ---- what the command and Python do not share, on purpose -------------------

# pvpack build: flags that are not options of the build, and their Python
# counterparts.
BUILD_CLI_ONLY = {"--output",             # Python: the second argument, `out`
                  "--parts",              # K from a job array's environment; Python: part=(k, n)
                  "--plan"}               # Python: pvpack.plan(src, out, n, **options)
BUILD_PY_ONLY = {"src", "out", "log"}    # src/out: arguments; log: a callback
# Python defaults that are not the command's: None means "the command's
# default" (threads: all CPUs, the CLI's 0; progress: auto).
# part: None, the command without --part (one whole build).
BUILD_PY_DEFAULTS = {"threads": None, "progress": None, "part": None}

# pvpack bench is a benchmark: it has the loader options a benchmark varies
# (PV_OPTION_CLI in reader/loader_options.h) and its own --epochs, --json and
# --batch (the old name of --batch-size). Loader has every loader option but
# start_batch (resume goes through load_state_dict), plus what only Python has
# (device, output, hold_limit, the CUDA depth and host_memory, the Python
# transform hooks sample_transform and batch_transform, pin_memory).
BENCH_ONLY = {"--epochs", "--json", "--batch"}
LOADER_NOT_IN_BENCH = {
    "eval_resize", "scale", "ratio", "flip_prob", "filter", "epoch", "drop_last",
    "block_records", "block_group", "rank", "world_size", "rank_drop", "rank_unrepeated", "mean", "std", "on_error",
    "device", "output", "hold_limit", "depth", "host_memory", "distributed", "with_records",
    "indices", "classes", "sample_transform", "batch_transform", "pin_memory"}
# Loader's defaults give torch's convention (float32 NCHW, normalized);
# bench's give the C loader's (uint8 NHWC). threads None = the CLI's 0.
# seed None: drawn (torch.initial_seed() or the OS); order None: shuffle for
# the train pipeline, sequential for eval and none.
LOADER_PY_DEFAULTS = {"dtype": ("float32", "uint8"), "layout": ("NCHW", "nhwc"),
                      "threads": (None, "0"), "seed": (None, "0"), "order": (None, "shuffle")}


def _cli():
    cli = os.environ.get("PVPACK_BIN")
    if not cli:
        pytest.skip("PVPACK_BIN not set (ctest sets it)")
    return cli


def _help(cmd):
    """{flag: default text or None} from `pvpack CMD --help`."""
    out = subprocess.run([_cli(), cmd, "--help"], check=True, capture_output=True,
                         text=True).stdout
    flags, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"^  (?:-\w, )?(--[a-z0-9-]+)", line)
        if m:
            cur = m.group(1)
            flags[cur] = None
        if cur:
            d = re.search(r"\(default ([^;)]+)", line)
            if d and flags[cur] is None:
                flags[cur] = d.group(1)
    return flags


def _flag(name, default):
    """The naming rule of pv_option.h: --name, --no-name for a bool on by default."""
    return ("--no-" if default is True else "--") + name.replace("_", "-")


def _cli_text(v):
    """A Python default as the command's --help writes it."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        for k, s in ((30, "G"), (20, "M"), (10, "K")):
            if v >= 1 << k and v % (1 << k) == 0:
                return f"{v >> k}{s}"
        return str(v)
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, tuple):
        return ",".join(f"{x:g}" for x in v)
    return str(v)


def _keywords(fn):
    return {k: p.default for k, p in inspect.signature(fn).parameters.items()
            if k != "self" and p.kind != p.VAR_KEYWORD}


def test_build_options_match_cli():
    cli = _help("build")
    py = _keywords(pvpack.build)
    py_flags = {_flag(k, v if k not in BUILD_PY_DEFAULTS else None): k
                for k, v in py.items() if k not in BUILD_PY_ONLY}
    assert set(cli) - BUILD_CLI_ONLY == set(py_flags), (
        f"only the command: {sorted(set(cli) - BUILD_CLI_ONLY - set(py_flags))}; "
        f"only Python: {sorted(set(py_flags) - set(cli))}")
    for flag, k in py_flags.items():
        if k in BUILD_PY_DEFAULTS:
            assert py[k] == BUILD_PY_DEFAULTS[k]
            continue
        assert cli[flag] == _cli_text(py[k]), (flag, cli[flag], py[k])
    # jpeg_restart used to be missing from Python (issue 10)
    assert py["jpeg_restart"] == 4 and cli["--jpeg-restart"] == "4"


def test_loader_options_match_bench():
    cli = _help("bench")
    py = _keywords(pvpack.Loader)
    limits = {o["name"] for o in _pvpack.options("limits")}
    py_flags = {_flag(k, v): k for k, v in py.items()
                if k not in limits and k not in LOADER_NOT_IN_BENCH and k != "source"}
    bench = {f for f in cli if f not in BENCH_ONLY and f[2:].replace("-", "_") not in limits}
    assert bench == set(py_flags), (
        f"only bench: {sorted(bench - set(py_flags))}; only Loader: "
        f"{sorted(set(py_flags) - bench)} (add it to bench or to LOADER_NOT_IN_BENCH)")
    for flag, k in py_flags.items():
        if k in LOADER_PY_DEFAULTS:
            want_py, want_cli = LOADER_PY_DEFAULTS[k]
            assert py[k] == want_py and cli[flag] == want_cli, (k, py[k], cli[flag])
            continue
        assert cli[flag] == _cli_text(py[k]), (flag, cli[flag], py[k])
    # Loader keywords are loader options or documented Python-only ones
    table = {o["group"] or o["name"] for o in _pvpack.options("loader")} - {"start_batch"}
    assert set(py) - {"source"} - limits == table | {"device", "output", "hold_limit", "depth",
                                                      "host_memory", "distributed",
                                                      "with_records", "indices", "classes",
                                                      "sample_transform", "batch_transform",
                                                      "pin_memory"}


@pytest.mark.parametrize("cmd", ["bench", "verify", "get"])
def test_limit_flags_match_keywords(cmd):
    cli = _help(cmd)
    names = [o["name"] for o in _pvpack.options("limits")]
    for fn in (pvpack.Dataset, pvpack.Loader):
        kw = _keywords(fn)
        assert all(kw[n] is None for n in names)  # None: the library's default
    for o in _pvpack.options("limits"):
        assert cli[_flag(o["name"], None)] == _cli_text(o["default"])


def test_imagenet_statistics_come_from_c():
    mean = next(o for o in _pvpack.options("loader") if o["name"] == "mean")["default"]
    std = next(o for o in _pvpack.options("loader") if o["name"] == "std")["default"]
    assert pvpack.IMAGENET_MEAN == mean == (0.485, 0.456, 0.406)
    assert pvpack.IMAGENET_STD == std == (0.229, 0.224, 0.225)
    assert _keywords(pvpack.Loader)["mean"] == mean


def test_build_jpeg_restart_matches_cli(tree, tmp_path):
    """Python's build() takes every CLI option: jpeg_restart (missing before)
    and the rest give the bytes `pvpack build` writes with the same flags."""
    cli = _cli()
    a, b = str(tmp_path / "py.pvpack"), str(tmp_path / "cli.pvpack")
    pvpack.build(tree, a, jpeg_restart=0, quality=80, shuffle=False, size=48,
                 filter="bicubic", progress="none", log=lambda *x: None)
    subprocess.run([cli, "build", tree, "-o", b, "--jpeg-restart", "0", "--quality", "80",
                    "--no-shuffle", "--size", "48", "--filter", "bicubic", "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    files = sorted(os.listdir(a))
    assert files == sorted(os.listdir(b))
    match, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    assert mismatch == [] and errors == [], mismatch
    built = pvpack.Dataset(a).build_options
    assert built["jpeg_restart"] == "0" and built["jpeg_quality"] == "80"
    assert built["shuffle"] == "0" and built["resize_to"] == "48" and built["filter"] == "bicubic"


def test_python_values_checked_by_the_table(tree, tmp_path):
    with pytest.raises(ValueError, match="jpeg_restart"):
        pvpack.build(tree, str(tmp_path / "x"), jpeg_restart=70000)
    with pytest.raises(ValueError, match="quality"):
        pvpack.build(tree, str(tmp_path / "x"), quality=101)
    with pytest.raises(TypeError):
        pvpack.build(tree, str(tmp_path / "x"), quality=90.0)
    with pytest.raises(TypeError):
        pvpack.build(tree, str(tmp_path / "x"), no_such_option=1)
    assert not os.path.exists(str(tmp_path / "x"))
    opts = {o["name"]: o for o in _pvpack.options("build")}
    assert opts["jpeg_restart"]["max"] == 65535 and opts["keep_original"]["flag"] == \
        "--no-keep-original"
