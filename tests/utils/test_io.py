import os
import stat

import pytest

from mmbokeh.utils.io import atomic_write_bytes, output_stem


def test_writes_and_replaces(tmp_path):
    path = tmp_path / 'sub' / 'a.bin'
    atomic_write_bytes(str(path), b'one')
    atomic_write_bytes(str(path), b'two')
    assert path.read_bytes() == b'two'
    assert os.listdir(tmp_path / 'sub') == ['a.bin']


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    path = tmp_path / 'a.bin'
    path.write_bytes(b'old')
    with pytest.raises(TypeError):
        atomic_write_bytes(str(path), 'not bytes')  # type: ignore[arg-type]
    assert path.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['a.bin']


@pytest.mark.parametrize('img_path, stem', [
    ('nyu/kitchen_0001/rgb_00001.jpg', 'kitchen_0001_rgb_00001'),
    ('/abs/office_0002/rgb_00001.jpg', 'office_0002_rgb_00001'),
    ('synthetic://demo/3', 'demo_3'),
    ('a.png', 'a'),
])
def test_output_stem(img_path, stem):
    assert output_stem(img_path) == stem


@pytest.mark.parametrize('umask', [0o022, 0o077, 0o002])
def test_atomic_files_get_the_umask_mode(tmp_path, umask):
    """Like ``open(path, 'w')`` (and mmengine's own checkpoints): 0666 less the umask, not mkstemp's 0600."""
    old = os.umask(umask)
    try:
        atomic_write_bytes(tmp_path / 'a.bin', b'x')
        (tmp_path / 'plain.bin').write_bytes(b'x')
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / 'a.bin').stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / 'a.bin').stat().st_mode) == stat.S_IMODE((tmp_path / 'plain.bin').stat().st_mode)
