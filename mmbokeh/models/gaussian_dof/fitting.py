"""Per-scene optimisation of Gaussians against defocused views with known CoC maps (SDNet eqs. 11-12)."""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

from .gaussians import GaussianParams
from .renderer import render_dof

#: Adam learning rates in the unconstrained parametrisation. ``means3d`` is relative: it is multiplied by the
#: median camera depth of the Gaussians (3DGS scales its position rate by the scene extent).
DEFAULT_LR = dict(means3d=1e-3, scales=1e-2, quats=1e-3, opacities=5e-2, colors=5e-2)
_NAMES = ('means3d', 'scales', 'quats', 'opacities', 'colors')
_EPS = 1e-4


def _encode(params: GaussianParams) -> Dict[str, torch.Tensor]:
    """Unconstrained parameters: log-scales, logit-opacities, logit-colours (clamped to [1e-4, 1 - 1e-4] first)."""
    return dict(means3d=params.means3d.detach().clone(),
                scales=params.scales.detach().clamp_min(1e-12).log(),
                quats=params.quats.detach().clone(),
                opacities=torch.logit(params.opacities.detach().clamp(_EPS, 1 - _EPS)),
                colors=torch.logit(params.colors.detach().clamp(_EPS, 1 - _EPS)))


def _decode(raw: Dict[str, torch.Tensor]) -> GaussianParams:
    return GaussianParams(means3d=raw['means3d'], scales=raw['scales'].exp(), quats=raw['quats'],
                          opacities=torch.sigmoid(raw['opacities']), colors=torch.sigmoid(raw['colors']))


def _loss_fn(loss: Union[str, Callable]) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if callable(loss):
        return loss
    if loss == 'l1':
        return F.l1_loss
    if loss in ('l2', 'mse'):
        return F.mse_loss
    raise ValueError(f"loss must be 'l1', 'l2', 'mse' or a callable, got {loss!r}")


def fit_gaussians(params: GaussianParams,
                  targets: torch.Tensor,
                  coc_maps: torch.Tensor,
                  viewmat: torch.Tensor,
                  intrinsics: torch.Tensor,
                  steps: int = 200,
                  lr: Union[float, Dict[str, float], None] = None,
                  loss: Union[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = 'l1',
                  impl: Optional[str] = None,
                  optimise: Sequence[str] = ('colors', 'opacities', 'means3d', 'scales'),
                  background: Optional[torch.Tensor] = None,
                  eps2d: float = 0.3,
                  verbose: bool = False) -> Tuple[GaussianParams, List[float]]:
    """Fit Gaussians to S defocused views of one camera with known CoC maps, with Adam (3DGS-style).

    Every step renders all S views with :func:`render_dof` (view s with ``coc_maps[s]``), sums ``loss(render,
    target)`` over them and takes one Adam step on the parameters named in ``optimise``, in unconstrained form:
    means as is, log-scales, quaternions as is (the op normalises them), logit-opacities and logit-colours (colours
    are assumed in [0, 1]; opacities and colours are clamped to [1e-4, 1 - 1e-4] before the logit). The others are
    kept fixed. The CoC maps are fixed here; to train the network that predicts them, call :func:`render_dof` in
    its graph instead.

    Args:
        params: initial Gaussians (not modified). targets: [S,C,H,W]. coc_maps: [S,1,H,W] px.
        viewmat: [4,4] world-to-camera. intrinsics: [3,3].
        lr: one rate for all, a dict overriding entries of the defaults, or ``None`` for the defaults
            (:data:`DEFAULT_LR`, the ``means3d`` rate multiplied by the median camera depth of the Gaussians).
        loss: ``'l1'``, ``'l2'``/``'mse'`` or ``callable(render [C,H,W], target [C,H,W]) -> scalar``.
        verbose: show a tqdm progress bar.

    Returns:
        (fitted GaussianParams, detached; the loss before each step, ``steps`` floats).
    """
    if targets.dim() != 4 or coc_maps.dim() != 4 or coc_maps.shape[0] != targets.shape[0] or coc_maps.shape[1] != 1 \
            or coc_maps.shape[2:] != targets.shape[2:]:
        raise ValueError(f'targets must be [S,C,H,W] and coc_maps [S,1,H,W], got {tuple(targets.shape)} and '
                         f'{tuple(coc_maps.shape)}')
    unknown = set(optimise) - set(_NAMES)
    if unknown or not optimise:
        raise ValueError(f'optimise must name some of {_NAMES}, got {tuple(optimise)}')
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f'steps must be an integer >= 0, got {steps!r}')
    crit = _loss_fn(loss)
    h, w = targets.shape[-2:]
    raw = _encode(params)
    with torch.no_grad():
        cam_z = (params.means3d @ viewmat[:3, :3].T + viewmat[:3, 3])[:, 2]
        extent = float(cam_z.abs().median()) if len(params) else 1.0
    rates = dict(DEFAULT_LR, means3d=DEFAULT_LR['means3d'] * extent)
    if isinstance(lr, (int, float)) and not isinstance(lr, bool):
        rates = {k: float(lr) for k in rates}
    elif isinstance(lr, dict):
        rates.update(lr)
    elif lr is not None:
        raise ValueError(f'lr must be a float, a dict or None, got {lr!r}')
    groups = []
    for name in optimise:
        raw[name].requires_grad_(True)
        groups.append(dict(params=[raw[name]], lr=rates[name]))
    opt = torch.optim.Adam(groups, eps=1e-15)
    iterator = range(steps)
    if verbose:
        from tqdm import tqdm
        iterator = tqdm(iterator, desc='fit_gaussians')
    losses: List[float] = []
    for _ in iterator:
        opt.zero_grad(set_to_none=True)
        current = _decode(raw)
        total = 0
        for s in range(targets.shape[0]):
            color, _, _ = render_dof(current, viewmat, intrinsics, w, h, coc_map=coc_maps[s], background=background,
                                     impl=impl, eps2d=eps2d)
            total = total + crit(color, targets[s])
        total.backward()
        opt.step()
        losses.append(float(total.detach()))
        if verbose:
            iterator.set_postfix(loss=losses[-1])
    return _decode(raw).detach(), losses
