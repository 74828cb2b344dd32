"""Make mmengine checkpoints loadable with ``torch.load(weights_only=True)`` (torch >= 2.6).

mmengine 0.10.x saves its ``MessageHub`` (``HistoryBuffer`` objects holding numpy arrays) and numpy scalars in the
checkpoint ``meta``. Since torch 2.6 ``torch.load`` defaults to ``weights_only=True`` and rejects these globals,
so ``--resume`` and ``load_checkpoint`` fail. Instead of turning the safe unpickler off, we allow-list exactly the
classes that mmengine writes: they hold data only and run no code when unpickled.

One reference needs care: ``HistoryBuffer`` pickles its statistics methods as ``getattr(HistoryBuffer, 'mean')``.
Allowing the builtin ``getattr`` would let a checkpoint reach any attribute of any allowed class, so we register a
restricted stand-in under the name ``builtins.getattr`` that resolves only those statistics methods.
"""
import pickle

import numpy as np
import torch


def _numpy_globals() -> list:
    dtypes = [np.dtype, np.ndarray]
    # numpy >= 1.25 exposes the concrete dtype classes (Float64DType, ...); pickles of arrays reference them.
    dtypes += [type(np.dtype(t)) for t in ('float16', 'float32', 'float64', 'int8', 'int16', 'int32', 'int64',
                                          'uint8', 'uint16', 'uint32', 'uint64', 'bool')]
    try:  # numpy 2.x
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    return dtypes + [_reconstruct, scalar]


DEFAULT_STATISTICS = frozenset({'min', 'max', 'current', 'mean'})  # HistoryBuffer._set_default_statistics


def history_buffer_getattr(obj, name: str):
    """``getattr`` limited to ``HistoryBuffer``'s registered statistics methods (what its pickle references)."""
    from mmengine.logging.history_buffer import HistoryBuffer
    allowed = DEFAULT_STATISTICS | set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(f'checkpoint asks for getattr({obj!r}, {name!r}); only HistoryBuffer statistics '
                                 f'methods {sorted(allowed)} are allowed')


def checkpoint_globals() -> list:
    """The classes and functions an mmengine checkpoint's pickle references besides tensors and builtins."""
    from mmengine.logging.history_buffer import HistoryBuffer
    return [HistoryBuffer, (history_buffer_getattr, 'builtins.getattr')] + _numpy_globals()


def register_checkpoint_globals() -> None:
    """Allow-list :func:`checkpoint_globals` for ``torch.load(weights_only=True)``; a no-op on torch < 2.4."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:
        add(checkpoint_globals())
