"""pvpack.Dataset as a torch.utils.data.Dataset: isinstance, pickling, a
DataLoader with spawn / forkserver workers, PIL and CHW-tensor outputs, and
ImageFolder's samples / targets."""
import copy
import os
import pickle

import numpy as np
import pytest

import pvpack

torch = pytest.importorskip("torch")


def test_is_a_torch_map_style_dataset(packed):
    ds = pvpack.Dataset(packed)
    assert isinstance(ds, torch.utils.data.Dataset)
    sub = torch.utils.data.Subset(ds, [3, 1])
    assert np.array_equal(sub[0][0], ds[3][0]) and sub[1][1] == ds[1][1]


def test_pickles_by_path_and_options(packed):
    ds = pvpack.Dataset(packed, output="tensor", max_scans=400, verify_on_read=True)
    ds2 = pickle.loads(pickle.dumps(ds))
    assert ds2.root == ds.root and len(ds2) == len(ds) and ds2.output == "tensor"
    assert ds2.classes == ds.classes and ds2.class_to_idx == ds.class_to_idx
    for i in (0, 5, len(ds) - 1):
        assert torch.equal(ds2[i][0], ds[i][0]) and ds2[i][1] == ds[i][1]
    ds3 = copy.deepcopy(ds)
    assert torch.equal(ds3[2][0], ds[2][0])


def _worker_items(packed, ctx):
    ds = pvpack.Dataset(packed)
    dl = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2,
                                     multiprocessing_context=ctx)
    return [(img, int(lbl)) for img, lbl in dl]


@pytest.mark.parametrize("ctx", ["spawn", "forkserver"])
def test_dataloader_workers_spawn_forkserver(packed, ctx):
    ds = pvpack.Dataset(packed)
    got = _worker_items(packed, ctx)
    assert len(got) == len(ds)
    for i, (img, lbl) in enumerate(got):
        ref, ref_lbl = ds[i]
        assert lbl == ref_lbl
        assert np.array_equal(img.numpy(), ref)


def test_output_pil_and_tensor(packed):
    from PIL import Image
    ds = pvpack.Dataset(packed)
    pil = pvpack.Dataset(packed, output="pil")
    ten = pvpack.Dataset(packed, output="tensor")
    for i in (0, 7):
        a, lbl = ds[i]
        p, pl = pil[i]
        t, tl = ten[i]
        assert isinstance(p, Image.Image) and p.mode == "RGB" and p.size == (a.shape[1], a.shape[0])
        assert np.array_equal(np.asarray(p), a) and pl == lbl
        assert t.dtype == torch.uint8 and tuple(t.shape) == (3, a.shape[0], a.shape[1])
        assert np.array_equal(t.permute(1, 2, 0).numpy(), a) and tl == lbl
    # the transform sees the chosen type, as ImageFolder's would
    seen = []
    ds_t = pvpack.Dataset(packed, output="pil", transform=lambda im: seen.append(type(im)) or 1)
    assert ds_t[0][0] == 1 and issubclass(seen[0], Image.Image)
    with pytest.raises(ValueError, match="output must be one of"):
        pvpack.Dataset(packed, output="jpeg")


def test_samples_and_targets_as_imagefolder(packed, tree):
    ds = pvpack.Dataset(packed)
    samples = ds.samples
    assert len(samples) == len(ds)
    assert all(isinstance(p, str) and isinstance(c, int) for p, c in samples)
    assert samples == [(ds.source_path(i), ds.label(i)) for i in range(len(ds))]
    assert ds.targets == [c for _, c in samples]
    assert ds.imgs == samples
    # ImageFolder's (path, class_index) pairs of the source tree, as a set
    # (pack order is shuffled): the same pairs, paths relative to the tree.
    want = set()
    for cls in sorted(os.listdir(tree)):
        for f in os.listdir(os.path.join(tree, cls)):
            want.add((f"{cls}/{f}", ds.class_to_idx[cls]))
    assert set(samples) == want
    samples.append(("x", 0))  # a copy: the dataset's list is not changed
    assert len(ds.samples) == len(ds)
