"""Names of results-dict keys shared by mmbokeh's transforms."""

#: Keys describing the pinhole camera of ``img``: ``focal_length_px`` (float, horizontal focal length fx in
#: pixels) and ``cam_intrinsics`` ((3, 3) float32 K, pixel centres at integer coordinates). Geometric transforms
#: keep them consistent with ``img``; ``PackDepthInputs`` packs them as metainfo when present.
CAMERA_KEYS = ('focal_length_px', 'cam_intrinsics')

#: Meta keys ``PackDepthInputs`` packs by default (those absent from the results are skipped).
DEFAULT_META_KEYS = ('img_path', 'depth_path', 'ori_shape', 'img_shape', 'flip', 'focus_dist', 'sample_idx',
                     'bokeh_source', 'bokeh_focus')

#: Stacks in the results dict, as (frames key, per-frame values key): a bokeh stack with its strengths K, or a focal
#: stack with its focus distances (metres). Frames are (S, H, W, 3) aligned with ``img``.
STACK_RESULT_KEYS = (('bokeh_stack', 'bokeh_k'), ('focal_stack', 'focus_dists'))
#: The model-input key of each per-frame values key (see ``mmbokeh.structures.depth_inputs``).
STACK_VALUE_INPUTS = {'bokeh_k': 'stack_k', 'focus_dists': 'stack_focus'}
