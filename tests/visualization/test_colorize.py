import matplotlib
import numpy as np
import pytest
import torch

from mmbokeh.visualization import colorize_depth, colorize_values


def mpl_rgb(name, x):
    """Reference colour: matplotlib's colormap at x, quantised to one of 256 entries."""
    rgba = np.asarray(matplotlib.colormaps[name](np.round(np.asarray(x) * 255) / 255))
    return np.round(rgba[..., :3] * 255).astype(np.uint8)


@pytest.mark.parametrize('cmap, mpl_name',
                         [('turbo', 'turbo'), ('spectral_r', 'Spectral_r'), ('Spectral_r', 'Spectral_r')])
def test_colours_follow_matplotlib_and_invalid_is_black(cmap, mpl_name):
    depth = np.array([[1.0, 2.0, 3.0], [0.0, np.nan, -1.0]])
    out = colorize_depth(depth, cmap=cmap)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out[0], mpl_rgb(mpl_name, [0.0, 0.5, 1.0]))
    assert (out[1] == 0).all()


def test_vmin_vmax_clip_and_bgr():
    depth = np.array([[0.5, 1.0, 2.0, 5.0]])
    out = colorize_depth(depth, vmin=1.0, vmax=3.0)
    np.testing.assert_array_equal(out[0], mpl_rgb('turbo', [0.0, 0.0, 0.5, 1.0]))
    np.testing.assert_array_equal(colorize_depth(depth, vmin=1.0, vmax=3.0, channel_order='bgr'), out[..., ::-1])


def test_tensor_input_and_constant_map():
    depth = torch.tensor([[[2.0, 2.0], [2.0, 0.0]]])  # [1, H, W]
    out = colorize_depth(depth)
    np.testing.assert_array_equal(out, colorize_depth(depth[0].numpy()))
    np.testing.assert_array_equal(out[0, 0], mpl_rgb('turbo', 0.0))  # vmax == vmin: first colour
    assert (out[1, 1] == 0).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match='cmap must be one of'):
        colorize_depth(np.ones((2, 2)), cmap='jet')
    with pytest.raises(ValueError, match=r'\[H, W\]'):
        colorize_depth(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match='channel_order'):
        colorize_depth(np.ones((2, 2)), channel_order='hsv')


def test_colorize_values_zero_is_a_value_and_mask():
    values = np.array([[0.0, 0.25, 0.5, 1.0], [np.nan, 0.1, -1.0, 0.3]])
    valid = np.array([[True] * 4, [True, False, True, True]])
    out = colorize_values(values, 0.0, 0.5, 'viridis', valid=valid)
    np.testing.assert_array_equal(out[0], mpl_rgb('viridis', [0.0, 0.5, 1.0, 1.0]))  # 0 coloured, 1.0 clipped
    assert (out[1, :2] == 0).all()  # not finite, masked out
    np.testing.assert_array_equal(out[1, 2:], mpl_rgb('viridis', [0.0, 0.6]))
    np.testing.assert_array_equal(colorize_values(torch.tensor(values)[None], 0.0, 0.5, 'plasma'),
                                  colorize_values(values, 0.0, 0.5, 'plasma'))
    np.testing.assert_array_equal(colorize_values(values, 0.0, 0.5, channel_order='bgr'),
                                  colorize_values(values, 0.0, 0.5)[..., ::-1])
    with pytest.raises(ValueError, match='does not match'):
        colorize_values(values, 0.0, 1.0, valid=np.ones((3, 3), bool))
    with pytest.raises(ValueError, match='cmap must be one of'):
        colorize_values(values, 0.0, 1.0, cmap='jet')
