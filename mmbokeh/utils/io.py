"""File output helpers: atomic writes (a temporary file in the same folder, then a rename: readers never see a
half-written file, an interrupted writer leaves no partial file) and stable per-image output names."""
import io
import os
import os.path as osp
import tempfile
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional, Union

#: File suffixes taken as images by :func:`list_images`.
IMAGE_SUFFIXES = {'.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp'}


@contextmanager
def atomic_path(path: Union[str, Path]) -> Iterator[str]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically, on error it is removed.

    Readers never see a partial file, and an interrupted job leaves the previous file intact. The file gets the
    mode a plain ``open(path, 'w')`` would give (0666 less the umask), not ``mkstemp``'s private 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp' + path.suffix, dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _umask() -> int:
    """The process umask: from /proc on Linux (no race with other threads), else by setting and restoring it."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_torch_save(obj, path: Union[str, Path]) -> None:
    """``torch.save`` through :func:`atomic_path`."""
    import torch
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def atomic_write_bytes(path: Union[str, Path], data: bytes) -> None:
    """Write ``data`` to ``path`` through :func:`atomic_path`."""
    with atomic_path(path) as tmp:
        with open(tmp, 'wb') as f:
            f.write(data)


def atomic_save_figure(fig, path: Union[str, Path], dpi: int = 100) -> None:
    """Render the matplotlib figure ``fig`` as a PNG of ``dpi`` pixels per inch and write it through
    :func:`atomic_write_bytes` (a reader never sees half a picture)."""
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=dpi)
    atomic_write_bytes(path, buf.getvalue())


def output_stem(img_path: str) -> str:
    """File stem for the outputs of one image: ``<parent folder>_<image stem>``, unique across scene folders.

    'nyu/kitchen_0001/rgb_00001.jpg' -> 'kitchen_0001_rgb_00001'; 'synthetic://demo/3' -> 'demo_3'; 'a.png' -> 'a'.
    """
    path = img_path.split('://', 1)[-1].rstrip('/')
    parent = osp.basename(osp.dirname(path))
    stem = osp.splitext(osp.basename(path))[0]
    return f'{parent}_{stem}' if parent else stem


def list_images(src: Union[str, Path], exclude: Optional[Union[str, Path]] = None) -> List[Path]:
    """``src`` itself, or the images below the folder ``src`` (recursively, sorted), leaving out anything under
    ``exclude`` (an output folder)."""
    src = Path(src)
    if src.is_file():
        return [src]
    if not src.is_dir():
        raise FileNotFoundError(f'{src}: no such image or folder')
    skip = Path(exclude).resolve() if exclude is not None else None
    images = sorted(p for p in src.rglob('*') if p.suffix.lower() in IMAGE_SUFFIXES
                    and (skip is None or skip not in p.resolve().parents))
    if not images:
        raise FileNotFoundError(f'{src}: no images ({", ".join(sorted(IMAGE_SUFFIXES))}) in this folder')
    return images


def output_stems(images: List[Path], root: Union[str, Path]) -> List[str]:
    """One output stem per image, relative to ``root`` (folders kept), unique even when stems repeat (``a.png`` and
    ``a.jpg`` -> ``a_png``, ``a_jpg``)."""
    stems = [Path(p).relative_to(root).with_suffix('').as_posix() for p in images]
    seen = Counter(stems)
    return [f'{s}_{Path(p).suffix.lstrip(".").lower()}' if seen[s] > 1 else s for s, p in zip(stems, images)]
