import numpy as np
import pytest
import torch

from mmbokeh.visualization import make_stack_grid


def frames(s, h=48, w=64):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (s, h, w, 3), dtype=np.uint8)


def test_layout_labels_and_untouched_input():
    stack = frames(5)
    before = stack.copy()
    grid = make_stack_grid(stack, [1, 6, 11, 16, 21])
    assert grid.shape == (2 * 48, 3 * 64, 3) and grid.dtype == np.uint8
    np.testing.assert_array_equal(stack, before)
    label = np.zeros((48, 64), bool)
    label[:16, :] = True  # the K label lives in the top band of each frame
    for i in range(5):
        r, c = divmod(i, 3)
        cell = grid[r * 48:(r + 1) * 48, c * 64:(c + 1) * 64]
        np.testing.assert_array_equal(cell[~label], stack[i][~label])
        assert (cell[label] != stack[i][label]).any()
    assert (grid[48:, 2 * 64:] == 0).all()  # the unused sixth cell is black


def test_label_depends_on_k():
    stack = np.full((2, 40, 80, 3), 100, np.uint8)
    grid = make_stack_grid(stack, [1, 30], ncols=2)
    assert not np.array_equal(grid[:, :80], grid[:, 80:])
    same = make_stack_grid(stack, [7, 7], ncols=2)
    np.testing.assert_array_equal(same[:, :80], same[:, 80:])


def test_tensor_float_input_and_ncols():
    stack = torch.full((3, 20, 30, 3), 300.0)
    grid = make_stack_grid(stack, torch.tensor([1.0, 2.0, 3.0]), ncols=1)
    assert grid.shape == (60, 30, 3)
    assert grid[-1, -1].tolist() == [255, 255, 255]


def test_bad_inputs():
    with pytest.raises(ValueError, match=r'\[S, H, W, 3\]'):
        make_stack_grid(np.zeros((2, 3, 8, 8), np.uint8), [1, 2])
    with pytest.raises(ValueError, match='3 values for 2'):
        make_stack_grid(frames(2), [1, 2, 3])
