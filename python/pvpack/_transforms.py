"""Python transform hooks of pvpack.Loader (sample_transform, batch_transform).

The C pipeline (decode, crop, flip, resize, normalize) stays the default and
the fast path. With ``sample_transform`` the C loader produces uint8 CHW
crops; each one is handed to the hook as a ``(3, H, W)`` uint8 torch tensor
(torchvision ``transforms.v2``'s convention, so RandAugment,
TrivialAugmentWide, ColorJitter, RandomErasing apply to it), and the hook's
result is normalized / laid out as the loader's dtype, layout, mean and std
say, with the same arithmetic as the C conversion (an identity hook gives
the C loader's bytes). ``batch_transform(images, labels)`` is called on each
finished batch (MixUp, CutMix) and returns ``(images, labels)``.

Determinism: before each call the hook's random sources -- torch's default
CPU generator and Python's ``random`` -- are seeded from (loader seed, epoch,
record number) for a sample, from (loader seed, epoch, rank, batch index) for
a batch, and restored afterwards, so the user's own random streams are left
as they were and the same run gives the same tensors whatever ``threads`` is.
A hook that draws from other generators (NumPy's global one, its own
``torch.Generator``) is not covered.
"""
from __future__ import annotations

import random
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

_M64 = 2**64 - 1


def mix_seed(*values: int) -> int:
    """A 63-bit seed from integers (splitmix64 steps): distinct inputs give
    unrelated seeds; cheap enough per sample."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = (h ^ (v & _M64)) & _M64
        h = (h * 0xBF58476D1CE4E5B9) & _M64
        h ^= h >> 27
        h = (h * 0x94D049BB133111EB) & _M64
        h ^= h >> 31
    return h >> 1


_BATCH_SALT = 0x62617463685F7476  # keeps batch seeds apart from sample seeds


class HookSource:
    """Wraps a CPU batch source: the C loader runs uint8 NCHW, the hooks run
    here, the result is the loader's dtype and layout."""

    device = "cpu"

    def __init__(self, inner: Any, sample_transform: Optional[Callable[[Any], Any]],
                 batch_transform: Optional[Callable[[Any, Any], Tuple[Any, Any]]], dtype: str,
                 layout: str, mean: Any, std: Any, rank: int) -> None:
        import torch
        self._torch = torch
        self.inner = inner
        self.output = inner.output  # 'torch' (Loader checks)
        self.sample_transform = sample_transform
        self.batch_transform = batch_transform
        self.dtype, self.layout, self.rank = dtype, layout.upper(), rank
        self.seed = 0  # set by the Loader once its seed is known
        m = np.asarray(mean, dtype=np.float32)
        s = np.asarray(std, dtype=np.float32)
        # the C conversion's constants (image/convert.c), in float32
        scale = np.float32(1.0) / (np.float32(255.0) * s)
        bias = -m / s
        self._scale = torch.from_numpy(scale.astype(np.float32)).view(3, 1, 1)
        self._bias = torch.from_numpy(bias.astype(np.float32)).view(3, 1, 1)

    def create(self, ds: Any, opts: Dict[str, Any]) -> Any:
        if self.sample_transform is not None:
            opts = dict(opts, layout="NCHW")
            saved = self.inner.dtype
            self.inner.dtype = "uint8"
            try:
                return self.inner.create(ds, opts)
            finally:
                self.inner.dtype = saved
        return self.inner.create(ds, opts)

    def next(self, core: Any) -> Any:
        return self.inner.next(core)

    def _seeded(self, seed: int, fn: Callable[..., Any], *args: Any) -> Any:
        gen = self._torch.default_generator
        gen.manual_seed(seed)
        random.seed(seed)
        return fn(*args)

    def convert(self, batch: Any) -> Tuple[Any, Any]:
        torch = self._torch
        epoch, index = batch.epoch, batch.index
        records = np.frombuffer(batch.records, dtype=np.uint64) if \
            self.sample_transform is not None else None
        images, labels = self.inner.convert(batch)
        del batch
        t_state, p_state = torch.get_rng_state(), random.getstate()
        try:
            if self.sample_transform is not None:
                images = self._samples(images, records, epoch)
            if self.batch_transform is not None:
                r = self._seeded(mix_seed(self.seed ^ _BATCH_SALT, epoch, self.rank, index),
                                 self.batch_transform, images, labels)
                try:
                    images, labels = r
                except (TypeError, ValueError):
                    raise TypeError("batch_transform must return (images, labels), not "
                                    f"{type(r).__name__}") from None
        finally:
            torch.set_rng_state(t_state)
            random.setstate(p_state)
        return images, labels

    def _samples(self, crops: Any, records: Any, epoch: int) -> Any:
        torch = self._torch
        n, c, h, w = crops.shape
        dt = torch.uint8 if self.dtype == "uint8" else torch.float32
        out = torch.empty((n, c, h, w) if self.layout == "NCHW" else (n, h, w, c), dtype=dt)
        hook = self.sample_transform
        for i in range(n):
            r = self._seeded(mix_seed(self.seed, epoch, int(records[i])), hook, crops[i])
            if not isinstance(r, torch.Tensor) or r.dtype != torch.uint8 or \
                    tuple(r.shape) != (c, h, w):
                what = (f"{r.dtype} tensor of shape {tuple(r.shape)}"
                        if isinstance(r, torch.Tensor) else type(r).__name__)
                raise ValueError(f"sample_transform must return a uint8 tensor of shape "
                                 f"{(c, h, w)} (the crop it was given), not a {what}")
            dst = out[i] if self.layout == "NCHW" else out[i].permute(2, 0, 1)
            dst.copy_(r)  # uint8, or the cast to float32
            if dt != torch.uint8:
                # x * scale + bias in float32, as image/convert.c (two
                # roundings, no FMA: the same bytes). In place after the
                # cast: about twice as fast as torch.mul(uint8, float, out=).
                dst.mul_(self._scale).add_(self._bias)
        return out
