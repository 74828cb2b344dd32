"""docs/plugin.md: its complete config builds and trains one iteration (and validates once) from mmengine's default
scope, in a fresh interpreter where only the config's ``custom_imports`` imports mmbokeh; from mmsegmentation's
scope it fails as the page says where mmseg is installed with mmcv-lite."""
import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from docs_runner import ROOT, parse

PAGE = ROOT / 'docs/plugin.md'
CONFIG = 'my_project/configs/dav2-s_synthetic_mmbokeh.py'


def _block(marker_arg: str = None, contains: str = None) -> str:
    blocks, problems = parse(PAGE)
    assert not problems, problems
    for block in blocks:
        if (marker_arg and ('save-as', marker_arg) in block.directives) or (contains and contains in block.text):
            return block.text
    raise AssertionError(f'docs/plugin.md has no block with {marker_arg or contains!r}')


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    """A folder with the page's config at the path the page gives, and the page's training snippet."""
    root = tmp_path_factory.mktemp('plugin')
    (root / CONFIG).parent.mkdir(parents=True)
    (root / CONFIG).write_text(_block(marker_arg=CONFIG) + '\n')
    return root, _block(contains='Runner.from_cfg(cfg).train()')


def test_config_trains_one_iteration_from_mmengine_scope(project):
    root, snippet = project
    assert 'default_scope' not in (root / CONFIG).read_text()
    explicit = root / CONFIG.replace('.py', '_explicit.py')
    explicit.write_text((root / CONFIG).read_text() + "default_scope = 'mmengine'\n")
    result = _run(f"""
        import sys
        from mmengine.registry import DefaultScope
        assert not [m for m in sys.modules if m.startswith('mmbokeh')]
        {snippet.replace(chr(10), chr(10) + '        ')}
        assert 'mmbokeh' in sys.modules  # imported by custom_imports only
        print('SCOPE', DefaultScope.get_current_instance().scope_name)
        print('MODEL', type(Runner.from_cfg(cfg).model).__module__)
        cfg = Config.fromfile({str(explicit)!r})
        cfg.work_dir = 'work_dirs/explicit'
        runner = Runner.from_cfg(cfg)
        runner.train()
        print('SCOPE', DefaultScope.get_current_instance().scope_name)
    """, root)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert log.count('SCOPE mmengine') == 2
    assert 'MODEL mmbokeh.models.estimators.bokeh_depth_estimator' in log
    for work in ('work_dirs/dav2-s_synthetic_mmbokeh', 'work_dirs/explicit'):
        assert (root / work / 'iter_1.pth').is_file()
    assert log.count('Saving checkpoint at 1 iterations') == 2
    assert log.count('abs_rel:') == 2  # one validation per run, by mmbokeh.DepthMetric


@pytest.mark.skipif(importlib.util.find_spec('mmseg') is None, reason='mmsegmentation not installed (not a dependency)')
def test_mmseg_scope_needs_full_mmcv(project):
    """What docs/plugin.md says about mmsegmentation: with mmcv-lite, building under mmseg's scope fails on
    ``mmcv._ext``; with full mmcv the page's config builds from mmseg's scope."""
    root, _ = project
    result = _run(f"""
        from mmengine.config import Config
        from mmengine.registry import MODELS, init_default_scope
        cfg = Config.fromfile({CONFIG!r})
        init_default_scope('mmseg')
        print(type(MODELS.build(cfg.model)).__name__)
    """, root)
    if importlib.util.find_spec('mmcv._ext') is None:
        assert result.returncode != 0 and "No module named 'mmcv._ext'" in result.stderr, result.stderr[-3000:]
    else:
        assert result.returncode == 0 and 'BokehDepthEstimator' in result.stdout, result.stderr[-3000:]
