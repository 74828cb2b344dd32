"""On-disk stack cache in the layout of the official BokehDepth Stage-1 tool (``gen_bokeh_stack.py``).

Layout, under a root folder::

    <root>/<sample key>/defocus_stack/0.png            frame of K = k_values["0"] (8-bit RGB PNG)
    <root>/<sample key>/defocus_stack/1.png
    ...
    <root>/<sample key>/defocus_stack/stack_index.json {"ids": ["0", "1", ...], "k_values": {"0": K0, ...}, ...}
    <root>/manifest.jsonl                               one line per finished sample (written at the end)

``stack_index.json`` may hold more metadata (the official tool stores ``source_rgb``, ``method``, ``size``, ...;
mmbokeh adds ``bokeh_source`` and the focus). The reference frame (K = 0) is not part of the stack. A sample is
complete when its ``stack_index.json`` exists and every frame it lists does: frames are written first and the index
last, each through a temporary file renamed into place, so an interrupted writer never leaves a finished-looking
sample with a partial file.
"""
import json
import os
import os.path as osp
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from mmbokeh.utils.io import atomic_path, atomic_write_bytes

STACK_DIR = 'defocus_stack'
#: A frame id names ``<id>.png`` inside the stack folder: a plain name, never a path.
FRAME_ID = re.compile(r'[A-Za-z0-9_-]+')
INDEX_NAME = 'stack_index.json'
MANIFEST_NAME = 'manifest.jsonl'
PathLike = Union[str, Path]


def sample_key(results: Dict, data_root: Optional[str] = None, key_template: Optional[str] = None) -> str:
    """The relative folder of a sample under a stack root.

    In order: ``key_template.format(**results)`` (e.g. ``'{sample_idx:06d}'``); for an ``img_path`` with a scheme
    (``synthetic://train/000003``) the part after ``://``; ``img_path`` relative to ``data_root`` without its
    extension (the official tool's ``<sample_rel_path>``); else ``sample_idx`` as ``'%06d'``.
    """
    if key_template is not None:
        try:
            key = key_template.format(**results)
        except (KeyError, IndexError, ValueError) as err:
            raise KeyError(f'stack key_template {key_template!r} needs a results key that is missing or of the wrong '
                           f'type ({err!r}); results keys: {sorted(results)}') from None
    elif isinstance(results.get('img_path'), str) and '://' in results['img_path']:
        key = results['img_path'].split('://', 1)[1]
    elif isinstance(results.get('img_path'), str) and data_root is not None and \
            osp.abspath(results['img_path']).startswith(osp.abspath(data_root) + os.sep):
        key = osp.splitext(osp.relpath(osp.abspath(results['img_path']), osp.abspath(data_root)))[0]
    elif results.get('sample_idx') is not None:
        key = f'{int(results["sample_idx"]):06d}'
    else:
        raise KeyError('cannot name the stack folder of this sample: give key_template, a data_root holding '
                       f'img_path, or a sample_idx (img_path={results.get("img_path")!r})')
    key = key.replace('\\', '/').strip('/')
    if not key or key.startswith('/') or any(part in ('', '.', '..') for part in key.split('/')):
        raise ValueError(f'stack sample key {key!r} must be a relative path without "." or ".." parts')
    return key


def stack_dir(root: PathLike, key: str) -> Path:
    """``<root>/<key>/defocus_stack``."""
    return Path(root) / key / STACK_DIR


def _encode_png(frame: np.ndarray, where: str) -> bytes:
    if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype not in (np.uint8, np.uint16):
        raise ValueError(f'{where}: a stack frame must be (H, W, 3) uint8 or uint16 BGR, got {frame.shape} '
                         f'{frame.dtype}')
    ok, buf = cv2.imencode('.png', np.ascontiguousarray(frame))
    if not ok:
        raise IOError(f'{where}: PNG encoding failed')
    return buf.tobytes()


def write_stack(root: PathLike, key: str, frames: np.ndarray, k_values: Sequence[float],
                meta: Optional[Dict[str, Any]] = None) -> Path:
    """Write one sample: every frame ``{i}.png`` then ``stack_index.json``, each atomically.

    Args:
        frames: (S, H, W, 3) uint8 (or uint16) BGR; stored as RGB PNGs like the official tool.
        k_values: (S,) K of each frame.
        meta: extra JSON-serialisable entries of ``stack_index.json`` (must not use ``ids`` / ``k_values``).

    Returns:
        The sample's ``defocus_stack`` folder.
    """
    out = stack_dir(root, key)
    frames = np.asarray(frames)
    k_values = [float(k) for k in np.asarray(k_values, dtype=np.float64).reshape(-1)]
    if frames.ndim != 4 or len(frames) != len(k_values):
        raise ValueError(f'write_stack {key}: frames must be (S, H, W, 3) with S = len(k_values) = {len(k_values)}, '
                         f'got {frames.shape}')
    meta = dict(meta or {})
    clash = {'ids', 'k_values'} & set(meta)
    if clash:
        raise ValueError(f'write_stack {key}: meta must not set {sorted(clash)}')
    ids = [str(i) for i in range(len(frames))]
    for i, frame in zip(ids, frames):
        atomic_write_bytes(out / f'{i}.png', _encode_png(frame, f'{out}/{i}.png'))
    index = dict(ids=ids, k_values={i: k for i, k in zip(ids, k_values)}, **meta)
    with atomic_path(out / INDEX_NAME) as tmp:
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(index, f, indent=2, sort_keys=True)
    return out


def read_stack_index(directory: PathLike) -> Tuple[List[str], np.ndarray, Dict[str, Any]]:
    """Read ``<directory>/stack_index.json``: frame ids, their K (float32) and the whole index.

    Accepts ``k_values`` as a dict keyed by id (official) or a list parallel to ``ids``; without ``ids`` the dict's
    keys are used in numeric order.
    """
    path = Path(directory) / INDEX_NAME
    if not path.is_file():
        raise FileNotFoundError(f'stack index not found: {path} (expected the official layout <root>/<sample>/'
                                f'{STACK_DIR}/{INDEX_NAME}; make stacks with tools/make_bokeh_stacks.py)')
    try:
        index = json.loads(path.read_text(encoding='utf-8'))
    except json.JSONDecodeError as err:
        raise ValueError(f'{path} is not valid JSON: {err}') from None
    if not isinstance(index, dict) or 'k_values' not in index:
        raise KeyError(f'{path} must be a JSON object with "k_values" (and "ids"), got keys '
                       f'{sorted(index) if isinstance(index, dict) else type(index).__name__}')
    kv = index['k_values']
    ids = index.get('ids')
    if ids is None:
        if not isinstance(kv, dict):
            raise KeyError(f'{path}: "k_values" is a list, so "ids" is needed')
        ids = sorted(kv, key=lambda s: (0, int(s)) if str(s).isdigit() else (1, str(s)))
    ids = [str(i) for i in ids]
    try:
        k = [kv[i] for i in ids] if isinstance(kv, dict) else list(kv)
    except KeyError as err:
        raise KeyError(f'{path}: id {err} of "ids" has no entry in "k_values"') from None
    if len(k) != len(ids) or not ids:
        raise ValueError(f'{path}: "ids" ({len(ids)}) and "k_values" ({len(k)}) must be non-empty and of equal length')
    bad_ids = [i for i in ids if not FRAME_ID.fullmatch(i)]
    if bad_ids:
        raise ValueError(f'{path}: frame ids must be plain names (letters, digits, "_", "-"; no paths), got {bad_ids}')
    try:
        k = np.asarray(k, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f'{path}: "k_values" must be numbers, got {kv!r}') from None
    if k.ndim != 1 or not np.all(np.isfinite(k)) or np.any(k < 0):
        raise ValueError(f'{path}: "k_values" must be finite K >= 0 (pixels x metres), got {k.tolist()}')
    return ids, k, index


def read_frames(directory: PathLike, ids: Sequence[str], flag: int = cv2.IMREAD_COLOR) -> List[np.ndarray]:
    """Decode ``<directory>/{id}.png`` for each id as (H, W, 3) BGR arrays."""
    frames = []
    for i in ids:
        path = Path(directory) / f'{i}.png'
        if not path.is_file():
            raise FileNotFoundError(f'stack frame {path} listed in {INDEX_NAME} does not exist')
        frame = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), flag)
        if frame is None:
            raise ValueError(f'stack frame {path} could not be decoded (corrupt or not a PNG)')
        frames.append(frame)
    return frames


def is_complete(directory: PathLike, k_values: Optional[Sequence[float]] = None, atol: float = 1e-4) -> bool:
    """True when ``stack_index.json`` exists, every listed frame exists and (if given) its K equal ``k_values``."""
    try:
        ids, k, _ = read_stack_index(directory)
    except (FileNotFoundError, KeyError, ValueError):
        return False
    if k_values is not None:
        want = np.asarray(k_values, dtype=np.float32).reshape(-1)
        if want.shape != k.shape or not np.allclose(want, k, rtol=0, atol=atol):
            return False
    return all((Path(directory) / f'{i}.png').is_file() for i in ids)


def is_temporary(name: str) -> bool:
    """Names of :func:`mmbokeh.utils.io.atomic_path` temporaries (``.<name>.<random>.tmp<suffix>``)."""
    return name.startswith('.') and '.tmp' in name


def remove_temporaries(directory: PathLike) -> int:
    """Delete leftover temporaries of an interrupted writer in ``directory`` (not recursive); returns how many."""
    directory = Path(directory)
    if not directory.is_dir():
        return 0
    stale = [p for p in directory.iterdir() if p.is_file() and is_temporary(p.name)]
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)


def iter_stack_indices(root: PathLike) -> Iterator[Tuple[str, Path]]:
    """Yield ``(sample key, index path)`` of every stack under ``root``, sorted by key."""
    root = Path(root)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith('.')]
        if INDEX_NAME in filenames and osp.basename(dirpath) == STACK_DIR:
            key = Path(dirpath).parent.relative_to(root).as_posix()
            found.append((key, Path(dirpath) / INDEX_NAME))
    yield from sorted(found)


def write_manifest(root: PathLike, name: str = MANIFEST_NAME) -> Path:
    """Write ``<root>/manifest.jsonl`` (atomically): per complete sample its key, index, frames (relative to
    ``root``), K values and the index's ``source_rgb`` / ``bokeh_source`` when present. Deterministic order."""
    root = Path(root)
    lines = []
    for key, index_path in iter_stack_indices(root):
        if not is_complete(index_path.parent):
            continue
        ids, k, index = read_stack_index(index_path.parent)
        entry = dict(sample=key, stack_index=index_path.relative_to(root).as_posix(),
                     stack=[(index_path.parent / f'{i}.png').relative_to(root).as_posix() for i in ids],
                     k=[float(v) for v in k])
        for extra in ('source_rgb', 'bokeh_source', 'focus_dist'):
            if extra in index:
                entry[extra] = index[extra]
        lines.append(json.dumps(entry, sort_keys=True))
    path = root / name
    atomic_write_bytes(path, ''.join(line + '\n' for line in lines).encode('utf-8'))
    return path
