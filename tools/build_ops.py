"""Build mmbokeh's compiled DoF ops ahead of time.

    python tools/build_ops.py              # CPU kernels, plus CUDA kernels when nvcc is found
    python tools/build_ops.py --cpu-only   # CPU kernels only
    python tools/build_ops.py --cuda       # CPU and CUDA kernels; fail if CUDA cannot be built

The modules land in ``mmbokeh/ops/`` as ``_ext_cpu`` / ``_ext_cuda`` and are used in preference to the
just-in-time build while the sources they were built from are unchanged (they carry a source hash). The CUDA build
needs nvcc; CUDA_HOME is taken from the environment or from the nvcc wrapper on PATH, and without a GPU the
architecture defaults to TORCH_CUDA_ARCH_LIST=9.0 (set it to build for others, e.g. "8.0;9.0").
"""
import argparse
import importlib.machinery
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mmbokeh.ops import _backend  # noqa: E402


def build(kind: str, build_root: Path, verbose: bool) -> Path:
    """Compile one kind into ``build_root/kind`` and copy the module next to the Python sources."""
    start = time.time()
    module = _backend.build_extension(kind, build_root / kind, verbose=verbose, name=f'_ext_{kind}', stamp=True)
    target = ROOT / 'mmbokeh' / 'ops' / f'_ext_{kind}{importlib.machinery.EXTENSION_SUFFIXES[0]}'
    shutil.copyfile(module.__file__, target)
    print(f'[{kind}] built in {time.time() - start:.0f} s -> {target.relative_to(ROOT)} '
          f'(sources {module.source_hash()})')
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--cpu-only', action='store_true', help='build only the C++ CPU kernels')
    group.add_argument('--cuda', action='store_true', help='also build the CUDA kernels and fail if that fails')
    parser.add_argument('--build-dir', type=Path, default=ROOT / 'build' / 'mmbokeh_ops',
                        help='folder for intermediate objects (default: build/mmbokeh_ops)')
    parser.add_argument('--verbose', action='store_true', help='show the compiler commands')
    args = parser.parse_args(argv)

    build('cpu', args.build_dir, args.verbose)
    if args.cpu_only:
        return 0
    home = _backend.find_cuda_home()
    if home is None:
        if args.cuda:
            print('error: --cuda given but no CUDA toolkit found (set CUDA_HOME or put nvcc on PATH)', file=sys.stderr)
            return 1
        print('[cuda] skipped: no nvcc found (use --cuda to require it)')
        return 0
    try:
        build('cuda', args.build_dir, args.verbose)
    except Exception as exc:  # nvcc is there, so a failed build is a real failure
        print(f'[cuda] build failed: {exc}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
