#!/usr/bin/env python3
"""Pack an ImageFolder tree as N parts with PySpark (one task per part), then merge.

    python spark_pack.py SRC OUT N [--cpus C] [--master URL] [--set KEY=VALUE ...]
    (or spark-submit spark_pack.py ...; --master defaults to local[*])

SRC and OUT must be the same paths on every executor (a shared file system).
Each task holds C CPUs (spark.task.cpus) and packs with that many threads.
Spark retries a failed task and, with spark.speculation=true, may run a second
attempt of a slow task at the same time: both are safe (pvpack build --part:
a complete part is a no-op, racing attempts leave one part, same bytes).
"""
import argparse
import ast
import os
import sys
import time

from pyspark import SparkConf, SparkContext, TaskContext

import pvpack


def pack_part(k, src, out, n, opts):
    threads = TaskContext.get().cpus()  # spark.task.cpus
    s = pvpack.build(src, out, part=(k, n), threads=threads, quiet=True, **opts)
    return s.images, s.skipped


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("n", type=int, help="number of parts (tasks)")
    ap.add_argument("--cpus", type=int, default=1, help="CPUs (threads) per part")
    ap.add_argument("--master", default="local[*]", help="unless spark-submit set one")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a pvpack.build option, e.g. codec=jpeg or shard_size=256M")
    a = ap.parse_args()
    opts = {}
    for kv in a.set:
        key, text = kv.split("=", 1)
        try:
            opts[key] = ast.literal_eval(text)  # 40960, True, ...
        except (ValueError, SyntaxError):
            opts[key] = text  # a plain string: jpeg, 256M
    src, out, n = os.path.abspath(a.src), os.path.abspath(a.out), a.n
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers run this Python
    conf = (SparkConf().setAppName("pvpack").setIfMissing("spark.master", a.master)
            .set("spark.task.cpus", str(a.cpus)).set("spark.ui.showConsoleProgress", "false"))
    sc = SparkContext(conf=conf)
    sc.setLogLevel("ERROR")
    t0 = time.monotonic()
    pvpack.plan(src, out, n, quiet=True, **opts)  # the tree listed once, on the driver
    done = sc.parallelize(range(n), n).map(lambda k: pack_part(k, src, out, n, opts)).collect()
    t1 = time.monotonic()
    m = pvpack.merge(out)  # on the driver, once every part is complete
    sc.stop()
    print(f"spark: {n} parts, {sum(i for i, _ in done)} images ({sum(s for _, s in done)} "
          f"skipped) in {t1 - t0:.1f} s; merge {time.monotonic() - t1:.2f} s: "
          f"{m['images']} records, {m['shards']} shards in {out}")


if __name__ == "__main__":
    main()
