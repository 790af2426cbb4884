"""Files of one input section with different channel counts are named when read.

The sampler used to report them as "Volume 3, role 'image': 2 channels. Expected 1 like volume 0."
"""

from __future__ import annotations

import threading

import nibabel as nib
import numpy as np
import pytest

from voxflow.data.preprocessing.reading import ChannelCounts, read_volume
from voxflow.errors import DataError


def _write(path, channels: int) -> str:
    shape = (4, 5, 6) if channels == 1 else (4, 5, 6, channels)
    nib.save(nib.Nifti1Image(np.ones(shape, np.float32), np.eye(4)), str(path))
    return str(path)


def test_a_file_with_other_channels_than_its_section_is_named(tmp_path):
    counts = ChannelCounts()
    first = _write(tmp_path / "sub00_T1.nii.gz", 1)
    other = _write(tmp_path / "sub03_T1.nii.gz", 2)
    read_volume(first, "T1", channels=counts)
    read_volume(_write(tmp_path / "sub01_seg.nii.gz", 3), "label", channels=counts)  # sections apart
    with pytest.raises(DataError) as info:
        read_volume(other, "T1", channels=counts)
    message = str(info.value)
    assert "sub03_T1.nii.gz' of [T1] has 2 channel(s)" in message and "sub00_T1.nii.gz" in message
    assert "has 1" in message and "\n" not in message


def test_without_a_record_nothing_is_compared(tmp_path):
    read_volume(_write(tmp_path / "a.nii.gz", 1), "T1")
    assert read_volume(_write(tmp_path / "b.nii.gz", 2), "T1").data.shape[-1] == 2


def test_threads_share_one_record(tmp_path):
    counts = ChannelCounts()
    paths = [_write(tmp_path / f"s{i}.nii.gz", 1) for i in range(8)]
    errors = []

    def load(path):
        try:
            read_volume(path, "T1", channels=counts)
        except DataError as err:  # pragma: no cover - would be a failure
            errors.append(err)

    threads = [threading.Thread(target=load, args=(p,)) for p in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
