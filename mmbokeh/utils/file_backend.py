"""``atomic_local``: mmengine's local file backend whose writes are atomic (temporary file + rename).

Checkpoints and the ``last_checkpoint`` pointer written through it are never left half written under their final
name by a kill; select it with ``backend_args=dict(backend='atomic_local')`` (the default runtime's CheckpointHook
does).
"""
from pathlib import Path
from typing import Union

from mmengine.fileio.backends import LocalBackend, register_backend

from .io import atomic_write_bytes


class AtomicLocalBackend(LocalBackend):
    """:class:`mmengine.fileio.LocalBackend` with ``put`` / ``put_text`` through :func:`atomic_write_bytes`."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write_bytes(filepath, obj)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        atomic_write_bytes(filepath, obj.encode(encoding))


register_backend('atomic_local', AtomicLocalBackend, force=True)
