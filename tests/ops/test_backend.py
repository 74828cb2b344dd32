"""How an implementation is chosen: impl=, $MMBOKEH_OPS_IMPL, the one-warning fallback, the CUDA toolkit lookup."""
import warnings
from pathlib import Path

import pytest
import torch

from mmbokeh.ops import _backend, splat_bokeh
from mmbokeh.ops.reference import splat_bokeh_reference


def test_explicit_impl_and_environment_variable(cpu_ext, monkeypatch):
    cpu = torch.device('cpu')
    monkeypatch.delenv(_backend.ENV_IMPL, raising=False)
    assert _backend.resolve_impl(None, cpu) == 'cpu'
    assert _backend.resolve_impl('reference', cpu) == 'reference'
    monkeypatch.setenv(_backend.ENV_IMPL, 'reference')
    assert _backend.resolve_impl(None, cpu) == 'reference'
    assert _backend.resolve_impl('cpu', cpu) == 'cpu'  # the argument wins over the environment
    monkeypatch.setenv(_backend.ENV_IMPL, 'fast')
    with pytest.raises(ValueError, match=_backend.ENV_IMPL):
        _backend.resolve_impl(None, cpu)
    with pytest.raises(ValueError, match="impl='cuda' needs cuda tensors"):
        _backend.resolve_impl('cuda', cpu)
    with pytest.raises(ValueError, match='impl must be one of'):
        _backend.resolve_impl('gpu', cpu)


def test_environment_forces_the_reference_in_the_ops(cpu_ext, monkeypatch):
    image = torch.rand(1, 3, 9, 9)
    defocus = torch.full((1, 1, 9, 9), 2.5)
    monkeypatch.setenv(_backend.ENV_IMPL, 'reference')
    forced = splat_bokeh(image, defocus)
    assert torch.equal(forced, splat_bokeh_reference(image, defocus))


def test_fallback_to_reference_warns_once(monkeypatch):
    monkeypatch.delenv(_backend.ENV_IMPL, raising=False)
    monkeypatch.setattr(_backend, '_modules', {'cpu': None})
    monkeypatch.setattr(_backend, '_reasons', {'cpu': 'JIT build failed: no compiler'})
    monkeypatch.setattr(_backend, '_warned', set())
    image = torch.rand(1, 1, 6, 6)
    defocus = torch.full((1, 1, 6, 6), 1.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        out = splat_bokeh(image, defocus)
        splat_bokeh(image, defocus)
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and 'no compiler' in messages[0]
    assert torch.equal(out, splat_bokeh_reference(image, defocus))
    with pytest.raises(RuntimeError, match='unavailable'):
        splat_bokeh(image, defocus, impl='cpu')  # forcing a missing implementation is an error, not a fallback


def test_stale_prebuilt_module_is_ignored(monkeypatch):
    import sys
    import types
    fake = types.ModuleType('mmbokeh.ops._ext_cpu')
    fake.source_hash = lambda: 'h0000'
    monkeypatch.setitem(sys.modules, 'mmbokeh.ops._ext_cpu', fake)
    monkeypatch.setattr(_backend, '_reasons', {})
    assert _backend._prebuilt('cpu') is None
    assert 'stale' in _backend._reasons['cpu']
    fake.source_hash = lambda: _backend.source_hash('cpu')
    assert _backend._prebuilt('cpu') is fake


def test_source_hash_and_build_dir(monkeypatch, tmp_path):
    assert _backend.source_hash('cpu') == _backend.source_hash('cpu') != _backend.source_hash('cuda')
    monkeypatch.setenv(_backend.ENV_BUILD_DIR, str(tmp_path))
    assert _backend.default_build_dir('cpu').parent == tmp_path
    assert any(p.name == 'splat_bokeh.cu' for p in _backend.sources('cuda'))
    with pytest.raises(ValueError, match='kind'):
        _backend.sources('tpu')


def test_two_checkouts_get_their_own_build_dir(monkeypatch, tmp_path):
    """Checkouts share ~/.cache: each must build (and load) its own sources in its own folder."""
    monkeypatch.setenv(_backend.ENV_BUILD_DIR, str(tmp_path))
    here = _backend.default_build_dir('cpu')
    assert _backend.default_build_dir('cpu') == here != _backend.default_build_dir('cuda')
    monkeypatch.setattr(_backend, 'CSRC', tmp_path / 'other_checkout' / 'mmbokeh' / 'ops' / 'csrc')
    other = _backend.default_build_dir('cpu')
    assert other != here and other.parent == here.parent


def test_cuda_home_is_read_from_an_nvcc_wrapper_script(monkeypatch, tmp_path):
    root = tmp_path / 'cuda-13.0'
    (root / 'bin').mkdir(parents=True)
    (root / 'bin' / 'nvcc').write_text('#!/bin/sh\n')
    wrapper = tmp_path / 'shims' / 'nvcc'
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec {root}/bin/nvcc "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.delenv('CUDA_HOME', raising=False)
    monkeypatch.delenv('CUDA_PATH', raising=False)
    monkeypatch.setenv('PATH', str(wrapper.parent))
    assert Path(_backend.find_cuda_home()) == root.resolve()
    monkeypatch.setenv('CUDA_HOME', str(root))
    assert _backend.find_cuda_home() == str(root)
