"""Every registered loss (each ``MODELS`` entry whose name ends in 'Loss') under CPU autocast, bfloat16 and float16.

A model under autocast hands its losses low-precision predictions; each case here casts the float32 predictions to
the autocast dtype inside ``torch.autocast('cpu', dtype)`` (what a conv / linear head emits there), runs the loss and
back-propagates to the float32 leaves. The loss and its gradients must be finite and within a tolerance of the same
loss computed in float32 without autocast (the difference is the rounding of the predictions to 8 or 11 mantissa
bits), on valid inputs, on zero depth, on invalid depth (0, negative, NaN and inf ground truth, non-finite
predictions where the ground truth is invalid) and on all-invalid masks, where a masked loss is exactly 0 with zero
gradients. A loss registered without an input factory below fails ``test_every_registered_loss_has_a_factory``.
"""
from typing import Callable, Dict, NamedTuple, Tuple

import pytest
import torch

import mmbokeh.models  # noqa: F401  (registers the losses)
from mmbokeh.registry import MODELS

DTYPES = {'bfloat16': torch.bfloat16, 'float16': torch.float16}
#: relative / absolute tolerance on the loss and on its gradients against float32: bf16 keeps 8 mantissa bits
#: (relative rounding 2^-9), fp16 11 (2^-12); a loss of many rounded terms errs by about that much.
TOL = {'bfloat16': dict(rtol=2e-2, atol=2e-3), 'float16': dict(rtol=4e-3, atol=4e-4)}
B, H, W = 2, 16, 16
DEPTH_CASES = ('valid', 'zero_depth', 'invalid_depth', 'all_invalid_mask')
MEDIAN_LOSSES = ('UniDepthConfidenceLoss',)


class Case(NamedTuple):
    """preds: float32 leaves the model would output (cast to the autocast dtype in the autocast run);
    call: builds the loss arguments from the (possibly cast) preds; zero: the loss must be exactly 0 with zero
    gradients (nothing to supervise)."""
    preds: Dict[str, torch.Tensor]
    call: Callable[[Dict[str, torch.Tensor]], Tuple]
    zero: bool = False


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _depth_triplet(case, g):
    """pred [B, 1, H, W] in (0.3, 9.3) m, target (0.5, 10) m with ~20% holes, mask (None or bool) for ``case``."""
    pred = torch.rand(B, 1, H, W, generator=g) * 9 + 0.3
    target = torch.rand(B, 1, H, W, generator=g) * 9.5 + 0.5
    holes = torch.rand(B, 1, H, W, generator=g) < 0.2
    target[holes] = 0.0
    mask = torch.rand(B, 1, H, W, generator=g) < 0.9
    if case == 'zero_depth':
        target.zero_()
    elif case == 'invalid_depth':
        bad = torch.rand(B, 1, H, W, generator=g)
        target[bad < 0.1] = float('nan')
        target[(bad >= 0.1) & (bad < 0.2)] = float('inf')
        target[(bad >= 0.2) & (bad < 0.3)] = -1.0
        unsupervised = ~(torch.isfinite(target) & (target > 0))
        pred[unsupervised & (bad < 0.15)] = float('nan')  # a diverged pixel where nothing is supervised
        pred[unsupervised & (bad >= 0.15) & (bad < 0.2)] = float('inf')
    elif case == 'all_invalid_mask':
        mask = torch.zeros(B, 1, H, W, dtype=torch.bool)
    return pred, target, mask


def _masked_depth(case, g):
    pred, target, mask = _depth_triplet(case, g)
    return Case(dict(pred=pred), lambda p: (p['pred'], target, mask), zero=case in ('zero_depth', 'all_invalid_mask'))


def _unidepth(case, g):
    pred, target, mask = _depth_triplet(case, g)
    conf = torch.rand(B, 1, H, W, generator=g) * 2 + 0.1
    rays = torch.nn.functional.normalize(torch.randn(B, 3, H, W, generator=g), dim=1)
    rays_gt = torch.nn.functional.normalize(rays + 0.1 * torch.randn(B, 3, H, W, generator=g), dim=1)
    valid = mask & torch.isfinite(target) & (target > 0)
    return Case(dict(depth=pred, confidence=conf, rays_pred=rays),
                lambda p: (dict(p, rays_gt=rays_gt), target, valid))


def _unidepth_camera(case, g):
    made = _unidepth(case, g)
    if case == 'zero_depth':  # the camera loss reads no depth: its "nothing to supervise" is no given camera
        return Case(made.preds, lambda p: (dict(p, rays_gt=None), *made.call(p)[1:]), zero=True)
    return made


def _image(g, channels=3):
    return torch.rand(B, channels, H, W, generator=g)


def _blur(case, g):
    img = torch.zeros(B, 3, H, W) if case == 'zero_depth' else _image(g)
    return Case(dict(image=img), lambda p: (p['image'],))


def _smoothness(case, g):
    pred, _, _ = _depth_triplet('valid', g)
    if case == 'zero_depth':
        pred.zero_()
    image = _image(g)
    return Case(dict(depth=pred), lambda p: (p['depth'], image), zero=case == 'zero_depth')


def _reconstruction(case, g):
    rendered, real = _image(g), _image(g)
    mask = torch.rand(B, 1, H, W, generator=g) < 0.8
    if case == 'all_invalid_mask':
        mask = torch.zeros_like(mask)
    elif case == 'zero_depth':  # a black render of a black image: a perfect reconstruction
        rendered, real = torch.zeros_like(rendered), torch.zeros_like(real)
    return Case(dict(pred=rendered), lambda p: (p['pred'], real, mask), zero=case != 'valid')


def _defocus_pair(case, g):
    d1 = torch.rand(B, 1, H, W, generator=g) * 3
    d2 = d1 + 0.5 * torch.randn(B, 1, H, W, generator=g)
    if case == 'zero_depth':  # all-zero maps (e.g. a dead ReLU): cosine 0 and no gradient
        d1, d2 = torch.zeros_like(d1), torch.zeros_like(d2)
    return Case(dict(pred1=d1, pred2=d2), lambda p: (p['pred1'], p['pred2']))


#: name -> (build kwargs, factory(case, generator) -> Case, cases it accepts)
FACTORIES = {
    'SiLogLoss': (dict(), _masked_depth, DEPTH_CASES),
    'L1DepthLoss': (dict(), _masked_depth, DEPTH_CASES),
    'MSEDepthLoss': (dict(), _masked_depth, DEPTH_CASES),
    'UniDepthSILogLoss': (dict(), _unidepth, DEPTH_CASES),
    'UniDepthConfidenceLoss': (dict(), _unidepth, DEPTH_CASES),
    'UniDepthCameraLoss': (dict(), _unidepth_camera, ('valid', 'zero_depth')),
    'BlurLoss': (dict(beta=0.25), _blur, ('valid', 'zero_depth')),
    'EdgeAwareSmoothnessLoss': (dict(), _smoothness, ('valid', 'zero_depth')),
    'ReconstructionLoss': (dict(), _reconstruction, ('valid', 'zero_depth', 'all_invalid_mask')),
    'SiameseDefocusLoss': (dict(patch_size=4), _defocus_pair, ('valid', 'zero_depth')),
    'TripletDefocusLoss': (dict(patch_size=4), _defocus_pair, ('valid', 'zero_depth')),
}
REGISTERED = sorted(name for name in MODELS.module_dict if name.endswith('Loss'))
CASES = [(name, case) for name in REGISTERED if name in FACTORIES for case in FACTORIES[name][2]]


def test_every_registered_loss_has_a_factory():
    missing = [name for name in REGISTERED if name not in FACTORIES]
    assert not missing, f'add an input factory for {missing} to FACTORIES in {__file__}'
    assert len(REGISTERED) >= 11


def _run(name, case, dtype=None):
    """(loss, {pred name: grad}) of the loss ``name`` on ``case``, under autocast to ``dtype`` (None: float32)."""
    kwargs, factory, _ = FACTORIES[name]
    loss_fn = MODELS.build(dict(type=name, **kwargs))
    made = factory(case, _gen(sum(map(ord, name + case))))
    leaves = {k: v.clone().requires_grad_(True) for k, v in made.preds.items()}
    if dtype is None:
        out = loss_fn(*made.call(leaves))
    else:
        with torch.autocast('cpu', dtype=dtype):
            out = loss_fn(*made.call({k: v.to(dtype) for k, v in leaves.items()}))
    assert out.dim() == 0 and out.dtype == torch.float32, f'{name}: {out.dtype} {tuple(out.shape)}'
    out.backward()
    grads = {k: torch.zeros_like(v) if v.grad is None else v.grad for k, v in leaves.items()}
    return out.detach(), grads, made.zero


@pytest.mark.parametrize('dtype', list(DTYPES))
@pytest.mark.parametrize('name,case', CASES)
def test_loss_under_autocast_is_finite_and_close_to_float32(name, case, dtype):
    ref, ref_grads, zero = _run(name, case)
    out, grads, _ = _run(name, case, DTYPES[dtype])
    assert torch.isfinite(ref) and torch.isfinite(out), f'{name} {case}: float32 {ref}, {dtype} {out}'
    torch.testing.assert_close(out, ref, **TOL[dtype], msg=lambda m: f'{name} {case} {dtype}: {m}')
    for key, grad in grads.items():
        assert torch.isfinite(grad).all(), f'{name} {case} {dtype}: non-finite gradient of {key}'
        # loose: a gradient element is a single rounded term, compared relative to the largest one
        scale = float(ref_grads[key].abs().max()) or 1.0
        off = (grad - ref_grads[key]).abs() > 8 * TOL[dtype]['rtol'] * scale
        # a median (UniDepthConfidenceLoss) may pick a neighbouring pixel once the predictions are rounded: its
        # gradient then moves to that pixel; anything else must match everywhere
        allowed = 0.01 * off.numel() if name in MEDIAN_LOSSES else 0
        assert off.sum() <= allowed, (f'{name} {case} {dtype}: gradient of {key} differs from float32 at '
                                      f'{int(off.sum())} of {off.numel()} elements')
    if zero:
        assert out == 0 and ref == 0, f'{name} {case}: nothing to supervise, loss {ref} / {out} instead of 0'
        assert all(not g.any() for g in grads.values()), f'{name} {case}: nothing to supervise but a gradient'


@pytest.mark.parametrize('dtype', list(DTYPES))
def test_a_conv_head_under_autocast_trains_through_the_depth_losses(dtype):
    """End to end: a conv head run under autocast emits low-precision depth; every depth loss of it is float32,
    finite, and its gradient reaches the head's float32 weights finite and close to the float32 run's."""
    g = _gen(0)
    feats = torch.randn(B, 4, H, W, generator=g)
    _, target, mask = _depth_triplet('invalid_depth', g)
    for name in ('SiLogLoss', 'L1DepthLoss', 'MSEDepthLoss'):
        results = []
        for autocast_dtype in (None, DTYPES[dtype]):
            head = torch.nn.Conv2d(4, 1, 3, padding=1)
            torch.nn.init.normal_(head.weight, std=0.1, generator=_gen(1))
            torch.nn.init.constant_(head.bias, 1.0)
            with torch.autocast('cpu', dtype=autocast_dtype or torch.bfloat16, enabled=autocast_dtype is not None):
                depth = torch.nn.functional.softplus(head(feats)) + 0.1
                assert depth.dtype == (autocast_dtype or torch.float32)
                loss = MODELS.build(dict(type=name))(depth, target, mask)
            loss.backward()
            assert loss.dtype == torch.float32 and torch.isfinite(loss) and torch.isfinite(head.weight.grad).all()
            results.append((loss.detach(), head.weight.grad))
        (ref, ref_grad), (out, grad) = results
        torch.testing.assert_close(out, ref, rtol=4 * TOL[dtype]['rtol'], atol=TOL[dtype]['atol'])
        torch.testing.assert_close(grad, ref_grad, rtol=0, atol=8 * TOL[dtype]['rtol'] * float(ref_grad.abs().max()))
