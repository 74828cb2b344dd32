"""Parameters and FLOPs of a config's encoder, neck and decoder.

    python tools/analysis/model_complexity.py configs/bokehdepth/dav2-s_synthetic.py --shape 518 518 --frames 3

FLOPs are counted by mmengine's FlopAnalyzer (one fused multiply-add = 1 FLOP, fvcore's convention) on
``model(inputs, mode='tensor')`` for one image and its stack of ``--frames`` bokeh frames (the batched model-input
dict of ``mmbokeh.structures.depth_inputs``); the stack frames run the encoder up to the deepest fused tap.
"""
import argparse

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape

from mmbokeh.apis import init_model


class _TensorMode(nn.Module):
    """``model(dict(img, stack, stack_k), mode='tensor')`` with positional tensors, as the JIT tracer needs."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, img, stack=None, stack_k=None):
        inputs = dict(img=img) if stack is None else dict(img=img, stack=stack, stack_k=stack_k)
        return self.model(inputs, mode='tensor')


def _sdpa_flops(inputs, outputs) -> int:
    """scaled_dot_product_attention: q [..., L, d] k [..., S, d] -> QK^T and AV, L*S*d MACs each."""
    q, k = get_shape(inputs[0]), get_shape(inputs[1])
    batch = 1
    for n in q[:-2]:
        batch *= n
    return 2 * batch * q[-2] * k[-2] * q[-1]


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters()) if module is not None else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, default=[518, 518], metavar=('H', 'W'))
    parser.add_argument('--frames', type=int, default=3, help='bokeh stack frames S (models with a neck)')
    args = parser.parse_args()
    h, w = args.shape
    if h % 14 or w % 14:
        parser.error(f'--shape {h} {w}: both must be multiples of 14')
    model = init_model(args.config)
    image = torch.randn(1, 3, h, w)
    inputs = (image, )
    if model.neck is not None:
        inputs += (torch.randn(1, args.frames, 3, h, w), torch.linspace(10, 30, args.frames)[None])
    analyzer = FlopAnalyzer(_TensorMode(model), inputs)
    analyzer.set_op_handle('aten::scaled_dot_product_attention', _sdpa_flops)
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    flops = analyzer.by_module()
    parts = [('encoder', 'backbone'), ('neck', 'neck'), ('decoder', 'decode_head')]
    frames = 1 + (args.frames if model.neck is not None else 0)
    print(f'{args.config}  input {h}x{w}, {frames} frame(s) through the encoder')
    print(f"{'part':<10}{'params (M)':>12}{'GFLOPs':>12}")
    for name, attr in parts:
        module = getattr(model, attr)
        print(f"{name:<10}{_count(module) / 1e6:>12.3f}{flops.get('model.' + attr, 0) / 1e9:>12.2f}")
    if model.neck is not None:
        for tap, block in model.neck.layers.items():
            print(f"  neck tap {tap}: {_count(block) / 1e6:.3f} M params")
    print(f"{'total':<10}{_count(model) / 1e6:>12.3f}{analyzer.total() / 1e9:>12.2f}")


if __name__ == '__main__':
    main()
