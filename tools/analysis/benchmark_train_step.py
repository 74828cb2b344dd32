"""Time and peak memory of training steps of a config's model on random data (CPU or GPU), for several activation-
checkpointing policies and, optionally, the official BokehDepth model on the same inputs, in one run.

    python tools/analysis/benchmark_train_step.py configs/bokehdepth/dav2-s_nyu.py --batch 2 --frames 3 --size 518 \\
        --policies config none all every2 every3 stack stack-every2 --official /path/to/BokehDepth --rounds 2

Each (policy, round) runs in a fresh Python process, so its peak memory is its own: the peak resident set (CPU) or
``torch.cuda.max_memory_allocated`` (GPU). Every process builds the model, takes one warm-up step and then ``--steps``
timed steps (forward, SiLog loss, backward, gradient clipping to norm 1, AdamW) on the same random batch: the image
[B, 3, N, N], the stack [B, S, 3, N, N] at K = 10..30 and a depth map. Rounds run the policies in turn (interleaved),
and the time printed is the median over all timed steps of all rounds. With ``--threads 1`` on the CPU it is the
process's CPU time (what an idle core would take), which holds on a loaded machine where wall times do not.

Policies (the encoder's activation checkpointing, ``model.backbone.with_cp`` and ``model.cp_frames``):

- ``config``: as the config ships it;
- ``none``: no checkpointing; ``all``: every block of every frame;
- ``every2`` / ``every3``: every 2nd / 3rd block (0, 2, 4, ... / 0, 3, 6, ...) of every frame;
- ``stack``: every block of the S stack frames only (the reference frame keeps its activations);
- ``stack-every2``: every 2nd block of the stack frames only.

``--official DIR`` also times the official ``DepthAnythingV2DSFA`` (``DIR/DepthAnythingV2/depth_anything_v2``, e.g. a
checkout of github.com/fogradio/BokehDepth kept outside this repository; its code is imported from there and never
copied here) with the same encoder size, inputs, loss, clipping and optimizer, and prints each policy's time as a
ratio of the official step's. The figures (time and peak memory per policy, with the 0.7x-official and 8 GB
targets) are saved to ``--plot`` (default ``work_dirs/benchmarks/benchmark_train_step.png``).
"""
import argparse
import json
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional

import torch

POLICIES = ('config', 'none', 'all', 'every2', 'every3', 'stack', 'stack-every2')
OFFICIAL = 'official'
OFFICIAL_ENCODERS = {'s': 'vits', 'b': 'vitb', 'l': 'vitl'}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--frames', type=int, default=3)
    parser.add_argument('--size', type=int, default=518)
    parser.add_argument('--steps', type=int, default=2, help='timed steps per process (after one warm-up step)')
    parser.add_argument('--rounds', type=int, default=1, help='processes per policy, run in turn')
    parser.add_argument('--policies', nargs='+', default=['config'], choices=POLICIES)
    parser.add_argument('--official', metavar='DIR', help='root of a BokehDepth checkout outside this repository')
    parser.add_argument('--with-cp', action=argparse.BooleanOptionalAction, default=None,
                        help='override model.backbone.with_cp for the config policy')
    parser.add_argument('--no-stack-grad', action='store_true')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, help="torch threads of each process (default: torch's own choice)")
    parser.add_argument('--plot', help='PNG of the figures (time and peak memory per policy; default '
                        'work_dirs/benchmarks/benchmark_train_step.png)')
    parser.add_argument('--worker', help=argparse.SUPPRESS)  # JSON spec of one process (internal)
    return parser.parse_args()


# ----------------------------------------------------------------------------------------------- one process
def _inputs(spec: dict) -> dict:
    gen = torch.Generator().manual_seed(0)
    b, s, n = spec['batch'], spec['frames'], spec['size']
    return dict(img=torch.randn(b, 3, n, n, generator=gen), stack=torch.randn(b, s, 3, n, n, generator=gen),
                stack_k=torch.linspace(10, 30, s).expand(b, s).contiguous(),
                depth=torch.rand(b, 1, n, n, generator=gen) * 9 + 0.5)


def _apply_policy(model, policy: str) -> str:
    """Set the checkpointing policy of an mmbokeh BokehDepthEstimator; returns a description."""
    backbone = model.backbone
    if policy != 'config':
        depth = len(backbone.vit.blocks)
        every = {'every2': 2, 'every3': 3, 'stack-every2': 2}.get(policy)
        backbone.set_with_cp(policy in ('all', 'stack') or (list(range(0, depth, every)) if every else False))
        model.cp_frames = 'stack' if policy.startswith('stack') else 'all'
    blocks = sorted(getattr(backbone, 'cp_blocks', ()))
    return f'with_cp blocks {blocks or "none"}, cp_frames={getattr(model, "cp_frames", "all")}'


def _silog(pred: torch.Tensor, target: torch.Tensor, lambd: float = 0.5) -> torch.Tensor:
    valid = target > 1e-3
    diff = torch.log(target[valid]) - torch.log(pred[valid].clamp_min(1e-6))
    return torch.sqrt((diff.square().mean() - lambd * diff.mean().square()).clamp_min(0))


def _build_mmbokeh(spec: dict, data: dict):
    from mmengine.structures import PixelData

    from mmbokeh.apis import init_model
    from mmbokeh.structures import DepthDataSample

    options = {}
    if spec.get('with_cp') is not None:
        options['model.backbone.with_cp'] = spec['with_cp']
    if spec.get('no_stack_grad'):
        options['model.stack_grad'] = False
    model = init_model(spec['config'], device=spec['device'], cfg_options=options).train()
    what = _apply_policy(model, spec['policy'])
    inputs = dict(img=data['img'])
    if model.neck is not None:
        inputs.update(stack=data['stack'], stack_k=data['stack_k'])
    samples = [DepthDataSample(gt_depth=PixelData(data=d)) for d in data['depth']]

    def loss() -> torch.Tensor:
        return sum(model.loss(inputs, samples).values())

    return model, loss, what


def _build_official(spec: dict, data: dict):
    from mmengine.config import Config

    root = os.path.join(spec['official'], 'DepthAnythingV2')
    if not os.path.isdir(os.path.join(root, 'depth_anything_v2')):
        raise FileNotFoundError(f'{root}/depth_anything_v2 not found: --official takes the root of a BokehDepth '
                                'checkout (github.com/fogradio/BokehDepth)')
    sys.path.insert(0, root)
    from depth_anything_v2 import MODEL_CONFIGS, DepthAnythingV2DSFA

    model_cfg = Config.fromfile(spec['config']).model
    encoder = OFFICIAL_ENCODERS[model_cfg.backbone.get('arch', 's')]
    neck = model_cfg.get('neck') or {}
    model = DepthAnythingV2DSFA(**MODEL_CONFIGS[encoder], max_depth=float(model_cfg.decode_head.get('max_depth', 20)),
                                fusion_layers=tuple(neck.get('fuse_taps', (2, 3))),
                                grad_free_stack=spec.get('no_stack_grad', False), num_heads=neck.get('num_heads', 8),
                                use_sdpa=True).to(spec['device']).train()

    def loss() -> torch.Tensor:
        pred = model(data['img'], data['stack'], data['stack_k'])
        return _silog(pred, data['depth'][:, 0])

    return model, loss, f'DepthAnythingV2DSFA({encoder}) from {root}'


def run_worker(spec: dict) -> dict:
    if spec.get('threads'):
        torch.set_num_threads(spec['threads'])
    data = {k: v.to(spec['device']) for k, v in _inputs(spec).items()}
    build = _build_official if spec['policy'] == OFFICIAL else _build_mmbokeh
    model, loss_fn, what = build(spec, data)
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=5e-6, weight_decay=0.01)
    cuda = spec['device'].startswith('cuda')
    times, cpu_times = [], []
    for step in range(spec['steps'] + 1):
        start, cpu_start = time.perf_counter(), time.process_time()
        loss = loss_fn()
        optim.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optim.step()
        if cuda:
            torch.cuda.synchronize()
        if step:
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
    if cuda:
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return dict(policy=spec['policy'], what=what, times=times, cpu_times=cpu_times, peak=peak,
                threads=torch.get_num_threads(), loss=float(loss))


# ----------------------------------------------------------------------------------------------- driver
def _spawn(spec: dict) -> Optional[dict]:
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), spec['config'], '--worker', json.dumps(spec)],
                          capture_output=True, text=True)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith('RESULT '):
            return json.loads(line[len('RESULT '):])
    print(f'  {spec["policy"]}: failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}')
    return None


def main() -> None:
    args = parse_args()
    if args.worker:
        print('RESULT ' + json.dumps(run_worker(json.loads(args.worker))), flush=True)
        return
    base = dict(config=args.config, batch=args.batch, frames=args.frames, size=args.size, steps=args.steps,
                device=args.device, with_cp=args.with_cp, no_stack_grad=args.no_stack_grad, official=args.official,
                threads=args.threads)
    runs = list(dict.fromkeys(args.policies)) + ([OFFICIAL] if args.official else [])
    results: Dict[str, List[dict]] = {name: [] for name in runs}
    loads = []
    for _ in range(args.rounds):
        for name in runs:
            loads.append(os.getloadavg()[0])
            result = _spawn(dict(base, policy=name))
            if result is not None:
                results[name].append(result)
    where = 'GPU max allocated' if args.device.startswith('cuda') else 'peak RSS'
    print(f'{args.config}: batch {args.batch} x (1 + {args.frames}) frames at {args.size}x{args.size} on '
          f'{args.device}, {args.steps} timed steps x {args.rounds} round(s) per policy, one process each; '
          f'load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores')
    # one thread: the process's CPU time is what an idle core would take, and holds on a loaded machine
    by_cpu = args.threads == 1 and not args.device.startswith('cuda')
    print(f'  time per step: median {"CPU time of the process (one thread)" if by_cpu else "wall time"}, '
          'ratios to the official step')
    rows = {}
    for name in runs:
        if not results[name]:
            continue
        wall = statistics.median([t for r in results[name] for t in r['times']])
        cpu = statistics.median([t for r in results[name] for t in r['cpu_times']])
        rows[name] = (cpu if by_cpu else wall, wall, max(r['peak'] for r in results[name]))
    ref = rows.get(OFFICIAL, (None, ))[0]
    for name, (step, wall, peak) in rows.items():
        ratio = f'  {step / ref:5.2f}x official' if ref else ''
        print(f'  {name:13s} {step:7.2f} s/step ({wall:6.1f} s wall)  {where} {peak / 2**30:6.2f} GiB '
              f'({peak / 1e9:5.2f} GB){ratio}   [{results[name][0]["what"]}, {results[name][0]["threads"]} threads]')
    if not rows:
        return
    # imported here, not at the top: the worker processes measure their peak memory without it
    from mmbokeh.visualization.benchmark_plot import DEFAULT_PLOT_DIR, BenchmarkPanel, plot_benchmark
    plot = args.plot or osp.join(DEFAULT_PLOT_DIR, 'benchmark_train_step.png')
    time_label = 'CPU s per step (one thread)' if by_cpu else 's per step (wall)'
    panels = [BenchmarkPanel('time per training step', time_label, values={n: r[0] for n, r in rows.items()},
                             target=0.7 * ref if ref else None, target_label='0.7x official'),
              BenchmarkPanel(f'peak memory ({where})', 'GB', values={n: r[2] / 1e9 for n, r in rows.items()},
                             target=None if args.device.startswith('cuda') else 8.0, target_label='8 GB')]
    plot_benchmark(panels, out=plot, title=f'{args.config}: batch {args.batch}, {args.frames} stack frames, '
                   f'{args.size} px, {args.device}')
    print(f'figure: {plot}')


if __name__ == '__main__':
    main()
