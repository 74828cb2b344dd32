"""Every shipped config parses; the ViT-S ones build their model and the variants differ from their base as named."""
from pathlib import Path

import mmengine.runner  # noqa: F401  (registers mmengine's loops and hooks, as the Runner that builds the configs)
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import Registry, init_default_scope

from mmbokeh import registry as mmbokeh_registry
from mmbokeh.registry import BOKEH_BACKENDS, DATASETS, MODELS
from mmbokeh.utils import check_load_from

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / 'configs').rglob('*.py')
                 if '_base_' not in p.parts)
MODEL_CONFIGS = [c for c in CONFIGS if c.split('/')[1] in ('depth_anything_v2', 'bokehdepth', 'unidepth_v2')]


def _load(name: str) -> Config:
    return Config.fromfile(str(ROOT / name))


def _types(node):
    """Every ``type`` string in a config, nested dicts and lists included."""
    if isinstance(node, dict):
        if isinstance(node.get('type'), str):
            yield node['type']
        node = list(node.values())
    if isinstance(node, (list, tuple)):
        for child in node:
            yield from _types(child)


@pytest.mark.parametrize('name', CONFIGS)
def test_config_parses_with_mmbokeh_scope(name):
    """Every ``type`` of a config names a module found from mmbokeh's registries (or the stack backends').

    Runner configs must set ``default_scope='mmbokeh'`` (mmengine's Runner falls back to 'mmengine'); the others are
    built by tools that use 'mmbokeh' when the config sets no scope, so what they name is checked against it too."""
    cfg = _load(name)
    if any(key in cfg for key in ('train_cfg', 'val_cfg', 'test_cfg')):
        assert cfg.get('default_scope') == 'mmbokeh'
    assert cfg.get('default_scope') in (None, 'mmbokeh')
    registries = [r for r in vars(mmbokeh_registry).values() if isinstance(r, Registry) and r.scope == 'mmbokeh']
    registries.append(BOKEH_BACKENDS)
    types = set(_types(cfg.to_dict()))
    assert types  # every shipped config builds something
    assert sorted(t for t in types if not any(r.get(t) for r in registries)) == []


@pytest.mark.parametrize('name', [c for c in MODEL_CONFIGS if '-s_' in c])
def test_vit_s_model_configs_build_and_run(name):
    """The ViT-S configs build; with a neck they take a stack, and the output is metric depth in (0, max_depth]
    (UniDepthV2's head has no upper bound: depth > 0 only)."""
    cfg = _load(name)
    init_default_scope('mmbokeh')
    model = MODELS.build(cfg.model).eval()
    image = torch.randn(1, 3, 28, 42)
    stack, k = (torch.randn(1, 2, 3, 28, 42), torch.tensor([[10.0, 20.0]])) if model.neck is not None else (None, None)
    with torch.no_grad():
        depth = model.forward_depth(image, stack, k)
    assert depth.shape == (1, 28, 42)
    assert bool((depth > 0).all()) and float(depth.max()) <= getattr(model.decode_head, 'max_depth', float('inf'))


def test_synthetic_bokehdepth_demo_matches_its_baseline_but_for_the_stack():
    """Same pretrained start, data, schedule, seed and decoder as the same-budget baseline; only the stack and the
    neck (with its own learning-rate multiplier) are added."""
    fused = _load('configs/bokehdepth/dav2-s_synthetic.py')
    base = _load('configs/bokehdepth/dav2-s_synthetic_baseline.py')
    for key in ('train_cfg', 'param_scheduler', 'randomness', 'load_from'):
        assert fused[key] == base[key], key
    pretrained_dir = 'work_dirs/' + Path(base.load_from).parent.name
    assert len({fused.work_dir, base.work_dir, pretrained_dir}) == 3  # nobody overwrites the checkpoint they load
    assert fused.optim_wrapper.optimizer == base.optim_wrapper.optimizer
    custom = dict(fused.optim_wrapper.paramwise_cfg.custom_keys)
    assert set(custom.pop('neck')) == {'lr_mult'} and custom == base.optim_wrapper.paramwise_cfg.custom_keys
    for loader in ('train_dataloader', 'val_dataloader'):
        f, b = fused[loader].dataset, base[loader].dataset
        assert {k: v for k, v in f.items() if k != 'pipeline'} == {k: v for k, v in b.items() if k != 'pipeline'}
        assert f.pipeline[0].type == 'BokehStackGenerator' and f.pipeline[1:] == b.pipeline
        assert tuple(f.kind_probs)[0] == 0  # textured scenes: no flat surfaces
    assert fused.model.decode_head == base.model.decode_head and fused.model.backbone == base.model.backbone
    assert 'neck' not in base.model and fused.model.neck.type == 'DefocusAggregation'


def test_synthetic_demo_datasets_render_a_stack():
    cfg = _load('configs/bokehdepth/dav2-s_synthetic.py')
    init_default_scope('mmbokeh')
    dataset_cfg = dict(cfg.val_dataloader.dataset, num_samples=1)
    inputs = DATASETS.build(dataset_cfg)[0]['inputs']
    k_values = cfg.val_dataloader.dataset.pipeline[0].k_values
    assert tuple(inputs['stack'].shape) == (len(k_values), 3) + tuple(cfg.img_size)
    assert inputs['stack_k'].tolist() == k_values


@pytest.mark.parametrize('variant, expected', [
    ('configs/bokehdepth/dav2_nyu_identity-init.py', dict(neck_init='identity')),
    ('configs/bokehdepth/dav2_nyu_frozen-encoder.py', dict(frozen=True, stack_grad=False)),
    ('configs/bokehdepth/dav2-s_synthetic_official-taps.py', dict(fuse_taps=[2, 3], alpha=1.0)),
])
def test_variants_change_what_their_name_says(variant, expected):
    model = _load(variant).model
    got = dict(neck_init=model.neck.init, frozen=model.backbone.get('frozen', False), stack_grad=model.stack_grad,
               fuse_taps=model.neck.fuse_taps, alpha=model.neck.alpha)
    assert {k: got[k] for k in expected} == expected


def test_five_frame_variant_has_five_frames():
    cfg = _load('configs/bokehdepth/dav2-s_synthetic_5frames.py')
    for loader in ('train_dataloader', 'val_dataloader'):
        assert len(cfg[loader].dataset.pipeline[0].k_values) == 5


@pytest.mark.parametrize('name', ['configs/bokehdepth/dav2-s_synthetic.py',
                                  'configs/bokehdepth/dav2-s_synthetic_baseline.py'])
def test_demo_without_its_pretrained_checkpoint_names_the_command(name, tmp_path, monkeypatch):
    cfg = _load(name)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"work_dirs/dav2-s_synthetic/iter_200.pth' does not exist[\s\S]*"
                                                r"python tools/train.py configs/depth_anything_v2/dav2-s_synthetic.py"):
        check_load_from(cfg)


@pytest.mark.parametrize('name', ['configs/bokehdepth/dav2-s_synthetic.py',
                                  'configs/bokehdepth/dav2-s_synthetic_baseline.py'])
def test_demo_schedule_decays_to_the_last_iteration(name):
    cfg = _load(name)
    assert cfg.param_scheduler[-1].end == cfg.train_cfg.max_iters == 1200
    assert cfg.train_cfg.max_iters % cfg.default_hooks.checkpoint.interval == 0
