"""Fuzzing of the public wrappers: a few hundred random cases, valid and broken. Valid ones must return finite
outputs of the right shape; broken ones (bad shapes, dtypes, NaN/inf, empty images, bad options) must raise
TypeError or ValueError, never anything else and never crash the process."""
import random

import numpy as np
import pytest
import torch

from mmbokeh.ops import psf_blur, rasterize_gaussians_dof, splat_bokeh

CASES = 120


def _image_case(rng: random.Random):
    """Random (image, map, valid) with the reasons an input is broken tracked by hand."""
    valid = True
    b, c, h, w = rng.choice([1, 2]), rng.choice([1, 3]), rng.choice([1, 4, 7]), rng.choice([1, 5, 8])
    if rng.random() < 0.15:  # empty
        b, c, h, w = [0 if rng.random() < 0.5 else v for v in (b, c, h, w)]
        valid = valid and min(b, c, h, w) > 0
    dtype = rng.choice([torch.float32, torch.float64] * 4 + [torch.float16, torch.int64])
    valid = valid and dtype in (torch.float32, torch.float64)
    image = (torch.rand(b, c, h, w) * 2).to(dtype)
    mshape = [b, 1, h, w]
    if rng.random() < 0.15:
        i = rng.randrange(4)
        mshape[i] += 1
        valid = False
    mdtype = dtype if rng.random() < 0.9 else (torch.float64 if dtype == torch.float32 else torch.float32)
    valid = valid and mdtype == dtype
    values = (torch.rand(mshape) * 2 - 1) * rng.choice([0.3, 2.5, 5.5])
    if rng.random() < 0.15 and values.numel():
        values.view(-1)[rng.randrange(values.numel())] = rng.choice([float('nan'), float('inf'), -float('inf')])
        valid = False
    amap = values.to(mdtype)
    if rng.random() < 0.05:
        amap, valid = amap.numpy(), False  # not a tensor
    if rng.random() < 0.05:
        image, valid = image.tolist(), False
    return image, amap, valid


def _check(call, valid, shape):
    if valid:
        out = call()
        assert tuple(out.shape) == tuple(shape)
        assert bool(torch.isfinite(out).all())
    else:
        with pytest.raises((TypeError, ValueError)):
            call()


@pytest.mark.parametrize('seed', range(CASES))
def test_fuzz_splat_bokeh(cpu_ext, seed):
    rng = random.Random(seed)
    image, defocus, valid = _image_case(rng)
    kernel = rng.choice(['soft_disc'] * 5 + ['gaussian'] * 4 + ['box'])
    occlusion = rng.choice([False, True, True, 1, 'layered', 'layered', 'front'])
    valid = valid and kernel != 'box' and (isinstance(occlusion, bool) or occlusion == 'layered')
    if rng.random() < 0.05 and isinstance(defocus, torch.Tensor) and defocus.numel():
        defocus = defocus * 0 + 5000.0  # beyond the supported radius
        valid = False
    impl = rng.choice(['cpu', 'cpu', 'reference'])
    shape = image.shape if isinstance(image, torch.Tensor) else None
    _check(lambda: splat_bokeh(image, defocus, kernel, occlusion, impl=impl), valid, shape)


@pytest.mark.parametrize('seed', range(CASES))
def test_fuzz_psf_blur(cpu_ext, seed):
    rng = random.Random(1000 + seed)
    image, sigma, valid = _image_case(rng)
    if isinstance(sigma, torch.Tensor):
        sigma = sigma * 3
    window = rng.choice([1, 3, 5, 7, 7, 9, 0, 4, -3, 7.0, True, 201])
    valid = valid and window in (1, 3, 5, 7, 9) and not isinstance(window, (bool, float))
    impl = rng.choice(['cpu', 'cpu', 'reference'])
    shape = image.shape if isinstance(image, torch.Tensor) else None
    _check(lambda: psf_blur(image, sigma, window, impl=impl), valid, shape)


@pytest.mark.parametrize('seed', range(60))
def test_fuzz_rasterize(cpu_ext, seed):
    rng = random.Random(2000 + seed)
    dtype = rng.choice([torch.float32, torch.float64])
    n = rng.choice([0, 1, 3, 6])
    valid = True
    params = dict(
        means3d=torch.randn(n, 3, dtype=dtype) * 0.5 + torch.tensor([0, 0, rng.choice([2.0, -1.0])], dtype=dtype),
        scales=torch.rand(n, 3, dtype=dtype) * 0.1 + 0.01,
        quats=torch.randn(n, 4, dtype=dtype),
        opacities=torch.rand(n, dtype=dtype),
        colors=torch.rand(n, rng.choice([1, 3]), dtype=dtype),
        viewmat=torch.eye(4, dtype=dtype),
        K=torch.tensor([[20.0, 0, 6], [0, 20.0, 5], [0, 0, 1]], dtype=dtype))
    name = rng.choice(list(params))
    broken = rng.random()
    if broken < 0.12:  # drop the last column (2-D) or every entry (1-D)
        before = params[name]
        params[name] = before[..., :-1] if before.dim() > 1 else before[:0]
        still_valid = (name == 'colors' and before.shape[1] > 1) or (before.dim() == 1 and n == 0)
        valid = valid and still_valid
    elif broken < 0.22 and params[name].numel():
        params[name] = params[name].clone()
        params[name].view(-1)[0] = float('nan')
        valid = False
    elif broken < 0.27:
        params[name] = params[name].to(torch.float16)
        valid = False
    elif broken < 0.30:
        params[name] = np.zeros(3)
        valid = False
    width, height = rng.choice([12, 12, 12, 0, -4, 2.5]), rng.choice([10, 10, 10, 0])
    valid = valid and width == 12 and height == 10 and not isinstance(width, float)
    focus = rng.choice([1.5, 1.5, 1.5, 0.0, -1.0, float('nan')])
    strength = rng.choice([5.0, 5.0, 5.0, -1.0, torch.tensor(4.0, dtype=dtype)])
    valid = valid and focus == 1.5 and not (isinstance(strength, float) and strength < 0)
    impl = rng.choice(['cpu', 'reference'])

    def call():
        color, depth, alpha = rasterize_gaussians_dof(width=width, height=height, focus_dist=focus,
                                                      coc_strength=strength, impl=impl, **params)
        assert depth.shape == alpha.shape == (height, width)
        assert bool(torch.isfinite(depth).all() and torch.isfinite(alpha).all())
        return color

    shape = (height, width, params['colors'].shape[1] if isinstance(params['colors'], torch.Tensor) else 0)
    _check(call, valid, shape)
