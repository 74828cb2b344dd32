"""Both BokehDepth stages from a photograph (``mmbokeh.apis.two_stage``, ``demo/bokehdepth_demo.py``): a tiny random
FLUX.1-Kontext (tests/conftest.py) and tiny random Stage-2 models at small sizes (Stage 1 at 32 px, Stage 2 at 28)."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mmbokeh.apis import BokehDepthPipeline, build_pipeline, default_camera, init_model, run_pipeline
from mmbokeh.apis.two_stage import OUTPUT_FILES
from mmbokeh.generators import BokehBackend, read_frames, read_stack_index

ROOT = Path(__file__).parents[2]
DAV2 = ROOT / 'configs/bokehdepth/dav2-s_synthetic.py'
UNIDEPTH = ROOT / 'configs/unidepth_v2/unidepth_v2-s_dsfa.py'
SIZES = dict(stage1_size=32, stage2_size=28)
SIZE_ARGS = ['--stage1-size', '32', '--stage2-size', '28']
TINY_ADAPTER = ['context_dim=24', 'lora_rank=4', 'lora_alpha=8', 'block_ids=None']  # conftest's tiny transformer


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """Random-weight checkpoints of the DAv2-DSFA and UniDepthV2-DSFA (ViT-S) configs."""
    folder = tmp_path_factory.mktemp('stage2')
    out = {}
    for name, config in (('dav2', DAV2), ('unidepth', UNIDEPTH)):
        torch.manual_seed(0)
        out[name] = folder / f'{name}.pth'
        torch.save({'state_dict': init_model(config).state_dict()}, out[name])
    return out


def _photos(folder: Path, sizes=((30, 40), (24, 20))) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i, (h, w) in enumerate(sizes):
        img = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), (3, 3), 0)
        paths.append(folder / f'photo{i}.png')
        cv2.imwrite(str(paths[-1]), img)
    return paths


def _check_outputs(folder: Path, photo_size, source: str, k=(10.0, 20.0, 30.0)) -> dict:
    """Every output exists and opens; returns the pipeline summary."""
    for name in OUTPUT_FILES:
        assert (folder / name).is_file(), name
    for name in ('ref.png', 'depth_color.png', 'stack_grid.png'):
        assert cv2.imread(str(folder / name)) is not None, name
    assert cv2.imread(str(folder / 'ref.png')).shape == (32, 32, 3)
    assert cv2.imread(str(folder / 'depth_color.png')).shape[:2] == photo_size
    ids, stored_k, index = read_stack_index(folder / 'defocus_stack')
    np.testing.assert_allclose(stored_k, k)
    assert all(f.shape == (32, 32, 3) for f in read_frames(folder / 'defocus_stack', ids))
    assert index['bokeh_source'].startswith(source) and index['size'] == [32, 32]
    depth = np.load(folder / 'depth.npy')
    assert depth.shape == photo_size and depth.dtype == np.float32 and np.isfinite(depth).all()
    manifest = [json.loads(line) for line in (folder / 'manifest.jsonl').read_text().splitlines()]
    assert len(manifest) == 1 and manifest[0]['k'] == list(k) and manifest[0]['dataset'] == 'bokehdepth'
    assert all((folder / p).is_file() for p in manifest[0]['stack'] + [manifest[0]['ref'], manifest[0]['stack_index']])
    stage2 = json.loads((folder / 'stage2_summary.json').read_text())
    assert stage2['k_values'] == list(k) and stage2['output_size'] == [photo_size[1], photo_size[0]]
    summary = json.loads((folder / 'pipeline_summary.json').read_text())
    assert summary['stage1']['k_values'] == list(k) and summary['stage1']['bokeh_source'].startswith(source)
    assert summary['original_size'] == [photo_size[1], photo_size[0]] and summary['timings']['total_s'] > 0
    return summary


def _demo(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / 'demo/bokehdepth_demo.py'), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.timeout(120)
def test_diffusion_to_fused_depth_in_one_command(tiny_kontext_dir, official_state, checkpoints, tmp_path):
    adapter = tmp_path / 'bokeh_lora.bin'
    torch.save(official_state(3, 24, 32, 4), adapter)  # the tiny transformer has 3 attention blocks
    photos = _photos(tmp_path / 'photos')
    out = tmp_path / 'out'
    args = [photos[0].parent, DAV2, checkpoints['dav2'], '--out', out, '--stage1', 'diffusion', '--flux',
            tiny_kontext_dir, '--adapter', adapter, '--adapter-options', *TINY_ADAPTER, '--steps', '2', '--dtype',
            'float32', '--stage1-options', 'max_sequence_length=64', *SIZE_ARGS]
    res = _demo(*args)
    assert res.returncode == 0, res.stderr[-3000:]
    assert '2 photos through both stages' in res.stdout
    for photo, size in zip(photos, ((30, 40), (24, 20))):
        summary = _check_outputs(out / photo.stem, size, 'diffusion:')
        assert summary['stage1']['num_inference_steps'] == 2 and summary['stage1']['seed'] == 42
        assert summary['stage1']['color_transfer'] is True and summary['stage1']['adapter'] == str(adapter)
    stamp = (out / 'photo0/pipeline_summary.json').stat().st_mtime_ns
    res = _demo(*args)  # resumable: everything is done, nothing is loaded or rewritten
    assert res.returncode == 0 and 'already done' in res.stdout, res.stderr[-3000:]
    assert (out / 'photo0/pipeline_summary.json').stat().st_mtime_ns == stamp


def test_missing_flux_fails_naming_stage1(checkpoints, tmp_path):
    photo = _photos(tmp_path / 'photos', sizes=((30, 40), ))[0]
    res = _demo(photo, DAV2, checkpoints['dav2'], '--out', tmp_path / 'out', '--stage1', 'diffusion', '--flux',
                tmp_path / 'no_such_flux', '--adapter', tmp_path / 'bokeh_lora.bin', *SIZE_ARGS)
    assert res.returncode != 0
    assert 'Stage 1 (diffusion) needs --flux' in res.stderr and 'model_index.json' in res.stderr
    assert not (tmp_path / 'out').exists()


class _Broken(BokehBackend):
    def render(self, request):
        raise OSError('GPU fell off the bus')


def test_stage1_error_names_stage_and_cause_and_writes_nothing(checkpoints, tmp_path):
    photo = _photos(tmp_path / 'photos', sizes=((30, 40), ))[0]
    model = init_model(DAV2, checkpoints['dav2'])
    pipeline = BokehDepthPipeline(model, _Broken(), stage1='diffusion', stage1_size=(32, 32), stage2_size=(28, 28))
    with pytest.raises(RuntimeError, match=r'Stage 1 \(diffusion\) failed for .*photo0\.png: OSError: GPU fell off'):
        run_pipeline(pipeline, [photo], ['photo0'], tmp_path / 'out')
    assert not (tmp_path / 'out/photo0/pipeline_summary.json').exists()
    assert not (tmp_path / 'out/photo0/ref.png').exists()  # no copy of the input as a "stack" either


def test_physical_from_own_prediction_with_unidepth_camera(checkpoints, tmp_path):
    photos = _photos(tmp_path / 'photos')
    pipeline = build_pipeline(UNIDEPTH, checkpoints['unidepth'], stage1='physical', **SIZES)
    seen = {}
    render = pipeline.backend.render

    def spy(request):
        seen.update(depth=request.depth, key=request.depth_key, focus=request.focus_dist, img=request.img)
        return render(request)

    pipeline.backend.render = spy
    summaries = run_pipeline(pipeline, photos, ['a', 'b'], tmp_path / 'out')
    assert len(summaries) == 2
    _check_outputs(tmp_path / 'out/a', (30, 40), 'physical:pred_depth')
    summary = _check_outputs(tmp_path / 'out/b', (24, 20), 'physical:pred_depth')
    # the honesty rule: the stack comes from the model's own first pass without stack, never from ground truth
    assert seen['key'] == 'pred_depth'
    np.testing.assert_allclose(seen['depth'], pipeline.predict_depth(seen['img'], (32, 32)), rtol=1e-5)
    assert summary['stage1']['focus_dist'] == pytest.approx(seen['focus'])
    camera = json.loads((tmp_path / 'out/b/stage2_summary.json').read_text())['camera']
    np.testing.assert_allclose(camera, default_camera((28, 28)))
    assert camera[0][0] == pytest.approx(0.7 * 28) and camera[0][2] == pytest.approx(13.5)  # UniDepth's cx = 14
    assert run_pipeline(pipeline, photos, ['a', 'b'], tmp_path / 'out') == []  # done: skipped
    assert len(run_pipeline(pipeline, photos[:1], ['a'], tmp_path / 'out', overwrite=True)) == 1


def test_cached_reads_an_official_layout_stack(checkpoints, tmp_path):
    photo = _photos(tmp_path / 'photos', sizes=((30, 40), ))[0]
    first = build_pipeline(DAV2, checkpoints['dav2'], stage1='physical', **SIZES)
    run_pipeline(first, [photo], ['photo0'], tmp_path / 'made')
    cached = build_pipeline(DAV2, checkpoints['dav2'], stage1='cached', stack_root=tmp_path / 'made', **SIZES)
    run_pipeline(cached, [photo], ['photo0'], tmp_path / 'out')
    summary = _check_outputs(tmp_path / 'out/photo0', (30, 40), 'cached:physical:pred_depth')
    assert summary['stage1']['source'] == 'cached'
    for i in range(3):
        np.testing.assert_array_equal(cv2.imread(str(tmp_path / f'out/photo0/defocus_stack/{i}.png')),
                                      cv2.imread(str(tmp_path / f'made/photo0/defocus_stack/{i}.png')))
    np.testing.assert_allclose(np.load(tmp_path / 'out/photo0/depth.npy'), np.load(tmp_path / 'made/photo0/depth.npy'),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(FileNotFoundError, match=r'Stage 1 \(cached\) needs --stack-root'):
        build_pipeline(DAV2, checkpoints['dav2'], stage1='cached', stack_root=tmp_path / 'nothing', **SIZES)
