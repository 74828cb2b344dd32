"""Time mmbokeh's DoF ops on 640x480 images: reference, C++ CPU kernel (1 thread and all threads), CUDA if present.

    python tools/analysis/benchmark_ops.py [--repeats 3] [--skip-reference]

splat_bokeh (soft disc) is timed at maximum radii 8, 16 and 32 px on a defocus ramp from -r to +r across the image
(radii spread evenly over [0, r]), then a 5-level Stage-1 style stack (K = 1, 6, 11, 16, 21 on a synthetic disparity
map focused at its median) on one core. Each figure is the best of ``--repeats`` runs after a warm-up. The reference
is O(r^2) per pixel; above r = 8 it is timed on a 160x120 crop (same radius distribution) and scaled by the pixel
count, which the output says. The reference and the "1 thread" figures run on one thread and report the CPU time of
that thread; multi-thread and CUDA figures are wall time, the least reliable when other work shares the machine (the
load average is printed first). The figures are saved to ``--plot`` (default
``work_dirs/benchmarks/benchmark_ops.png``).
"""
import argparse
import os
import os.path as osp
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mmbokeh.ops import load_extension, psf_blur, rasterize_gaussians_dof, splat_bokeh  # noqa: E402
from mmbokeh.visualization.benchmark_plot import DEFAULT_PLOT_DIR, BenchmarkPanel, plot_benchmark  # noqa: E402

H, W = 480, 640
RADII = (8, 16, 32)
STACK_K = (1, 6, 11, 16, 21)


def best_time(fn, repeats: int) -> float:
    """Best time of ``repeats`` calls after one warm-up call, in seconds.

    On one thread this is the CPU time of the calling thread (all the work runs there), which other processes on a
    shared machine cannot inflate; otherwise it is wall time (with CUDA synchronised).
    """
    fn()
    clock = time.thread_time if torch.get_num_threads() == 1 else time.perf_counter
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = clock()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(clock() - start)
    return min(times)


def interleaved_best(fns: dict, repeats: int) -> dict:
    """Best time of each callable, calling them in turn so that they see the same machine load."""
    best = {key: float('inf') for key in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeats):
        for key, fn in fns.items():
            best[key] = min(best[key], _timed(fn))
    return best


def _timed(fn) -> float:
    clock = time.thread_time if torch.get_num_threads() == 1 else time.perf_counter
    start = clock()
    fn()
    return clock() - start


def ramp(h: int, w: int, r: float, device='cpu') -> torch.Tensor:
    return (torch.linspace(-r, r, w, device=device).expand(1, 1, h, w)).contiguous()


def with_threads(n: int, fn):
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        return fn()
    finally:
        torch.set_num_threads(old)


def stack_defocus() -> list:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, H), torch.linspace(0, 1, W), indexing='ij')
    disp = 0.3 * yy + 0.2
    for cy, cx, rad, v in ((0.3, 0.3, 0.15, 0.9), (0.6, 0.7, 0.2, 0.6), (0.7, 0.2, 0.1, 0.8)):
        disp = torch.where((yy - cy)**2 + (xx - cx)**2 < rad**2, torch.tensor(v), disp)
    focus = disp.median()
    return [(k * (disp - focus))[None, None].contiguous() for k in STACK_K]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--skip-reference', action='store_true')
    parser.add_argument('--plot', default=osp.join(DEFAULT_PLOT_DIR, 'benchmark_ops.png'),
                        help='PNG of the figures (splat cost against r per implementation, psf_blur, rasterizer)')
    args = parser.parse_args()

    threads = torch.get_num_threads()
    cpu_ok = load_extension('cpu') is not None
    cuda_ok = torch.cuda.is_available() and load_extension('cuda') is not None
    print(f'machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, '
          f'{threads} threads, load average {os.getloadavg()[0]:.1f}; CPU kernels: {cpu_ok}; CUDA kernels: {cuda_ok}')
    image = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(0))

    print(f'\nsplat_bokeh soft_disc, one {W}x{H} RGB image, defocus ramp -r..r (ms per image, best of {args.repeats}; '
          'reference on 1 thread, best of 2)')
    header = f'{"max radius":>10} | {"reference":>26} | {"cpu 1 thread":>12} | {"cpu " + str(threads) + " threads":>12}'
    print(header + (f' | {"cuda":>8}' if cuda_ok else ''))
    rows = {}
    ramps = {r: ramp(H, W, r) for r in RADII}
    cpu1 = with_threads(1, lambda: interleaved_best(
        {r: (lambda d=d: splat_bokeh(image, d, impl='cpu')) for r, d in ramps.items()}, args.repeats)) if cpu_ok else {}
    for r in RADII:
        row = {}
        if not args.skip_reference:
            ch, cw = (H, W) if r <= 8 else (120, 160)
            crop = image[..., :ch, :cw].contiguous()
            dc = ramp(ch, cw, r)
            t = with_threads(1, lambda: best_time(lambda: splat_bokeh(crop, dc, impl='reference'), 2))
            row['reference'] = t * (H * W) / (ch * cw)
            row['ref_note'] = 'full' if (ch, cw) == (H, W) else f'{cw}x{ch} crop x{(H * W) // (ch * cw)}'
        d = ramp(H, W, r)
        if cpu_ok:
            row['cpu1'] = cpu1[r]
            row['cpun'] = with_threads(threads,
                                       lambda: best_time(lambda: splat_bokeh(image, d, impl='cpu'), args.repeats))
        if cuda_ok:
            ic, dc = image.cuda(), d.cuda()
            row['cuda'] = best_time(lambda: splat_bokeh(ic, dc, impl='cuda'), args.repeats)
        rows[r] = row
        ref = f'{row["reference"] * 1e3:9.0f} ({row["ref_note"]})' if 'reference' in row else 'skipped'
        cpu1, cpun = row.get('cpu1', float('nan')) * 1e3, row.get('cpun', float('nan')) * 1e3
        line = f'{r:>10} | {ref:>26} | {cpu1:12.1f} | {cpun:12.1f}'
        print(line + (f' | {row["cuda"] * 1e3:8.2f}' if cuda_ok else ''))

    if cpu_ok:
        print()
        if 'reference' in rows[16]:
            print(f'CPU kernel (1 thread) vs reference at r=16: {rows[16]["reference"] / rows[16]["cpu1"]:.0f}x faster '
                  '(target >= 20x)')
        print(f'cost growth r=8 -> r=32, CPU 1 thread: {rows[32]["cpu1"] / rows[8]["cpu1"]:.2f}x (target <= 5x)')
        flat = {r: torch.full((1, 1, H, W), r - 0.5) for r in (8, 32)}
        uniform = with_threads(1, lambda: interleaved_best(
            {r: (lambda d=d: splat_bokeh(image, d, impl='cpu')) for r, d in flat.items()}, args.repeats))
        print(f'  worst case, every pixel at r-0.5: {uniform[8] * 1e3:.0f} ms (r=8), '
              f'{uniform[32] * 1e3:.0f} ms (r=32), '
              f'{uniform[32] / uniform[8]:.2f}x')
        stack = stack_defocus()
        stats = ', '.join(f'K={k}: max {float(d.abs().max()):.1f} mean {float(d.abs().mean()):.1f}'
                          for k, d in zip(STACK_K, stack))
        t_stack = with_threads(1, lambda: best_time(lambda: [splat_bokeh(image, d, impl='cpu') for d in stack],
                                                    args.repeats))
        print(f'5-level stack {W}x{H} on one core: {t_stack * 1e3:.0f} ms (target <= 150 ms); radii px: {stats}')
        d16 = ramp(H, W, 16)

        def fwd_bwd():
            i, dd = image.clone().requires_grad_(), d16.clone().requires_grad_()
            splat_bokeh(i, dd, impl='cpu').sum().backward()

        seconds = with_threads(1, lambda: best_time(fwd_bwd, args.repeats))
        print(f'forward+backward at r=16, CPU 1 thread: {seconds * 1e3:.0f} ms')

    print(f'\npsf_blur 7x7, one {W}x{H} RGB image, sigma in [0, 6] px (ms per image, 1 thread)')
    sigma = 6 * torch.rand(1, 1, H, W, generator=torch.Generator().manual_seed(1))
    impls = (['reference'] if not args.skip_reference else []) + (['cpu'] if cpu_ok else [])
    blur_ms = {}
    for impl in impls:
        t = with_threads(1, lambda: best_time(lambda: psf_blur(image, sigma, 7, impl=impl), args.repeats))
        blur_ms[f'{impl} (1 thread)'] = t * 1e3
        print(f'  {impl:>9}: {t * 1e3:8.1f}')
    if cuda_ok:
        ic, sc = image.cuda(), sigma.cuda()
        blur_ms['cuda'] = best_time(lambda: psf_blur(ic, sc, 7, impl="cuda"), args.repeats) * 1e3
        print(f'  {"cuda":>9}: {blur_ms["cuda"]:8.2f}')

    n = 5000
    g = torch.Generator().manual_seed(2)
    gauss = [torch.randn(n, 3, generator=g) * torch.tensor([1.5, 1.0, 0.8]) + torch.tensor([0.0, 0.0, 4.0]),
             torch.rand(n, 3, generator=g) * 0.05 + 0.01, torch.randn(n, 4, generator=g),
             torch.rand(n, generator=g) * 0.9 + 0.05, torch.rand(n, 3, generator=g)]
    K = torch.tensor([[500.0, 0, W / 2], [0, 500.0, H / 2], [0, 0, 1]])
    print(f'\nrasterize_gaussians_dof, {n} Gaussians, {W}x{H}, focus 3 m, K 20 px m (ms per image)')

    def render(impl, device='cpu', size=(W, H)):
        args_ = [x.to(device) for x in gauss] + [torch.eye(4, device=device), K.to(device)]
        return lambda: rasterize_gaussians_dof(*args_, size[0], size[1], 3.0, 20.0, impl=impl)

    raster_ms = {}
    if cpu_ok:
        raster_ms['cpu (1 thread)'] = with_threads(1, lambda: best_time(render('cpu'), args.repeats)) * 1e3
        raster_ms[f'cpu ({threads} threads)'] = best_time(render('cpu'), args.repeats) * 1e3
        print(f'  {"cpu":>9}: {raster_ms["cpu (1 thread)"]:8.1f} (1 thread), '
              f'{raster_ms[f"cpu ({threads} threads)"]:.1f} ({threads} threads)')
    if cuda_ok:
        raster_ms['cuda'] = best_time(render('cuda', 'cuda'), args.repeats) * 1e3
        print(f'  {"cuda":>9}: {raster_ms["cuda"]:8.2f}')
    if not args.skip_reference:
        print('  reference: dense over pixels x Gaussians (memory O(HW N)); not timed at this size')

    columns = {'reference': 'reference (1 thread)', 'cpu1': 'cpu (1 thread)', 'cpun': f'cpu ({threads} threads)',
               'cuda': 'cuda'}
    series = {label: (list(RADII), [rows[r][key] * 1e3 for r in RADII])
              for key, label in columns.items() if all(key in rows[r] for r in RADII)}
    panels = [BenchmarkPanel(f'splat_bokeh soft disc, {W}x{H}, defocus ramp -r..r', 'ms per image', series=series,
                             xlabel='largest CoC radius r (px)', log_y=True)]
    if blur_ms:
        panels.append(BenchmarkPanel(f'psf_blur 7x7, {W}x{H}', 'ms per image', values=blur_ms, log_y=True))
    if raster_ms:
        panels.append(BenchmarkPanel(f'rasterize_gaussians_dof, {n} Gaussians, {W}x{H}', 'ms per image',
                                     values=raster_ms))
    if series:
        plot_benchmark(panels, out=args.plot, title=f'benchmark_ops (load average {os.getloadavg()[0]:.1f})')
        print(f'\nfigure: {args.plot}')


if __name__ == '__main__':
    main()
