"""Does a fused model use its bokeh stack? Prints validation metrics with the true stack, with each stack replaced
by its reference image, and with the stacks of a batch rolled by one scene (``mmbokeh.apis.stack_sensitivity``).

    python tools/analysis/stack_sensitivity.py configs/bokehdepth/dav2-s_synthetic.py work_dirs/.../iter_1200.pth

A model that reads defocus gets worse without its own stack; equal rows mean the neck ignores the stack.
"""
import argparse

from mmengine.config import DictAction

from mmbokeh.apis import init_model, stack_sensitivity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override settings in the config')
    args = parser.parse_args()
    model = init_model(args.config, args.checkpoint, cfg_options=args.cfg_options)
    results = stack_sensitivity(model.cfg, model, args.batch_size)
    keys = list(results['stack'])
    print('mode         ' + ' '.join(f'{k:>9}' for k in keys))
    for mode, metrics in results.items():
        print(f'{mode:<12} ' + ' '.join(f'{metrics[k]:9.4f}' for k in keys))


if __name__ == '__main__':
    main()
