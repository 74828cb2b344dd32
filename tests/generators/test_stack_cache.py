"""Stack cache and ``cached`` backend: the official layout (as gen_bokeh_stack.py writes it) loads as is."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmbokeh.generators import (
    CachedBackend,
    KSelection,
    StackRequest,
    is_complete,
    read_stack_index,
    remove_temporaries,
    sample_key,
    stack_dir,
    write_manifest,
    write_stack,
)

RNG = np.random.default_rng


def _request(img: np.ndarray, selection=None, **meta) -> StackRequest:
    return StackRequest(img=img, rng=RNG(0), selection=selection, meta=meta)


def write_official(root: Path, rel: str, frames_rgb, k_values, extra=None) -> Path:
    """What the official tool writes: PIL RGB PNGs ``{idx}.png`` and a stack_index.json with dict k_values."""
    folder = root / rel / 'defocus_stack'
    folder.mkdir(parents=True)
    meta = {}
    for idx, (frame, k) in enumerate(zip(frames_rgb, k_values)):
        Image.fromarray(frame).save(folder / f'{idx}.png')
        meta[str(idx)] = float(k)
    index = {'ids': list(meta.keys()), 'k_values': meta, 'source_rgb': f'/data/{rel}.png', 'source_depth': None,
             'size': [frames_rgb[0].shape[1], frames_rgb[0].shape[0]], 'method': 'bokeh_diffusion_i2i',
             'prompt_template': 'Set dof_cond = {value:.2f} ...', 'guidance_scale': 7.0, 'num_inference_steps': 50}
    index.update(extra or {})
    (folder / 'stack_index.json').write_text(json.dumps(index, indent=2))
    return folder


def test_official_layout_reads_as_bgr_with_k(tmp_path):
    rgb = [RNG(i).integers(0, 256, (12, 20, 3), dtype=np.uint8) for i in range(3)]
    write_official(tmp_path, 'scene_a/rgb_00001', rgb, [1.0, 6.0, 11.0])
    results = dict(img=np.zeros((12, 20, 3), np.uint8), img_path='/data/nyu/scene_a/rgb_00001.jpg')
    backend = CachedBackend(str(tmp_path), data_root='/data/nyu')
    stack, k, source = backend.render(_request(**results))
    np.testing.assert_array_equal(k, [1.0, 6.0, 11.0])
    np.testing.assert_array_equal(stack, np.stack(rgb)[..., ::-1])  # RGB files -> BGR like the image
    assert source == 'cached:bokeh_diffusion_i2i'
    stack, k, _ = backend.render(_request(selection=KSelection(k_values=[11.0, 1.0]), **results))
    np.testing.assert_array_equal(k, [11.0, 1.0])
    np.testing.assert_array_equal(stack[0], rgb[2][..., ::-1])
    with pytest.raises(KeyError, match='rgb_00001/defocus_stack: no stored frame with K = 20'):
        backend.render(_request(selection=KSelection(k_values=[20.0]), **results))
    assert not CachedBackend.needs_k and CachedBackend.needs_meta and not CachedBackend.needs_depth


def test_frames_of_another_size_are_resized_or_refused(tmp_path):
    rgb = [np.full((16, 32, 3), 77, np.uint8)]  # official sizes are floored to multiples of 16
    write_official(tmp_path, '000003', rgb, [30.0], extra={'ids': ['0']})
    results = dict(img=np.zeros((18, 35, 3), np.uint8), sample_idx=3)
    stack, _, _ = CachedBackend(str(tmp_path)).render(_request(**results))
    assert stack.shape == (1, 18, 35, 3) and np.all(stack == 77)
    with pytest.raises(ValueError, match='35x18'):
        CachedBackend(str(tmp_path), resize=False).render(_request(**results))


def test_index_variants_and_errors(tmp_path):
    folder = tmp_path / 'defocus_stack'
    folder.mkdir()
    (folder / 'stack_index.json').write_text(json.dumps({'k_values': {'10': 3.0, '2': 1.0}}))
    ids, k, _ = read_stack_index(folder)  # no "ids": numeric order of the keys
    assert ids == ['2', '10'] and k.tolist() == [1.0, 3.0]
    (folder / 'stack_index.json').write_text(json.dumps({'ids': ['a', 'b'], 'k_values': [5, 7]}))
    assert read_stack_index(folder)[1].tolist() == [5.0, 7.0]
    (folder / 'stack_index.json').write_text('{"ids": ["0"]}')
    with pytest.raises(KeyError, match='k_values'):
        read_stack_index(folder)
    (folder / 'stack_index.json').write_text('{oops')
    with pytest.raises(ValueError, match='not valid JSON'):
        read_stack_index(folder)
    with pytest.raises(FileNotFoundError, match='make_bokeh_stacks'):
        read_stack_index(tmp_path / 'nowhere')


@pytest.mark.parametrize('ids, k_values, match', [
    (['../../../secret'], [10.0], 'plain names'),   # would read a file outside the stack root
    (['/etc/passwd'], [10.0], 'plain names'),
    (['0', 'sub/1'], [10.0, 20.0], 'plain names'),
    (['0'], [float('nan')], 'finite K >= 0'),
    (['0', '1'], [10.0, -5.0], 'finite K >= 0'),
    (['0'], ['ten'], 'must be numbers'),
])
def test_untrusted_index_is_refused(tmp_path, ids, k_values, match):
    """``stack_index.json`` comes with downloaded stacks: its ids never leave the folder, its K are checked."""
    folder = tmp_path / 'defocus_stack'
    folder.mkdir()
    (folder / 'stack_index.json').write_text(json.dumps({'ids': ids, 'k_values': k_values}))
    with pytest.raises(ValueError, match=match):
        read_stack_index(folder)


def test_write_read_complete_and_manifest(tmp_path):
    frames = RNG(0).integers(0, 256, (2, 6, 9, 3), dtype=np.uint8)
    out = write_stack(tmp_path, 'a/b', frames, [10, 20], dict(bokeh_source='physical:gt_depth'))
    assert out == stack_dir(tmp_path, 'a/b') and sorted(p.name for p in out.iterdir()) == [
        '0.png', '1.png', 'stack_index.json']
    stack, k, source = CachedBackend(str(tmp_path), key_template='a/b').render(_request(frames[0]))
    np.testing.assert_array_equal(stack, frames)
    assert source == 'cached:physical:gt_depth'
    assert is_complete(out) and is_complete(out, [10, 20]) and not is_complete(out, [10, 30])
    (out / '1.png').unlink()
    assert not is_complete(out)
    write_stack(tmp_path, 'c', frames[:1], [5])
    (tmp_path / 'c' / 'defocus_stack' / '.0.png.x1y2.tmp.png').write_bytes(b'partial')
    assert remove_temporaries(tmp_path / 'c' / 'defocus_stack') == 1
    lines = [json.loads(line) for line in write_manifest(tmp_path).read_text().splitlines()]
    assert [e['sample'] for e in lines] == ['c']  # a/b lost a frame: not listed
    assert lines[0]['stack'] == ['c/defocus_stack/0.png'] and lines[0]['k'] == [5.0]
    with pytest.raises(ValueError, match='uint8 or uint16'):
        write_stack(tmp_path, 'd', frames.astype(np.float32), [1, 2])
    with pytest.raises(ValueError, match='S = len'):
        write_stack(tmp_path, 'd', frames, [1])


def test_sample_keys():
    assert sample_key(dict(img_path='synthetic://train/000004')) == 'train/000004'
    assert sample_key(dict(img_path='/d/nyu/images/test/0001.jpg'), data_root='/d/nyu') == 'images/test/0001'
    assert sample_key(dict(img_path='/elsewhere/x.jpg', sample_idx=7), data_root='/d/nyu') == '000007'
    assert sample_key(dict(sample_idx=7, scene='k'), key_template='{scene}/{sample_idx:04d}') == 'k/0007'
    with pytest.raises(KeyError, match='key_template'):
        sample_key(dict(sample_idx=7), key_template='{scene}')
    with pytest.raises(ValueError, match='relative path'):
        sample_key(dict(sample_idx=1), key_template='../up')
    with pytest.raises(KeyError, match='cannot name'):
        sample_key(dict(img_path='/x/y.png'))
