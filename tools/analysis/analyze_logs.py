"""Loss and metric curves, and training speed, from mmengine's JSON scalar logs (as mmdet's analyze_logs).

    python tools/analysis/analyze_logs.py plot_curve LOG [LOG ...] --keys loss abs_rel --legend a b \
        --out curves.png [--title T]
    python tools/analysis/analyze_logs.py cal_train_time LOG [LOG ...] [--include-outliers]

A LOG is ``<work_dir>/<timestamp>/vis_data/<timestamp>.json``, its ``<timestamp>`` folder, a work dir (all its
timestamp logs in order: a resumed training continues the curve) or a glob pattern (one run per match). A key is the
logged name or its last ``/`` parts (``abs_rel`` for ``synthetic/abs_rel``); training and validation keys mix freely.
One subplot per key, x = iteration, one line per LOG.
"""
import argparse
import sys

from mmbokeh.visualization.curves import load_json_logs, plot_curves, train_time_stats


def plot_curve(args) -> None:
    logs = load_json_logs(args.json_logs)
    plot_curves(logs, args.keys, legend=args.legend, out=args.out, title=args.title, dpi=args.dpi,
                subplot_size=(args.width, args.height))
    print(f'saved {len(args.keys)} curve(s) of {len(logs)} run(s) to {args.out}')


def cal_train_time(args) -> None:
    for log in load_json_logs(args.json_logs):
        s = train_time_stats(log, include_outliers=args.include_outliers)
        print(f'-----Analyze train time of {log.name}-----')
        print(f'slowest: {s["slowest"]:.4f} s/iter (at iteration {s["slowest_step"]:g})')
        print(f'fastest: {s["fastest"]:.4f} s/iter (at iteration {s["fastest_step"]:g})')
        print(f'time std over {s["records"]} logged intervals: {s["std"]:.4f}')
        print(f'average iter time: {s["mean"]:.4f} s/iter')
        print(f'estimated training time: {s["total"] / 3600:.2f} h')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Analyze mmengine JSON scalar logs')
    sub = parser.add_subparsers(dest='task', required=True)
    plot = sub.add_parser('plot_curve', help='plot loss and metric curves into a PNG')
    plot.add_argument('json_logs', nargs='+', help='JSON logs, their <timestamp> folders, work dirs or globs')
    plot.add_argument('--keys', nargs='+', default=['loss'], help='keys to plot, one subplot each')
    plot.add_argument('--legend', nargs='+', default=None, help='one label per log (default: work dir/timestamp)')
    plot.add_argument('--title', default=None, help='figure title')
    plot.add_argument('--out', default='curves.png', help='output PNG (default: curves.png)')
    plot.add_argument('--dpi', type=int, default=100, help='pixels per inch')
    plot.add_argument('--width', type=float, default=8.0, help='subplot width in inches')
    plot.add_argument('--height', type=float, default=3.0, help='subplot height in inches (the PNG: one per key)')
    plot.set_defaults(func=plot_curve)
    time = sub.add_parser('cal_train_time', help='time per training iteration')
    time.add_argument('json_logs', nargs='+', help='JSON logs, their <timestamp> folders, work dirs or globs')
    time.add_argument('--include-outliers', action='store_true',
                      help='keep the first logged interval (start-up) in the statistics')
    time.set_defaults(func=cal_train_time)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        args.func(args)
    except (KeyError, ValueError, FileNotFoundError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f'analyze_logs: error: {msg}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
