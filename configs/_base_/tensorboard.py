# default_runtime.py with TensorBoard logging: list this file in `_base_` instead of default_runtime.py (needs
# `pip install -e ".[tensorboard]"`). Scalars (loss, lr, validation metrics) go to both backends: the JSON log of
# LocalVisBackend (<work_dir>/<timestamp>/vis_data/<timestamp>.json, read by tools/analysis/analyze_logs.py) and
# TensorBoard's events.out.tfevents.* next to it; drawn depth samples go to vis_data/vis_image/ and to TensorBoard.
# On top of a finished config, set the visualizer's backends instead (docs/logging.md):
#     visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
_base_ = ['./default_runtime.py']

vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(vis_backends=vis_backends)
