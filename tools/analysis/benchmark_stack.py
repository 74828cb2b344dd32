"""Time a physical bokeh stack (data loading) next to one training step of the Depth Anything V2 ViT-S model.

``python tools/analysis/benchmark_stack.py [--height 480 --width 640 --levels 5] [--reps 5] [--skip-train]``

The stack is made by ``BokehStackGenerator`` (physical backend, 'full' and 'pyramid' resolutions) on one CPU core
(``torch.set_num_threads(1)``, as in one data-loader worker) for a procedural 640x480 room with its exact depth;
the training step is one AdamW step of ``configs/_base_/models/dav2_vits.py`` on a random batch (2 x 518 x 518 by
default) with all the threads torch uses by default. Target: at most 150 ms per sample, so loading never starves
training. Prints medians over ``--reps`` runs after one warm-up run.
"""
import argparse
import os
import statistics
import time
from typing import Callable, List, Tuple

import numpy as np
import torch


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--levels', type=int, default=5, help='stack frames, K evenly spaced in [1, 30]')
    parser.add_argument('--reps', type=int, default=5, help='timed repetitions of the stack (after a warm-up)')
    parser.add_argument('--train-reps', type=int, default=2, help='timed training steps (after a warm-up step)')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--train-size', type=int, default=518)
    parser.add_argument('--model-config', default='configs/_base_/models/dav2_vits.py')
    parser.add_argument('--target-ms', type=float, default=150.0)
    parser.add_argument('--skip-train', action='store_true', help='only time the stack')
    return parser.parse_args()


def median_time(fn: Callable[[], object], reps: int) -> Tuple[float, float]:
    """Median wall time and median CPU time of this process (seconds) of ``reps`` calls after a warm-up call.

    On one thread the CPU time is what an idle core would take; on a loaded machine the wall time is longer.
    """
    fn()
    wall: List[float] = []
    cpu: List[float] = []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def time_stacks(args: argparse.Namespace) -> dict:
    """Seconds per sample of a physical stack for each resolution mode, on one thread."""
    from mmbokeh.datasets import SyntheticDefocusDataset
    from mmbokeh.datasets.transforms.bokeh_stack import BokehStackGenerator
    from mmbokeh.ops import backend_info

    scene = SyntheticDefocusDataset(num_samples=1, img_size=(args.height, args.width), seed=0).get_data_info(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = {}
    try:
        for mode in ('full', 'pyramid'):
            gen = BokehStackGenerator(backend=dict(type='physical', resolution=mode), k_range=(1.0, 30.0),
                                      num_k=args.levels, focus='foreground', seed=0)
            out[mode] = median_time(lambda: gen(dict(scene, img=scene['img'].copy())), args.reps)
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
    print(f'physical stack, {args.levels} levels at {args.width}x{args.height}, one core (ops: {stacks["ops"]}):')
    for mode in ('full', 'pyramid'):
        wall, cpu = (t * 1e3 for t in stacks[mode])
        verdict = 'meets' if cpu <= args.target_ms else 'misses'
        print(f'  resolution={mode:8s} {wall:9.1f} ms wall, {cpu:9.1f} ms CPU per sample '
              f'({verdict} the {args.target_ms:.0f} ms target on an idle core)')
    if args.skip_train:
        return
    step = time_train_step(args)
    print(f'training step, {args.model_config}, batch {args.batch} at {args.train_size}x{args.train_size}, '
          f'{torch.get_num_threads()} threads: {step:.2f} s')
    for mode in ('full', 'pyramid'):
        need = args.batch * stacks[mode][0] / step
        print(f'  resolution={mode:8s} stack time / step time per batch = {need:.3f} '
              f'(loader workers needed to keep up: {max(1, int(np.ceil(need)))})')


if __name__ == '__main__':
    main()
