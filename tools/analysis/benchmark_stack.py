"""Time a physical bokeh stack (data loading) next to one training step of the Depth Anything V2 ViT-S model.

``python tools/analysis/benchmark_stack.py [--height 480 --width 640 --levels 5] [--reps 5] [--skip-train]``

The stack is made by ``BokehStackGenerator`` (physical backend) on one CPU core (``torch.set_num_threads(1)``, as in
one data-loader worker) for a procedural 640x480 room with its exact depth, K evenly spaced in [1, 30], focus on the
foreground, in every mode in one run, interleaved (one call of each per round, medians over ``--reps`` rounds after
a warm-up round), so that the ratios hold under load:

- ``full, occlusion=exact``: the per-pixel occlusion gate, r^2 per source (the default before issue 19);
- ``full, occlusion=layered``: the default, the gate with the source defocus quantised to 0.25 px layers, linear in r;
- ``full, occlusion=none``: the plain soft disc (BokehMe), linear in r;
- ``pyramid``: the low-resolution approximation (layered occlusion at 1/f resolution).

Then one frame of the same scene at K scaled to a largest CoC radius of 8, 16 and 32 px (growth of the cost with r;
``--skip-scaling`` skips it). The training step is one AdamW step of ``configs/_base_/models/dav2_vits.py`` on a
random batch (2 x 518 x 518 by default) with all the threads torch uses by default. Targets (issue 19): layered at
most 1/10 of exact and at most 2x none; r = 32 at most 5x r = 8; at most 150 ms per sample for loading. The figures
(bars per mode with the target, cost against r) are saved to ``--plot`` (default
``work_dirs/benchmarks/benchmark_stack.png``).
"""
import argparse
import os
import os.path as osp
import statistics
import time
from typing import Callable, Dict, List, Tuple

import numpy as np
import torch

from mmbokeh.visualization.benchmark_plot import DEFAULT_PLOT_DIR, BenchmarkPanel, plot_benchmark

MODES = {
    'full, occlusion=exact': dict(resolution='full', occlusion='exact'),
    'full, occlusion=layered': dict(resolution='full', occlusion='layered'),
    'full, occlusion=none': dict(resolution='full', occlusion='none'),
    'pyramid': dict(resolution='pyramid'),
}
SCALING_MODES = ('exact', 'layered', 'none')
RADII = (8.0, 16.0, 32.0)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--levels', type=int, default=5, help='stack frames, K evenly spaced in [1, 30]')
    parser.add_argument('--reps', type=int, default=5, help='timed rounds of every mode (after a warm-up round)')
    parser.add_argument('--train-reps', type=int, default=2, help='timed training steps (after a warm-up step)')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--train-size', type=int, default=518)
    parser.add_argument('--model-config', default='configs/_base_/models/dav2_vits.py')
    parser.add_argument('--target-ms', type=float, default=150.0)
    parser.add_argument('--skip-scaling', action='store_true', help='do not time one frame at r = 8, 16, 32 px')
    parser.add_argument('--skip-train', action='store_true', help='only time the stacks')
    parser.add_argument('--plot', default=osp.join(DEFAULT_PLOT_DIR, 'benchmark_stack.png'),
                        help='PNG of the figures (bars per mode, cost against r)')
    return parser.parse_args()


def interleaved_times(fns: Dict[str, Callable[[], object]], reps: int) -> Dict[str, Tuple[float, float]]:
    """Median wall time and median CPU time of this process (seconds) of each function, called once per round in
    turn for ``reps`` rounds after a warm-up round.

    On one thread the CPU time is what an idle core would take; on a loaded machine the wall time is longer.
    """
    for fn in fns.values():
        fn()
    wall: Dict[str, List[float]] = {name: [] for name in fns}
    cpu: Dict[str, List[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in fns}


def median_time(fn: Callable[[], object], reps: int) -> Tuple[float, float]:
    """:func:`interleaved_times` of one function."""
    return interleaved_times({'fn': fn}, reps)['fn']


def time_stacks(args: argparse.Namespace) -> dict:
    """Seconds per sample of a physical stack in each mode, and of one frame at each radius, on one thread."""
    from mmbokeh.datasets import SyntheticDefocusDataset
    from mmbokeh.datasets.transforms.bokeh_stack import BokehStackGenerator
    from mmbokeh.generators import PhysicalBackend, StackRequest
    from mmbokeh.ops import backend_info

    scene = SyntheticDefocusDataset(num_samples=1, img_size=(args.height, args.width), seed=0).get_data_info(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = {}
    try:
        fns = {}
        for name, backend in MODES.items():
            gen = BokehStackGenerator(backend=dict(type='physical', **backend), k_range=(1.0, 30.0),
                                      num_k=args.levels, focus='foreground', seed=0)
            fns[name] = lambda gen=gen: gen(dict(scene, img=scene['img'].copy()))
        out['stack'] = interleaved_times(fns, args.reps)
        if not args.skip_scaling:
            focus = float(gen(dict(scene, img=scene['img'].copy()))['focus_dist'])
            depth = scene['gt_depth'].astype(np.float64)
            spread = float(np.abs(1.0 / depth - 1.0 / focus).max())
            fns = {}
            for r in RADII:
                request = StackRequest(img=scene['img'], rng=np.random.default_rng(0),
                                       k_values=np.array([r / spread], np.float32), depth=scene['gt_depth'],
                                       depth_key='gt_depth', focus_dist=focus)
                for mode in SCALING_MODES:
                    backend = PhysicalBackend(occlusion=mode)
                    fns[(mode, r)] = lambda b=backend, q=request: b.render(q)
            out['scaling'] = interleaved_times(fns, args.reps)
    finally:
        torch.set_num_threads(threads)
    out['ops'] = backend_info()
    return out


def time_train_step(args: argparse.Namespace) -> float:
    """Seconds of one AdamW training step of the model config on a random batch."""
    from mmengine.config import Config
    from mmengine.optim import OptimWrapper
    from mmengine.registry import init_default_scope
    from mmengine.structures import PixelData

    import mmbokeh.models  # noqa: F401
    from mmbokeh.registry import MODELS
    from mmbokeh.structures import DepthDataSample

    init_default_scope('mmbokeh')
    model = MODELS.build(Config.fromfile(args.model_config).model).train()
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=5e-6, weight_decay=0.01))
    gen = torch.Generator().manual_seed(0)
    s = args.train_size

    def batch() -> dict:
        samples = []
        for _ in range(args.batch):
            sample = DepthDataSample(metainfo=dict(img_shape=(s, s), ori_shape=(s, s)))
            sample.gt_depth = PixelData(data=torch.rand(1, s, s, generator=gen) * 9 + 0.5)
            samples.append(sample)
        return dict(inputs=[torch.randint(0, 256, (3, s, s), generator=gen, dtype=torch.uint8)
                            for _ in range(args.batch)], data_samples=samples)

    return median_time(lambda: model.train_step(batch(), optim), args.train_reps)[0]


def main() -> None:
    args = parse_args()
    stacks = time_stacks(args)
    print(f'load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores')
    print(f'physical stack, {args.levels} levels (K = 1..30) at {args.width}x{args.height}, one core, medians of '
          f'{args.reps} interleaved rounds (ops: {stacks["ops"]}):')
    cpu = {name: t[1] for name, t in stacks['stack'].items()}
    for name, (wall, c) in stacks['stack'].items():
        verdict = 'meets' if c * 1e3 <= args.target_ms else 'misses'
        print(f'  {name:24s} {wall * 1e3:9.1f} ms wall, {c * 1e3:9.1f} ms CPU per sample '
              f'({verdict} the {args.target_ms:.0f} ms loading target)')
    exact, layered, none = (cpu[f'full, occlusion={m}'] for m in ('exact', 'layered', 'none'))
    print(f'  layered / exact = {layered / exact:.3f} (target <= 0.1); layered / none = {layered / none:.2f} '
          f'(target <= 2); exact / layered = {exact / layered:.1f}x faster')
    if 'scaling' in stacks:
        print('one frame of the same scene, K scaled to the largest CoC radius r (CPU ms, one core):')
        times = {key: t[1] * 1e3 for key, t in stacks['scaling'].items()}
        for mode in SCALING_MODES:
            row = '  '.join(f'r={r:g}: {times[(mode, r)]:8.1f}' for r in RADII)
            growth = times[(mode, RADII[-1])] / times[(mode, RADII[0])]
            print(f'  occlusion={mode:8s} {row}   r={RADII[-1]:g} / r={RADII[0]:g} = {growth:.2f}x'
                  + (' (target <= 5)' if mode == 'layered' else ''))
    panels = [BenchmarkPanel(f'{args.levels}-level stack {args.width}x{args.height}, one core', 'CPU ms per stack',
                             values={name: c * 1e3 for name, c in cpu.items()}, target=args.target_ms,
                             target_label=f'{args.target_ms:.0f} ms loading target')]
    if 'scaling' in stacks:
        panels.append(BenchmarkPanel('one frame, cost against the blur', 'CPU ms', log_y=True,
                                     xlabel='largest CoC radius r (px)',
                                     series={f'occlusion={mode}': (list(RADII), [times[(mode, r)] for r in RADII])
                                             for mode in SCALING_MODES}))
    if not args.skip_train:
        step = time_train_step(args)
        print(f'training step, {args.model_config}, batch {args.batch} at {args.train_size}x{args.train_size}, '
              f'{torch.get_num_threads()} threads: {step:.2f} s')
        needs = {name: args.batch * wall / step for name, (wall, _) in stacks['stack'].items()}
        for name, need in needs.items():
            print(f'  {name:24s} stack time / step time per batch = {need:.3f} '
                  f'(loader workers needed to keep up: {max(1, int(np.ceil(need)))})')
        panels.append(BenchmarkPanel(f'stack time / training-step time, batch {args.batch}',
                                     'loader workers needed', values=needs, target=1.0, target_label='one worker'))
    plot_benchmark(panels, out=args.plot, title=f'benchmark_stack (load average {os.getloadavg()[0]:.1f})')
    print(f'figure: {args.plot}')


if __name__ == '__main__':
    main()
