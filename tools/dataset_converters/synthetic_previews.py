"""Save a few synthetic scenes (image | coloured depth, turbo from 0 to max depth) as PNGs for eyeballing.

Usage: python tools/dataset_converters/synthetic_previews.py OUT_DIR [--num 4] [--seed 0] [--size H W]
"""
import argparse
from typing import List, Optional

from mmbokeh.datasets import save_scene_previews


def main(argv: Optional[List[str]] = None) -> List[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir')
    parser.add_argument('--num', type=int, default=4, help='number of scenes')
    parser.add_argument('--seed', type=int, default=0, help='first scene seed')
    parser.add_argument('--size', type=int, nargs=2, default=(224, 224), metavar=('H', 'W'))
    parser.add_argument('--max-depth', type=float, default=8.0, help='metres')
    args = parser.parse_args(argv)
    paths = save_scene_previews(args.out_dir, args.num, args.seed, tuple(args.size), args.max_depth)
    for path in paths:
        print(path)
    return paths


if __name__ == '__main__':
    main()
