"""FaultTolerantDataset: a corrupt or truncated file names its sample and path, or is skipped and logged."""
import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope

from mmbokeh.datasets import SampleError
from mmbokeh.registry import DATASETS

PIPELINE = [dict(type='LoadImage'), dict(type='LoadDepth')]


@pytest.fixture
def nyu_with_a_corrupt_image(tmp_path):
    """A three-image NYU train split (mmseg layout) whose second image is truncated."""
    for folder in ('images', 'annotations'):
        (tmp_path / folder / 'train').mkdir(parents=True)
    for i, stem in enumerate(('0001', '0002', '0003')):
        cv2.imwrite(str(tmp_path / 'images' / 'train' / f'{stem}.jpg'), np.full((6, 8, 3), 50 * i, np.uint8))
        cv2.imwrite(str(tmp_path / 'annotations' / 'train' / f'{stem}.png'), np.full((6, 8), 1000, np.uint16))
    bad = tmp_path / 'images' / 'train' / '0002.jpg'
    bad.write_bytes(bad.read_bytes()[:20])  # truncated
    return tmp_path, bad


def _build(root, **kwargs):
    init_default_scope('mmbokeh')
    return DATASETS.build(dict(type='FaultTolerantDataset', **kwargs,
                               dataset=dict(type='NYUv2Dataset', data_root=str(root), split='train', test_mode=True,
                                            pipeline=PIPELINE)))


def test_a_corrupt_file_names_its_sample_and_path(nyu_with_a_corrupt_image):
    root, bad = nyu_with_a_corrupt_image
    dataset = _build(root)
    assert len(dataset) == 3 and dataset.metainfo['max_depth'] == 10.0
    with pytest.raises(SampleError, match=rf'loading sample 1 \({bad}\): ValueError'):
        dataset[1]


def test_corrupt_samples_can_be_skipped_and_are_counted(nyu_with_a_corrupt_image, monkeypatch):
    root, bad = nyu_with_a_corrupt_image
    logged = []
    monkeypatch.setattr('mmbokeh.datasets.fault_tolerant.print_log', lambda msg, **kw: logged.append(msg))
    dataset = _build(root, skip_corrupt=True)
    items = [dataset[i] for i in range(3)]
    assert [item['img_path'].rsplit('/', 1)[1] for item in items] == ['0001.jpg', '0003.jpg', '0003.jpg']
    assert dataset.num_skipped == 1 and len(logged) == 1 and str(bad) in logged[0]
    bad.with_name('0003.jpg').write_bytes(b'')  # two corrupt in a row, max_skips=1: fail, naming where
    with pytest.raises(SampleError, match='2 samples in a row from 1 failed'):
        _build(root, skip_corrupt=True, max_skips=1)[1]
