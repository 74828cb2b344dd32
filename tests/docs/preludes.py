"""Names that API sketches in the docs take as given, for ``<!-- docs-test: prelude NAME -->`` (docs_runner.py).

Each function runs in the page's working copy (``cwd``) before the block and returns the names the block uses.
"""
from pathlib import Path


def dav2_tensors(cwd: Path) -> dict:
    """README, "Research use": a randomly initialised stand-in for ``checkpoints/dav2-s_metric_hypersim.pth`` (the
    converted official weights are not downloaded in tests) and normalised ``image`` [1, 3, 70, 98], ``stack``
    [1, 3, 3, 70, 98] and ``k`` [1, 3]."""
    import torch

    from mmbokeh.apis import init_model
    ckpt = cwd / 'checkpoints/dav2-s_metric_hypersim.pth'
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    torch.save({'state_dict': init_model('configs/depth_anything_v2/dav2-s_nyu.py').state_dict()}, ckpt)
    gen = torch.Generator().manual_seed(0)
    return dict(image=torch.randn(1, 3, 70, 98, generator=gen), stack=torch.randn(1, 3, 3, 70, 98, generator=gen),
                k=torch.tensor([[10.0, 20.0, 30.0]]))


def bokehdepth_inputs(cwd: Path) -> dict:
    """docs/bokehdepth.md, "Model inputs": the fused ViT-S demo model (random init) and one preprocessed batch of
    two synthetic scenes with their bokeh stacks: ``model``, ``img``, ``image``, ``stack``, ``k``,
    ``data_samples``."""
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope

    from mmbokeh.apis import init_model
    from mmbokeh.registry import DATASETS
    config = 'configs/bokehdepth/dav2-s_synthetic.py'
    model = init_model(config)
    cfg = Config.fromfile(config)
    with DefaultScope.overwrite_default_scope('mmbokeh'):
        dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, num_samples=2, img_size=(70, 70)))
    data = model.data_preprocessor(pseudo_collate([dataset[0], dataset[1]]), training=True)
    inputs = data['inputs']
    return dict(model=model, img=inputs['img'], image=inputs['img'], stack=inputs['stack'], k=inputs['stack_k'],
                data_samples=data['data_samples'])


def tiny_nyu(cwd: Path, stacks: bool = True) -> dict:
    """A miniature NYU Depth v2 tree in the mmseg layout (``data/nyu``: 2 train and 1 test image of 48x64, uint16
    millimetre depth) with 3-frame cached bokeh stacks (K = 10, 20, 30) in the official layout under both
    ``data/nyu_bokeh`` (the NYU BokehDepth configs' default) and ``data/stacks/nyu_pred``."""
    import cv2
    import numpy as np

    from mmbokeh.generators.stack_cache import write_stack
    rng = np.random.default_rng(0)
    root = cwd / 'data/nyu'
    for split, n in [('train', 2), ('test', 1)]:
        (root / 'images' / split).mkdir(parents=True, exist_ok=True)
        (root / 'annotations' / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
            cv2.imwrite(str(root / 'images' / split / f'{i:04d}.jpg'), img)
            cv2.imwrite(str(root / 'annotations' / split / f'{i:04d}.png'),
                        rng.integers(500, 9000, (48, 64), dtype=np.uint16))
            frames = np.stack([cv2.GaussianBlur(img, (0, 0), s) for s in (1, 2, 3)])
            for folder in ('data/nyu_bokeh', 'data/stacks/nyu_pred') if stacks else ():
                write_stack(cwd / folder, f'images/{split}/{i:04d}', frames, [10.0, 20.0, 30.0],
                            meta=dict(bokeh_source='test:gaussian'))
    return {}


def tiny_nyu_without_stacks(cwd: Path) -> dict:
    """:func:`tiny_nyu` without any bokeh stacks."""
    return tiny_nyu(cwd, stacks=False)


def official_dav2_with_args(cwd: Path) -> dict:
    """``official_training_checkpoint.pth``: random Depth Anything V2 ViT-S weights in the official key layout,
    saved as a training checkpoint that also pickles its ``argparse.Namespace`` (as training scripts often do), which
    ``torch.load(weights_only=True)`` refuses."""
    import argparse

    import torch

    from mmbokeh.apis import init_model
    torch.manual_seed(0)
    state = {k.replace('backbone.vit.', 'pretrained.').replace('decode_head.', 'depth_head.'): v
             for k, v in init_model('configs/depth_anything_v2/dav2-s_nyu.py').state_dict().items()}
    state['pretrained.mask_token'] = torch.zeros(1, 384)
    torch.save({'model': state, 'epoch': 3, 'args': argparse.Namespace(encoder='vits', max_depth=20.0)},
               cwd / 'official_training_checkpoint.pth')
    return {}
