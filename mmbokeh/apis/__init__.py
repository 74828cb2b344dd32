from .inference import inference_model, init_model
from .stack_sensitivity import STACK_MODES, replace_stacks, stack_sensitivity
from .two_stage import (
    OFFICIAL_ADAPTER,
    STAGE1_SOURCES,
    BokehDepthPipeline,
    Stage1Result,
    build_pipeline,
    build_stage1_backend,
    default_camera,
    is_done,
    resize_photo,
    run_pipeline,
)

__all__ = [
    'BokehDepthPipeline', 'OFFICIAL_ADAPTER', 'STACK_MODES', 'STAGE1_SOURCES', 'Stage1Result', 'build_pipeline',
    'build_stage1_backend', 'default_camera', 'inference_model', 'init_model', 'is_done', 'replace_stacks',
    'resize_photo', 'run_pipeline', 'stack_sensitivity'
]
