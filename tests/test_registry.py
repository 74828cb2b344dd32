"""mmbokeh modules build from mmengine's default scope, from mmbokeh's scope and from a downstream mm project."""
import importlib.util
import subprocess
import sys
import textwrap

import pytest
from mmengine import registry as mmengine_registry
from mmengine.registry import DefaultScope

from mmbokeh.registry import MODELS

HEAD = dict(in_channels=32, features=16, out_channels=[8, 16, 32, 32], max_depth=10.0)
#: (mmengine root registry, config, module that defines the class): one per mmbokeh registry with a location.
ROOT_BUILDS = [
    ('MODELS', dict(type='DPTHead', **HEAD), 'mmbokeh.models.heads.dpt_head'),
    ('TRANSFORMS', dict(type='LoadDepth'), 'mmbokeh.datasets.transforms.loading'),
    ('DATASETS', dict(type='SyntheticDefocusDataset', num_samples=1), 'mmbokeh.datasets.synthetic'),
    ('METRICS', dict(type='DepthMetric'), 'mmbokeh.evaluation.depth_metric'),
    ('HOOKS', dict(type='DepthVisualizationHook', draw=True), 'mmbokeh.engine.hooks.depth_visualization_hook'),
]


def _run(code: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_scope_and_locations(tmp_path):
    """What mmengine's Runner does with ``default_scope='mmbokeh'``: plain names built from mmengine's root
    registries reach mmbokeh's children, whose ``locations`` import the defining packages on demand (a fresh process
    that never imports mmbokeh itself)."""
    result = _run(f"""
        import sys
        from mmengine import registry
        registry.init_default_scope('mmbokeh')
        assert not [m for m in sys.modules if m.startswith('mmbokeh')]
        for root, cfg, module in {ROOT_BUILDS!r}:
            obj = getattr(registry, root).build(cfg)
            print('built', root, type(obj).__module__)
    """, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    built = [line.split()[1:] for line in result.stdout.splitlines() if line.startswith('built ')]
    assert built == [[root, module] for root, _, module in ROOT_BUILDS]


@pytest.mark.parametrize('root, cfg, module', ROOT_BUILDS, ids=[r for r, _, _ in ROOT_BUILDS])
def test_scoped_name_builds_from_mmengine_default_scope(root, cfg, module):
    with DefaultScope.overwrite_default_scope('mmengine'):
        obj = getattr(mmengine_registry, root).build(dict(cfg, type='mmbokeh.' + cfg['type']))
    assert type(obj).__module__ == module


def test_plain_name_builds_under_mmbokeh_scope():
    with DefaultScope.overwrite_default_scope('mmbokeh'):
        head = MODELS.build(dict(type='DPTHead', **HEAD))
    assert head.max_depth == 10.0


def test_downstream_package_with_custom_imports(tmp_path):
    """A foreign mm-based project with its own child registries uses mmbokeh through custom_imports."""
    pkg = tmp_path / 'downstream'
    (pkg / 'models').mkdir(parents=True)
    (pkg / '__init__.py').write_text('')
    (pkg / 'registry.py').write_text(textwrap.dedent("""
        from mmengine.registry import MODELS as MMENGINE_MODELS, Registry
        MODELS = Registry('model', parent=MMENGINE_MODELS, locations=['downstream.models'])
    """))
    (pkg / 'models' / '__init__.py').write_text(textwrap.dedent("""
        import torch.nn as nn
        from downstream.registry import MODELS

        @MODELS.register_module()
        class DepthWrapper(nn.Module):
            def __init__(self, estimator):
                super().__init__()
                self.estimator = MODELS.build(estimator)
    """))
    (tmp_path / 'foreign_cfg.py').write_text(textwrap.dedent("""
        default_scope = 'downstream'
        custom_imports = dict(imports=['downstream.models', 'mmbokeh'], allow_failed_imports=False)
        model = dict(type='DepthWrapper', estimator=dict(
            type='mmbokeh.BokehDepthEstimator',
            backbone=dict(type='mmbokeh.TimmViT', model_name='vit_tiny_patch16_224', out_indices=[2, 5, 8, 11],
                          img_size=64),
            decode_head=dict(type='mmbokeh.DPTHead', features=16, out_channels=[8, 16, 32, 32], patch_size=16,
                             loss_decode=dict(type='mmbokeh.SiLogLoss'))))
    """))
    result = _run("""
        import torch
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        cfg = Config.fromfile('foreign_cfg.py')   # custom_imports imports mmbokeh here
        init_default_scope(cfg.default_scope)
        from downstream.registry import MODELS
        model = MODELS.build(cfg.model)
        depth = model.estimator.forward_depth(torch.randn(1, 3, 64, 64))
        print(type(model.estimator).__module__, tuple(depth.shape))
    """, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'mmbokeh.models.estimators.bokeh_depth_estimator (1, 64, 64)' in result.stdout


@pytest.mark.skipif(importlib.util.find_spec('mmdet') is None, reason='mmdet not installed')
def test_build_from_mmdet_scope(tmp_path):
    """mmdet's registry imports its datasets, which need compiled mmcv ops: only where mmcv._ext imports."""
    pytest.importorskip('mmcv._ext', reason='mmdet models need full mmcv (compiled ops); mmcv-lite has none')
    result = _run("""
        from mmengine.registry import init_default_scope
        init_default_scope('mmdet')
        import mmbokeh
        from mmdet.registry import MODELS
        head = MODELS.build(dict(type='mmbokeh.DPTHead', in_channels=32, features=16, out_channels=[8, 16, 32, 32]))
        print(type(head).__name__)
    """, tmp_path)
    assert result.returncode == 0 and 'DPTHead' in result.stdout, result.stderr[-3000:]
