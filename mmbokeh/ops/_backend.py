"""Finds the compiled kernels of the DoF ops and picks an implementation per call.

Order for each device kind (``'cpu'``, ``'cuda'``):

1. a prebuilt extension ``mmbokeh.ops._ext_cpu`` / ``mmbokeh.ops._ext_cuda`` (made by ``tools/build_ops.py``),
   used only if it was built from the current sources;
2. a just-in-time build with :func:`torch.utils.cpp_extension.load` into a cache folder under
   ``$MMBOKEH_OPS_BUILD_DIR`` or ``~/.cache/mmbokeh/ops``, one per checkout (see :func:`default_build_dir`),
   reused across processes while the sources do not change;
3. nothing: calls fall back to the pure-PyTorch reference, with one warning per device kind and process.

``impl=`` on every op ('reference' | 'cpu' | 'cuda' | None) or the environment variable ``MMBOKEH_OPS_IMPL``
forces a choice; a forced compiled implementation that cannot load raises instead of falling back.
"""
from __future__ import annotations

import hashlib
import importlib
import os
import re
import shutil
import sys
import threading
import warnings
from pathlib import Path
from types import ModuleType
from typing import Dict, List, Optional

import torch

__all__ = [
    'ENV_BUILD_DIR', 'ENV_IMPL', 'IMPLS', 'alert_not_deterministic', 'backend_info', 'build_extension', 'compile_flags',
    'default_build_dir', 'find_cuda_home', 'load_extension', 'resolve_impl', 'source_hash', 'sources'
]

IMPLS = ('reference', 'cpu', 'cuda')
ENV_IMPL = 'MMBOKEH_OPS_IMPL'
ENV_BUILD_DIR = 'MMBOKEH_OPS_BUILD_DIR'
CSRC = Path(__file__).resolve().parent / 'csrc'

_lock = threading.RLock()
_modules: Dict[str, Optional[ModuleType]] = {}
_reasons: Dict[str, str] = {}
_warned: set = set()


def sources(kind: str) -> List[Path]:
    """Translation units of the ``kind`` ('cpu' or 'cuda') extension."""
    _check_kind(kind)
    common = [CSRC / 'common' / 'checks.cpp']
    if kind == 'cpu':
        return common + sorted((CSRC / 'cpu').glob('*.cpp'))
    return common + sorted((CSRC / 'cuda').glob('*.cu')) + sorted((CSRC / 'cuda').glob('*.cpp'))


def source_hash(kind: str) -> str:
    """Hash of every source and header the ``kind`` extension is built from (an identifier-safe string)."""
    _check_kind(kind)
    h = hashlib.sha256(kind.encode())
    files = set(sources(kind)) | set((CSRC / 'common').glob('*.h')) | set((CSRC / kind).glob('*.h'))
    for path in sorted(files):
        h.update(path.relative_to(CSRC).as_posix().encode())
        h.update(path.read_bytes())
    return 'h' + h.hexdigest()[:16]


def default_build_dir(kind: str) -> Path:
    """Cache folder of the JIT build, one per kind, torch version, Python version and checkout (the sources'
    folder), so that two checkouts on one machine neither rebuild each other's build nor load a library compiled
    from the other's sources; within a checkout, edits rebuild incrementally."""
    _check_kind(kind)
    root = Path(os.environ.get(ENV_BUILD_DIR) or Path.home() / '.cache' / 'mmbokeh' / 'ops')
    checkout = hashlib.sha256(str(CSRC).encode()).hexdigest()[:12]
    tag = f'{kind}-torch{torch.__version__}-py{sys.version_info[0]}{sys.version_info[1]}-src{checkout}'
    return root / re.sub(r'[^A-Za-z0-9_.-]', '_', tag)


def find_cuda_home() -> Optional[str]:
    """The CUDA toolkit root: ``$CUDA_HOME``/``$CUDA_PATH``, else the folder behind ``nvcc`` on PATH.

    ``nvcc`` may be a wrapper script (``exec /usr/local/cuda-13.0/bin/nvcc "$@"``); its target names the root.
    """
    for var in ('CUDA_HOME', 'CUDA_PATH'):
        root = os.environ.get(var)
        if root and (Path(root) / 'bin' / 'nvcc').exists():
            return root
    nvcc = shutil.which('nvcc')
    if nvcc is None:
        return '/usr/local/cuda' if Path('/usr/local/cuda/bin/nvcc').exists() else None
    real = Path(nvcc).resolve()
    try:
        head = real.read_bytes()[:4096]
    except OSError:
        head = b''
    if head.startswith(b'#!'):
        match = re.search(rb'exec\s+"?([^"\s]+/bin/nvcc)', head)
        if match:
            real = Path(match.group(1).decode()).resolve()
    return str(real.parent.parent)


def compile_flags(kind: str, stamp: bool = False) -> Dict[str, List[str]]:
    """Compiler flags; ``stamp`` embeds :func:`source_hash` (prebuilt modules only: the JIT cache tracks changes
    itself, and a stamp would force a full rebuild after every edit)."""
    define = [f'-DMMBOKEH_OPS_HASH={source_hash(kind)}'] if stamp else []
    flags = {'extra_cflags': ['-O3', '-fopenmp', '-ffp-contract=off'] + define, 'extra_ldflags': ['-fopenmp']}
    if kind == 'cuda':
        flags['extra_cuda_cflags'] = ['-O3', '--fmad=false'] + define
    return flags


def build_extension(kind: str,
                    build_directory: Optional[Path] = None,
                    verbose: bool = False,
                    name: Optional[str] = None,
                    stamp: bool = False) -> ModuleType:
    """Compile (or reuse the cached build of) the ``kind`` extension and import it.

    For CUDA this needs ``nvcc``; without a GPU it still compiles for ``$TORCH_CUDA_ARCH_LIST`` (default 9.0).
    ``name`` is the Python module name (``_ext_cpu``/``_ext_cuda`` for a prebuilt module); ``stamp`` embeds the
    source hash so a stale prebuilt module can be recognised.
    """
    from torch.utils import cpp_extension

    _check_kind(kind)
    directory = Path(build_directory) if build_directory is not None else default_build_dir(kind)
    directory.mkdir(parents=True, exist_ok=True)
    if kind == 'cuda':
        home = find_cuda_home()
        if home is None:
            raise RuntimeError('no CUDA toolkit found: set CUDA_HOME or put nvcc on PATH')
        os.environ['CUDA_HOME'] = home
        cpp_extension.CUDA_HOME = home
        if not os.environ.get('TORCH_CUDA_ARCH_LIST') and not torch.cuda.is_available():
            os.environ['TORCH_CUDA_ARCH_LIST'] = '9.0'
    return cpp_extension.load(
        name=name or f'mmbokeh_ops_{kind}',
        sources=[str(s) for s in sources(kind)],
        build_directory=str(directory),
        with_cuda=kind == 'cuda',
        verbose=verbose,
        **compile_flags(kind, stamp))


def _prebuilt(kind: str) -> Optional[ModuleType]:
    try:
        module = importlib.import_module(f'mmbokeh.ops._ext_{kind}')
    except ImportError as exc:
        _reasons[kind] = f'no prebuilt module ({exc})'
        return None
    if getattr(module, 'source_hash', lambda: None)() != source_hash(kind):
        _reasons[kind] = 'prebuilt module is stale (sources changed since tools/build_ops.py ran)'
        return None
    return module


def load_extension(kind: str) -> Optional[ModuleType]:
    """The compiled ``kind`` extension, or ``None`` when neither a prebuilt nor a JIT build is available."""
    _check_kind(kind)
    with _lock:
        if kind in _modules:
            return _modules[kind]
        module = _prebuilt(kind)
        if module is None:
            if kind == 'cuda' and not torch.cuda.is_available():
                _reasons[kind] = 'no CUDA device'
            else:
                try:
                    module = build_extension(kind)
                    _reasons[kind] = 'JIT build'
                except Exception as exc:  # a failed build must not break the reference path
                    _reasons[kind] = f'JIT build failed: {type(exc).__name__}: {exc}'
        else:
            _reasons[kind] = 'prebuilt module'
        _modules[kind] = module
        return module


def backend_info() -> Dict[str, str]:
    """How each loaded kind was obtained (or why it was not), for diagnostics."""
    return dict(_reasons)


def alert_not_deterministic(op: str) -> None:
    """Honour ``torch.use_deterministic_algorithms`` for a CUDA kernel that accumulates with atomic adds.

    Atomic float additions land in a different order from run to run, so the last bits of the result vary. As
    torch's own nondeterministic kernels do: raise when deterministic algorithms are required (mmengine's
    ``randomness.deterministic=True`` requires them), warn in ``warn_only`` mode, else nothing. The CPU kernels and
    the reference are deterministic.

    Raises:
        RuntimeError: deterministic algorithms are required; the message names ``op`` and the ways out.
    """
    if not torch.are_deterministic_algorithms_enabled():
        return
    msg = (f'{op} on CUDA accumulates with atomic adds and is not deterministic, but torch.use_deterministic_'
           'algorithms(True) is set (mmengine: randomness.deterministic=True). Run it on the CPU (impl="cpu"), or '
           'allow it with torch.use_deterministic_algorithms(True, warn_only=True).')
    if torch.is_deterministic_algorithms_warn_only_enabled():
        warnings.warn(msg, stacklevel=3)
    else:
        raise RuntimeError(msg)


def resolve_impl(impl: Optional[str], device: torch.device) -> str:
    """Pick 'reference', 'cpu' or 'cuda' for tensors on ``device``.

    ``impl`` wins over ``$MMBOKEH_OPS_IMPL``; both accept 'reference', 'cpu', 'cuda' or 'auto'/None.
    """
    source = 'impl'
    if impl is None:
        impl, source = (os.environ.get(ENV_IMPL) or None), ENV_IMPL
    if impl is not None and not isinstance(impl, str):
        raise TypeError(f'{source} must be a string or None, got {type(impl).__name__}')
    if impl in (None, 'auto'):
        kind = device.type if device.type in ('cpu', 'cuda') else None
        if kind is not None and load_extension(kind) is not None:
            return kind
        key = kind or device.type
        if key not in _warned:
            _warned.add(key)
            warnings.warn(
                f'mmbokeh.ops: no compiled {key} kernels ({_reasons.get(key, "unsupported device")}); '
                'using the slow pure-PyTorch reference', RuntimeWarning, stacklevel=3)
        return 'reference'
    if impl not in IMPLS:
        raise ValueError(f'{source} must be one of {IMPLS} or auto, got {impl!r}')
    if impl == 'reference':
        return impl
    if device.type != impl:
        raise ValueError(f"{source}='{impl}' needs {impl} tensors, got tensors on {device}")
    if load_extension(impl) is None:
        raise RuntimeError(f"{source}='{impl}' but the {impl} kernels are unavailable: {_reasons.get(impl)}")
    return impl


def _check_kind(kind: str) -> None:
    if kind not in ('cpu', 'cuda'):
        raise ValueError(f"kind must be 'cpu' or 'cuda', got {kind!r}")
