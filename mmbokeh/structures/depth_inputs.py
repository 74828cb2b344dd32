"""The model-input contract: what ``PackDepthInputs`` packs and ``DepthDataPreprocessor`` batches.

Every estimator takes ``inputs`` as a dict of tensors (a bare image tensor is accepted as ``dict(img=...)``):

==============  =========================  =================================================================
key             batched shape              meaning
==============  =========================  =================================================================
``img``         [B, 3, H, W]               reference image (normalised RGB after the data preprocessor)
``stack``       [B, S, 3, H, W]            frames aligned with ``img``, normalised like it: a bokeh stack
                                           (Stage 1) or a focal stack (depth from defocus)
``stack_k``     [B, S]                     calibrated bokeh strength K of each frame (pixels x metres)
``stack_focus`` [B, S]                     focus distance of each focal-stack frame (metres)
``camera``      [B, 3]                     ``focal_length`` (m), ``f_number``, ``pixel_size`` (m): with
                                           ``mmbokeh.optics`` the CoC of any depth follows
==============  =========================  =================================================================

Per sample (before batching) the shapes lose their leading B. Frames travel in the inputs, not in the data samples,
so ``model(inputs, mode='tensor')``, FLOP counting and export see the whole model.
"""
from typing import Dict, Mapping, Union

import torch

#: Per-frame tensors: ``name -> number of dims after the batch and frame axes``.
FRAME_KEYS = {'stack': 3, 'stack_k': 0, 'stack_focus': 0}
#: Order of the ``camera`` vector.
CAMERA_FIELDS = ('focal_length', 'f_number', 'pixel_size')
INPUT_KEYS = ('img', ) + tuple(FRAME_KEYS) + ('camera', )

DepthInputs = Dict[str, torch.Tensor]


def as_depth_inputs(inputs: Union[torch.Tensor, Mapping[str, torch.Tensor]]) -> DepthInputs:
    """Check batched model inputs and return them as a dict (a [B, 3, H, W] tensor becomes ``dict(img=...)``).

    Raises ``ValueError`` naming the key and the expected shape when a tensor does not fit the contract above.
    """
    if isinstance(inputs, torch.Tensor):
        inputs = dict(img=inputs)
    if not isinstance(inputs, Mapping):
        raise TypeError(f'model inputs must be a dict of tensors or an image tensor, got {type(inputs).__name__}')
    unknown = sorted(set(inputs) - set(INPUT_KEYS))
    if unknown:
        raise KeyError(f'unknown model input keys {unknown}; expected some of {list(INPUT_KEYS)}')
    if 'img' not in inputs:
        raise KeyError(f"model inputs need 'img' [B, 3, H, W]; got keys {sorted(inputs)}")
    img = inputs['img']
    if img.dim() != 4 or img.shape[1] != 3:
        raise ValueError(f"inputs['img'] must be [B, 3, H, W], got {tuple(img.shape)}")
    batch, frames = img.shape[0], None
    for key, extra in FRAME_KEYS.items():
        if key not in inputs:
            continue
        value = inputs[key]
        want = (batch, frames if frames is not None else value.shape[1] if value.dim() > 1 else -1)
        want += (3, ) + tuple(img.shape[2:]) if extra else ()
        if value.dim() != 2 + extra or tuple(value.shape) != want:
            raise ValueError(f'inputs[{key!r}] must be [B, S{", 3, H, W" if extra else ""}] = {want}, '
                             f'got {tuple(value.shape)}')
        frames = value.shape[1]
    if 'stack' in inputs and 'stack_k' not in inputs and 'stack_focus' not in inputs:
        raise KeyError("inputs['stack'] needs 'stack_k' (bokeh strengths) or 'stack_focus' (focus distances)")
    if 'stack' not in inputs and frames is not None:
        raise KeyError("inputs have per-frame values but no 'stack' [B, S, 3, H, W]")
    if 'camera' in inputs and tuple(inputs['camera'].shape) != (batch, len(CAMERA_FIELDS)):
        raise ValueError(f"inputs['camera'] must be [B, {len(CAMERA_FIELDS)}] ({', '.join(CAMERA_FIELDS)}), "
                         f"got {tuple(inputs['camera'].shape)}")
    return dict(inputs)
