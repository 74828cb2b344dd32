"""High-level API: build a model from a config and run it on images."""
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from mmbokeh.registry import MODELS
from mmbokeh.structures import DepthDataSample

ImageType = Union[str, Path, np.ndarray]
# Transforms that need ground truth or dataset files (a focal stack rendered from depth, frames listed by a dataset):
# dropped when predicting from a photo; SDNet then uses its test_cfg focus distance and camera.
_DEPTH_ONLY_TRANSFORMS = tuple(f'{scope}{name}' for scope in ('', 'mmbokeh.')
                               for name in ('LoadDepth', 'RenderFocalStack', 'LoadFocalStack'))


def init_model(config: Union[str, Path, Config], checkpoint: Optional[Union[str, Path]] = None, device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """Build the model of ``config`` (path or Config), load ``checkpoint`` if given, move to ``device``, eval mode.

    The config is kept as ``model.cfg`` (for :func:`inference_model`).
    """
    cfg = Config.fromfile(str(config)) if isinstance(config, (str, Path)) else config
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmbokeh'))
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_checkpoint(model, str(checkpoint), map_location='cpu', strict=True)
    model.cfg = cfg
    return model.to(device).eval()


def _inference_pipeline(cfg: Config, from_array: bool) -> Compose:
    """The test pipeline without ground-truth loading; images come from arrays or files (LoadImage added if the
    dataset rendered its images itself, as the synthetic one does)."""
    pipeline = cfg.get('infer_pipeline') or cfg.test_dataloader.dataset.pipeline
    steps = [t for t in pipeline if t['type'] not in _DEPTH_ONLY_TRANSFORMS]
    loads = [t for t in steps if str(t['type']).endswith('LoadImage')]
    steps = [t for t in steps if t not in loads]
    if not from_array:
        steps = (loads[:1] or [dict(type='mmbokeh.LoadImage')]) + steps
    return Compose(steps)


@torch.no_grad()
def inference_model(model: torch.nn.Module, images: Union[ImageType, Sequence[ImageType]]) -> List[DepthDataSample]:
    """Predict depth for one image or a list (paths or BGR uint8 arrays [H, W, 3]).

    Returns one DepthDataSample per image with ``pred_depth.data`` [1, H, W] (metres) at the image's original size.
    """
    single = not isinstance(images, (list, tuple))
    images = [images] if single else list(images)
    init_default_scope(model.cfg.get('default_scope', 'mmbokeh'))
    from_array, from_file = _inference_pipeline(model.cfg, True), _inference_pipeline(model.cfg, False)
    batch = []
    for img in images:
        if isinstance(img, np.ndarray):
            results = dict(img=img, img_path=None, img_shape=img.shape[:2], ori_shape=img.shape[:2])
            batch.append(from_array(results))
        else:
            batch.append(from_file(dict(img_path=str(img))))
    return model.test_step(pseudo_collate(batch))
