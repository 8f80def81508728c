"""Loader(pin_memory=True) for device='cpu': without a CUDA device it fails
clearly (the pinned case itself runs over the CUDA stand-in,
test_cuda_mock.py, and on a GPU in test_cuda.py's environment)."""
import pytest

import pvpack
from pvpack import _pvpack


def test_pin_memory_without_a_gpu_says_why(packed):
    if _pvpack.cuda_probe()[0] > 0:
        pytest.skip("a CUDA device is present (the mock build, or a GPU)")
    with pytest.raises(pvpack.Error) as e:
        pvpack.Loader(packed, batch_size=4, size=16, pin_memory=True)
    assert e.value.status_name == "PV_ERR_CUDA"
    assert "no CUDA device" in str(e.value) or "built without CUDA" in str(e.value)
    ld = pvpack.Loader(packed, batch_size=4, size=16)  # unpinned still fine
    assert ld.pin_memory is False and len(list(ld)) == len(ld)


def test_pin_memory_argument_rules(packed):
    with pytest.raises(ValueError, match="pin_memory=True is for device='cpu'"):
        pvpack.Loader(packed, device="cuda:0", pin_memory=True)
    with pytest.raises(TypeError, match="pin_memory must be a bool"):
        pvpack.Loader(packed, pin_memory="yes")
    with pytest.raises(ValueError, match="not pinned"):
        pvpack.Loader(packed, pin_memory=True, batch_transform=lambda x, y: (x, y))
