"""Fixtures: a synthetic ImageFolder tree (written in-test with PIL) packed
with pvpack.build. No files outside the checkout, no network."""
import os

import numpy as np
import pytest

import pvpack

N_IMAGES = 47  # prime: every batch size and world size leaves a tail
CLASSES = ["ant", "bee", "cat dog"]


def _pattern(h, w, seed):
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // max(w - 1, 1) + seed * 17) % 256
    g = (y * 255 // max(h - 1, 1) + seed * 31) % 256
    b = ((x + y) * 4 + seed * 53) % 256
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def write_tree(root):
    from PIL import Image
    for i in range(N_IMAGES):
        d = os.path.join(root, CLASSES[i % len(CLASSES)])
        os.makedirs(d, exist_ok=True)
        h, w = 60 + (i * 37) % 90, 70 + (i * 53) % 100
        img = Image.fromarray(_pattern(h, w, i))
        if i % 11 == 5:
            img.save(os.path.join(d, f"img{i:03d}.png"))
        else:
            img.save(os.path.join(d, f"img{i:03d}.jpg"), quality=92)


@pytest.fixture(scope="session")
def tree(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("src") / "imagefolder")
    write_tree(root)
    return root


@pytest.fixture(scope="session")
def packed(tree, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("ds") / "data.pvpack")
    pvpack.build(tree, out, shard_size=40 * 1024, quiet=True)  # several shards
    return out
