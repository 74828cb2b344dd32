"""Convert an official Depth Anything V2 checkpoint into an mmbokeh checkpoint.

    python tools/convert/dav2_to_mmbokeh.py depth_anything_v2_metric_hypersim_vits.pth dav2-s.pth

Accepts the released plain state dicts (``pretrained.*`` + ``depth_head.*``) and the training format
``{'model': ...}`` with a ``module.`` prefix. The encoder size is read from the weights; the result loads into
``configs/depth_anything_v2/dav2-{s,b,l}_*.py`` with no missing or unexpected keys.
"""
import argparse

import torch

from mmbokeh.models.utils import convert_dav2, encoder_arch, unwrap_state_dict
from mmbokeh.utils import atomic_torch_save


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='official checkpoint (.pth)')
    parser.add_argument('dst', help='output mmbokeh checkpoint (.pth)')
    args = parser.parse_args()
    # Official releases are plain tensor dicts: the safe loader reads them.
    state = unwrap_state_dict(torch.load(args.src, map_location='cpu', weights_only=True), args.src)
    arch = encoder_arch(state, args.src)
    converted, unknown = convert_dav2(state)
    if unknown:
        raise KeyError(f'{args.src}: {len(unknown)} keys not from Depth Anything V2, e.g. {unknown[:5]}')
    atomic_torch_save(dict(state_dict=converted, meta=dict(arch=arch, source=args.src, converter='dav2')), args.dst)
    print(f'{args.src}: ViT-{arch.upper()}, {len(converted)} tensors -> {args.dst} '
          f'(use configs/depth_anything_v2/dav2-{arch}_*.py)')


if __name__ == '__main__':
    main()
