"""Frames per second of splat_bokeh on a GPU: 640x480 RGB, batched, soft disc with radii up to 16 px (issue 19's
target: >= 1000 frames/s on an H200-class GPU), the layered occlusion mode, and the exact and gaussian window kernels
for comparison; after a check of every timed mode against the CPU kernels on the same frames.

    python tools/analysis/benchmark_splat_cuda.py [--batch 32] [--max-radius 16] [--repeats 20]

The defocus is a ramp from -r to +r across the image plus a smooth bump (every radius in [0, r] occurs, with
several depth layers per row). Times are CUDA-event medians of ``--repeats`` calls after two warm-up calls; frames/s =
batch / time; the figure (frames/s per mode) is saved to ``--plot``. Exits with a message where no GPU is
visible.
"""
import argparse
import os.path as osp
import statistics
import sys

import torch

from mmbokeh.visualization.benchmark_plot import DEFAULT_PLOT_DIR, BenchmarkPanel, plot_benchmark


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--max-radius', type=float, default=16.0)
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--target-fps', type=float, default=1000.0)
    parser.add_argument('--skip-check', action='store_true', help='do not compare with the CPU kernels first')
    parser.add_argument('--plot', default=osp.join(DEFAULT_PLOT_DIR, 'benchmark_splat_cuda.png'),
                        help='PNG of the frames/s per mode, forward and forward + backward')
    return parser.parse_args()


def scene(batch: int, h: int, w: int, max_r: float, device: str):
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(batch, 3, h, w, generator=gen)
    x = torch.linspace(-1, 1, w).expand(h, w)
    y = torch.linspace(-1, 1, h)[:, None].expand(h, w)
    bump = torch.exp(-4 * (x.square() + y.square()))
    defocus = (0.8 * x + 0.2 * bump).clamp(-1, 1) * (max_r - 0.01)
    return image.to(device), defocus.expand(batch, 1, h, w).contiguous().to(device)


def cuda_time(fn, repeats: int) -> float:
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times)


def main() -> None:
    args = parse_args()
    if not torch.cuda.is_available():
        print('no CUDA device: nothing to time (the CUDA kernels are checked by tests/ops/test_cuda.py on a GPU)')
        sys.exit(0)
    from mmbokeh.ops import splat_bokeh

    modes = {
        'soft_disc, no occlusion (linear)': dict(kernel='soft_disc', occlusion=False),
        'soft_disc, layered occlusion (linear)': dict(kernel='soft_disc', occlusion='layered'),
        'soft_disc, exact occlusion (window)': dict(kernel='soft_disc', occlusion='exact'),
        'gaussian, no occlusion (window)': dict(kernel='gaussian', occlusion=False),
    }
    image, defocus = scene(args.batch, args.height, args.width, args.max_radius, 'cuda')
    if not args.skip_check:
        crop = (slice(0, 2), slice(None), slice(0, 96), slice(0, 128))
        for name, kw in modes.items():
            ci, cd = image[crop].double(), defocus[crop].double()
            got = splat_bokeh(ci, cd, impl='cuda', **kw).cpu()
            want = splat_bokeh(ci.cpu(), cd.cpu(), impl='cpu', **kw)
            err = float((got - want).abs().max())
            print(f'check {name:40s} max |cuda - cpu| = {err:.2e} ({"ok" if err < 1e-4 else "MISMATCH"})')
    print(f'{torch.cuda.get_device_name()}: batch {args.batch} x {args.width}x{args.height} RGB float32, radii up to '
          f'{args.max_radius:g} px, median of {args.repeats} calls')
    fps_fwd, fps_both = {}, {}
    for name, kw in modes.items():
        fwd = cuda_time(lambda: splat_bokeh(image, defocus, impl='cuda', **kw), args.repeats)
        img, dfc = image.clone().requires_grad_(), defocus.clone().requires_grad_()

        def step():
            splat_bokeh(img, dfc, impl='cuda', **kw).sum().backward()

        both = cuda_time(step, max(3, args.repeats // 4))
        fps = fps_fwd[name] = args.batch / fwd
        fps_both[name] = args.batch / both
        verdict = f' (target {args.target_fps:g}: {"met" if fps >= args.target_fps else "missed"})' \
            if name.startswith('soft_disc, no occlusion') else ''
        print(f'  {name:40s} forward {fwd * 1e3:8.2f} ms = {fps:8.0f} frames/s{verdict}; forward + backward '
              f'{both * 1e3:8.2f} ms = {args.batch / both:7.0f} frames/s')
    size = f'{args.width}x{args.height}, batch {args.batch}, radii <= {args.max_radius:g} px'
    plot_benchmark([BenchmarkPanel(f'forward, {size}', 'frames/s', values=fps_fwd, target=args.target_fps, log_y=True,
                                   target_label=f'{args.target_fps:g} frames/s (soft disc)'),
                    BenchmarkPanel(f'forward + backward, {size}', 'frames/s', values=fps_both, log_y=True)],
                   out=args.plot, title=f'splat_bokeh on {torch.cuda.get_device_name()}')
    print(f'figure: {args.plot}')


if __name__ == '__main__':
    main()
