"""Config validation (issue 18, "Bad input"): a wrong setting, built through the registry as a config would build it,
raises an error that names the offending field and the values it accepts: tap out of range, K / focus list length
against frames, unknown backend, focus outside the lens, crop outside the image. Settings that can only be judged
against a sample (a crop against the image size, K against the stack) raise at the first sample, naming it."""
import re

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

import mmbokeh  # noqa: F401
from mmbokeh.registry import DATASETS, METRICS, MODELS, TRANSFORMS


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmbokeh')


def _raises(build, error, *fragments):
    """``build()`` raises ``error`` whose message holds every fragment (plain text, not a regex)."""
    with pytest.raises(error) as info:
        build()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f'{fragment!r} not in {message!r}'
    return message


def _sample(h=4, w=4, **extra):
    return dict(img=np.zeros((h, w, 3), np.uint8), gt_depth=np.ones((h, w), np.float32), img_path='scene/a.png',
                **extra)


# ---------------------------------------------------------------- tap out of range
@pytest.mark.parametrize('taps, fragment', [([-1], '[-1]'), ([], '[]'), ([2, True], '[2, True]')])
def test_fuse_taps_outside_the_indices(taps, fragment):
    _raises(lambda: MODELS.build(dict(type='DefocusAggregation', in_channels=16, num_heads=2, fuse_taps=taps)),
            ValueError, 'DefocusAggregation fuse_taps', 'tap indices >= 0', '[2, 3] of the 4 DPT taps', fragment)


def test_fuse_taps_beyond_the_encoder():
    cfg = dict(type='BokehDepthEstimator',
               backbone=dict(type='TimmViT', model_name='vit_tiny_patch16_224', out_indices=[2, 5, 8, 11],
                             img_size=32),
               decode_head=dict(type='DPTHead', features=16, out_channels=[8, 16, 32, 32], max_depth=10.0),
               neck=dict(type='DefocusAggregation', in_channels=192, num_heads=3, fuse_taps=[2, 4]))
    _raises(lambda: MODELS.build(cfg), ValueError, 'fuse_taps [2, 4] out of range for an encoder with 4 taps',
            '(valid: 0 to 3)')


def test_backbone_out_indices_beyond_its_blocks():
    _raises(lambda: MODELS.build(dict(type='TimmViT', model_name='vit_tiny_patch16_224', out_indices=[2, 5, 8, 12],
                                      img_size=32)),
            ValueError, 'out_indices [2, 5, 8, 12] out of range', 'with 12 blocks')


# ---------------------------------------------------------------- K / focus list length against frames
def test_k_list_length_against_stack_frames():
    pack = TRANSFORMS.build(dict(type='PackDepthInputs'))
    _raises(lambda: pack(_sample(bokeh_stack=np.zeros((3, 4, 4, 3), np.uint8), bokeh_k=[1.0, 2.0])), ValueError,
            'bokeh_k has 2 values for 3 stack frames', 'scene/a.png')
    _raises(lambda: pack(_sample(focal_stack=np.zeros((3, 4, 4, 3), np.uint8), focus_dists=[1.0, 2.0, 3.0, 4.0],
                                 camera=dict(focal_length=0.05, f_number=2.0, pixel_size=1e-5))),
            ValueError, 'focus_dists has 4 values for 3 stack frames')


def test_focus_list_length_against_num_frames():
    _raises(lambda: DATASETS.build(dict(type='FoD500Dataset', data_root='/nonexistent', focus_dists=[0.1, 0.2, 0.3])),
            ValueError, 'FoD500Dataset focus_dists must have one focus distance per frame', 'num_frames=5',
            'got 3: [0.1, 0.2, 0.3]')


def test_focus_list_length_against_loaded_frames(tmp_path):
    paths = []
    for i in range(2):
        paths.append(str(tmp_path / f'f{i}.png'))
        cv2.imwrite(paths[-1], np.zeros((4, 4, 3), np.uint8))
    load = TRANSFORMS.build(dict(type='LoadFocalStack'))
    _raises(lambda: load(dict(focal_stack_paths=paths, focus_dists=np.array([0.5, 1.0, 2.0]), img_frame=0)),
            ValueError, 'focus_dists has 3 values for the 2 frames of focal_stack_paths',
            'one focus distance per frame')


@pytest.mark.parametrize('k_values', ['10,20', [10, -1], [], [10, float('nan')], [True]])
def test_k_list_values(k_values):
    _raises(lambda: TRANSFORMS.build(dict(type='BokehStackGenerator', k_values=k_values)), ValueError,
            'BokehStackGenerator k_values must be a list of numbers K >= 0', 'e.g. [10.0, 20.0, 30.0]')


# ---------------------------------------------------------------- unknown backend
@pytest.mark.parametrize('backend', ['phys', dict(type='phys')])
def test_unknown_bokeh_stack_backend(backend):
    _raises(lambda: TRANSFORMS.build(dict(type='BokehStackGenerator', backend=backend, k_values=[1.0])), KeyError,
            "unknown bokeh stack backend 'phys'", "registered: ['cached', 'diffusion', 'physical']")


def test_unknown_psf_blur_implementation():
    from mmbokeh.datasets.transforms.focal_stack import PSF_IMPLS
    from mmbokeh.ops._backend import IMPLS
    assert set(PSF_IMPLS) == set(IMPLS) | {None, 'auto'}  # the transform's list follows the ops'
    _raises(lambda: TRANSFORMS.build(dict(type='RenderFocalStack', impl='cdua')), ValueError,
            'RenderFocalStack impl must be one of', "'reference', 'cpu', 'cuda'", "got 'cdua'")


@pytest.mark.parametrize('kwargs, fragments', [
    (dict(imdecode_backend='cv3'),
     ("LoadImage imdecode_backend must be one of ['cv2', 'turbojpeg', 'pillow'", "'cv3'")),
    (dict(color_type='colour'), ("LoadImage color_type must be one of ['color',", "'grayscale'", "'colour'")),
    (dict(backend_args=dict(backend='s4')), ("LoadImage backend_args['backend'] must be one of", "'local'", "'s4'")),
])
def test_unknown_image_decoder_or_file_backend(kwargs, fragments):
    _raises(lambda: TRANSFORMS.build(dict(type='LoadImage', **kwargs)), ValueError, *fragments)
    if 'backend_args' in kwargs:
        _raises(lambda: TRANSFORMS.build(dict(type='LoadDepth', **kwargs)), ValueError,
                "LoadDepth backend_args['backend'] must be one of", "'atomic_local'", "'s4'")


def test_uninstalled_image_decoder_is_named(monkeypatch):
    monkeypatch.setattr('mmcv.image.io.TurboJPEG', None)
    _raises(lambda: TRANSFORMS.build(dict(type='LoadImage', imdecode_backend='turbojpeg')), ValueError,
            "imdecode_backend='turbojpeg' needs the PyTurboJPEG package", "imdecode_backend='cv2'")


def test_valid_decoders_and_backends_still_load(tmp_path):
    cv2.imwrite(str(tmp_path / 'a.png'), np.full((4, 5, 3), 7, np.uint8))
    for kwargs in (dict(), dict(imdecode_backend='pillow'), dict(color_type='grayscale'), dict(color_type=-1),
                   dict(backend_args=dict(backend='local'))):
        img = TRANSFORMS.build(dict(type='LoadImage', **kwargs))(dict(img_path=str(tmp_path / 'a.png')))['img']
        assert img.shape[:2] == (4, 5) and int(img.max()) == 7


# ---------------------------------------------------------------- focus outside the lens
@pytest.mark.parametrize('camera, focus, focal', [('nyuv2', [0.03, 1.0], '0.05 m'), ('nyuv2', [0.0, 1.0], '0.05 m'),
                                                  ('nyuv2', [float('nan')], '0.05 m'), ('nyuv2', [], '0.05 m'),
                                                  (dict(focal_length=0.1, f_number=2.0, pixel_size=1e-5),
                                                   [0.1, 2.0], '0.1 m')])
def test_focal_stack_focus_inside_the_focal_length(camera, focus, focal):
    _raises(lambda: TRANSFORMS.build(dict(type='RenderFocalStack', camera=camera, focus_dists=focus)), ValueError,
            'RenderFocalStack focus_dists must be', f'each > the focal_length {focal} of the camera',
            f'got {focus!r}')


def test_dataset_focus_inside_the_focal_length():
    _raises(lambda: DATASETS.build(dict(type='FoD500Dataset', data_root='/nonexistent',
                                        focus_dists=[0.002, 0.15, 0.3, 0.7, 1.5])),
            ValueError, 'FoD500Dataset focus_dists must be', 'each > the focal_length 0.0029 m of the camera')


def test_focus_just_beyond_the_focal_length_renders():
    render = TRANSFORMS.build(dict(type='RenderFocalStack', camera='nyuv2', focus_dists=[0.0501, 2.0],
                                   impl='reference'))
    out = render(_sample(h=8, w=8))
    assert out['focal_stack'].shape == (2, 8, 8, 3) and np.all(np.isfinite(out['focal_stack']))


@pytest.mark.parametrize('focus, fragments', [
    (0.0, ('BokehStackGenerator focus distance must be a positive number of metres', 'got 0.0')),
    (-1.0, ('BokehStackGenerator focus distance must be a positive number of metres', 'got -1.0')),
    (float('inf'), ('BokehStackGenerator focus distance must be a positive number of metres', 'got inf')),
    (dict(mode='random', range=(0.0, 2.0)), ('BokehStackGenerator focus range must be (near, far) metres',
                                             '0 < near < far', '(0.0, 2.0)')),
    ('closest', ('BokehStackGenerator focus mode must be one of', "'foreground', 'median', 'fixed', 'random'")),
])
def test_bokeh_focus_outside_the_scene(focus, fragments):
    _raises(lambda: TRANSFORMS.build(dict(type='BokehStackGenerator', k_values=[1.0], focus=focus)), ValueError,
            *fragments)


# ---------------------------------------------------------------- crop outside the image
def test_random_crop_larger_than_the_image():
    crop = TRANSFORMS.build(dict(type='RandomCrop', crop_size=(6, 3)))
    _raises(lambda: crop(_sample(h=4, w=8)), ValueError, 'RandomCrop crop_size (h, w) = (6, 3) is larger than the '
            'image (4, 8) of scene/a.png', 'choose a smaller crop')
    assert crop(_sample(h=6, w=3))['img'].shape == (6, 3, 3)  # exactly the image: fits


@pytest.mark.parametrize('size', [0, (-1, 4), (4, 2.5), (1, 2, 3)])
def test_random_crop_size_not_a_size(size):
    _raises(lambda: TRANSFORMS.build(dict(type='RandomCrop', crop_size=size)), ValueError,
            'RandomCrop crop_size must be a positive int or a pair of positive ints', f'got {size!r}')


def _metric_sample(h, w):
    return dict(pred_depth=dict(data=torch.ones(1, h, w)), gt_depth=dict(data=torch.ones(1, h, w)),
                img_path='scene/a.png')


def test_metric_crop_outside_the_ground_truth():
    metric = METRICS.build(dict(type='DepthMetric', crop=(0, 10, 2, 4)))
    _raises(lambda: metric.process({}, [_metric_sample(4, 6)]), ValueError,
            'crop (top, bottom, left, right)=(0, 10, 2, 4) does not fit a 4x6 ground truth (img_path=scene/a.png)',
            '0 <= top < bottom <= 4 and 0 <= left < right <= 6')
    eigen = METRICS.build(dict(type='DepthMetric', crop='nyu_eigen'))
    _raises(lambda: eigen.process({}, [_metric_sample(240, 320)]), ValueError,
            "crop='nyu_eigen' needs a 480x640 ground truth", 'got 240x320')


@pytest.mark.parametrize('crop', [(5, 1, 0, 4), (0, 4, -2, 3), (0, 0, 0, 4), (0, 4, 1), 'eigen'])
def test_metric_crop_not_a_box(crop):
    message = _raises(lambda: METRICS.build(dict(type='DepthMetric', crop=crop)), ValueError,
                      "crop must be None, 'nyu_eigen' or (top, bottom, left, right) ints",
                      '0 <= top < bottom and 0 <= left < right')
    assert re.search(re.escape(repr(crop)) + r'$', message)


def test_resize_that_cannot_fit_a_multiple():
    resize = TRANSFORMS.build(dict(type='ResizeToMultiple', scale=(10, 10), resize_method='upper_bound',
                                   size_divisor=14))
    _raises(lambda: resize(_sample(h=20, w=20)), ValueError, 'scale=(10, 10) with size_divisor=14',
            "resize_method='upper_bound'", 'use a scale of at least size_divisor')
