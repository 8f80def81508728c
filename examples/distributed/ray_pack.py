#!/usr/bin/env python3
"""Pack an ImageFolder tree as N parts on a Ray cluster, then merge them.

    python ray_pack.py SRC OUT N [--cpus C] [--address ADDR] [--set KEY=VALUE ...]

SRC and OUT must be the same paths on every node (a shared file system). Each
part is a Ray task holding C CPUs and packing with C threads. Ray reruns a
task whose worker or node died (max_retries); a rerun, or one running beside a
first attempt that is not dead after all, is safe: a complete part is a no-op,
and attempts racing on one part leave one part, same bytes (build --part).
"""
import argparse
import ast
import os
import time

import ray

import pvpack


@ray.remote(max_retries=3)
def pack_part(src, out, k, n, threads, options):
    s = pvpack.build(src, out, part=(k, n), threads=threads, quiet=True, **options)
    return s.images, s.skipped


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("n", type=int, help="number of parts (tasks)")
    ap.add_argument("--cpus", type=int, default=1, help="CPUs (threads) per part")
    ap.add_argument("--address", help="a running Ray cluster (default: start a local one)")
    ap.add_argument("--num-cpus", type=int, help="CPUs of the local cluster")
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
    src, out = os.path.abspath(a.src), os.path.abspath(a.out)
    ray.init(address=a.address) if a.address else ray.init(num_cpus=a.num_cpus)
    t0 = time.monotonic()
    # The tree listed once, here: the tasks read their slice of the plan
    # instead of each listing the whole tree (pvpack build --plan).
    pvpack.plan(src, out, a.n, quiet=True, **opts)
    task = pack_part.options(num_cpus=a.cpus)
    done = ray.get([task.remote(src, out, k, a.n, a.cpus, opts) for k in range(a.n)])
    t1 = time.monotonic()
    m = pvpack.merge(out)  # on the driver, once every part is complete
    print(f"ray: {a.n} parts, {sum(i for i, _ in done)} images ({sum(s for _, s in done)} "
          f"skipped) in {t1 - t0:.1f} s; merge {time.monotonic() - t1:.2f} s: "
          f"{m['images']} records, {m['shards']} shards in {out}")


if __name__ == "__main__":
    main()
