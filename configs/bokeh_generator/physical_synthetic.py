# Physical bokeh stacks of the embedded synthetic rooms, from their exact ground-truth depth, in the official
# BokehDepth layout (K sequence of the official offline tool). Ground-truth stacks are legitimate only for depth from
# defocus and Stage-1 training pairs (docs/design.md, "Honesty rule").
#   python tools/make_bokeh_stacks.py configs/bokeh_generator/physical_synthetic.py --out data/stacks/synthetic
#   torchrun --nproc_per_node 2 tools/make_bokeh_stacks.py configs/bokeh_generator/physical_synthetic.py --out ...
default_scope = 'mmbokeh'
dataset = dict(type='SyntheticDefocusDataset', num_samples=64, img_size=(154, 154), split='train', seed=0,
               pipeline=[])
generator = dict(
    type='BokehStackGenerator',
    depth_key='gt_depth',
    backend=dict(type='physical', kernel='soft_disc', occlusion='layered', resolution='full'),  # docs/performance.md
    k_values=[1.0, 6.0, 11.0, 16.0, 21.0, 26.0, 30.0],
    focus='foreground',
    seed=0)
