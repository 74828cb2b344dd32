"""mmbokeh's registries: children of mmengine's roots, scope ``mmbokeh``.

Modules register here; ``dict(type='mmbokeh.Name')`` finds them from any scope, and ``locations`` lets a registry
import its package lazily when a config is built under ``default_scope='mmbokeh'``.
"""
from typing import Any, Optional

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS)
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, locations=['mmbokeh.engine'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, locations=['mmbokeh.engine'])

DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, locations=['mmbokeh.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS, locations=['mmbokeh.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, locations=['mmbokeh.datasets.transforms'])

MODELS = Registry('model', parent=MMENGINE_MODELS, locations=['mmbokeh.models'])
MODEL_WRAPPERS = Registry('model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, locations=['mmbokeh.models'])
WEIGHT_INITIALIZERS = Registry('weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS,
                               locations=['mmbokeh.models'])
TASK_UTILS = Registry('task util', parent=MMENGINE_TASK_UTILS, locations=['mmbokeh.models'])

OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS, locations=['mmbokeh.engine'])
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, locations=['mmbokeh.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor', parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                      locations=['mmbokeh.engine'])
PARAM_SCHEDULERS = Registry('parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS, locations=['mmbokeh.engine'])

METRICS = Registry('metric', parent=MMENGINE_METRICS, locations=['mmbokeh.evaluation'])
EVALUATOR = Registry('evaluator', parent=MMENGINE_EVALUATOR, locations=['mmbokeh.evaluation'])

VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS, locations=['mmbokeh.visualization'])
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS, locations=['mmbokeh.visualization'])
LOG_PROCESSORS = Registry('log_processor', parent=MMENGINE_LOG_PROCESSORS, locations=['mmbokeh.engine'])


def _build_bokeh_backend(cfg: dict, registry: Registry, default_args: Optional[dict] = None) -> Any:
    """``build_func`` of :data:`BOKEH_BACKENDS`: mmengine's ``build_from_cfg`` without its default-scope switch.

    The switch would pick the first registry of scope ``mmbokeh`` in the tree (``TASK_UTILS``, not this child), or
    mmengine's root under another default scope; backends are looked up here only, whatever the default scope.
    """
    args = dict(default_args or {})
    args.update(cfg)
    obj_type = args.pop('type', None)
    if isinstance(obj_type, type):
        return obj_type(**args)
    scope, name = Registry.split_scope_key(obj_type) if isinstance(obj_type, str) else (None, None)
    registry.import_from_location()
    if name not in registry.module_dict or scope not in (None, registry.scope):
        raise KeyError(f'unknown bokeh stack backend {obj_type!r}; registered: {sorted(registry.module_dict)} '
                       f"(also as '{registry.scope}.<name>')")
    return registry.module_dict[name](**args)


#: Stage-1 stack backends (``physical``, ``cached``, ``diffusion``): ``dict(type='physical')`` or
#: ``dict(type='mmbokeh.physical')`` from any default scope; ``mmbokeh.generators.build_backend`` builds them.
BOKEH_BACKENDS = Registry('bokeh stack backend', parent=TASK_UTILS, scope='mmbokeh', locations=['mmbokeh.generators'],
                          build_func=_build_bokeh_backend)
