"""Time and peak memory of training steps of a config's model on random data (CPU or GPU).

    python tools/analysis/benchmark_train_step.py configs/bokehdepth/dav2-s_nyu.py --batch 2 --frames 3 --size 518

Prints the time per step (mean of ``--steps`` after one warm-up) and the peak memory: the process's peak resident
set (CPU) or ``torch.cuda.max_memory_allocated`` (GPU). The model is the config's, activation checkpointing
included (``model.backbone.with_cp``); ``--with-cp`` / ``--no-with-cp`` and ``--no-stack-grad`` override it to show
what each saves.
"""
import argparse
import resource
import time

import torch
from mmengine.structures import PixelData

from mmbokeh.apis import init_model
from mmbokeh.structures import DepthDataSample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--frames', type=int, default=3)
    parser.add_argument('--size', type=int, default=518)
    parser.add_argument('--steps', type=int, default=2)
    parser.add_argument('--with-cp', action=argparse.BooleanOptionalAction, default=None,
                        help='activation checkpointing in the encoder (default: as in the config)')
    parser.add_argument('--no-stack-grad', action='store_true')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = parser.parse_args()
    options = {} if args.with_cp is None else {'model.backbone.with_cp': args.with_cp}
    if args.no_stack_grad:
        options['model.stack_grad'] = False
    model = init_model(args.config, device=args.device, cfg_options=options).train()
    with_cp = getattr(model.backbone, 'with_cp', False)
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-6)
    b, s, n = args.batch, args.frames, args.size
    inputs = dict(img=torch.randn(b, 3, n, n, device=args.device))
    if model.neck is not None:
        inputs.update(stack=torch.randn(b, s, 3, n, n, device=args.device),
                      stack_k=torch.linspace(10, 30, s, device=args.device).expand(b, s))
    samples = [DepthDataSample(gt_depth=PixelData(data=torch.rand(1, n, n, device=args.device) * 9 + 0.5))
               for _ in range(b)]
    times = []
    for step in range(args.steps + 1):
        start = time.perf_counter()
        loss = sum(model.loss(inputs, samples).values())
        optim.zero_grad()
        loss.backward()
        optim.step()
        if args.device.startswith('cuda'):
            torch.cuda.synchronize()
        if step:
            times.append(time.perf_counter() - start)
    if args.device.startswith('cuda'):
        peak = torch.cuda.max_memory_allocated() / 2**30
        where = 'GPU max allocated'
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        where = 'peak RSS'
    frames = 1 + (s if 'stack' in inputs else 0)
    print(f'{args.config}: batch {b} x {frames} frame(s) at {n}x{n} on {args.device} '
          f'(threads {torch.get_num_threads()}, with_cp={with_cp}, stack_grad={not args.no_stack_grad})')
    print(f'time per training step: {sum(times) / len(times):.2f} s   {where}: {peak:.2f} GiB')


if __name__ == '__main__':
    main()
