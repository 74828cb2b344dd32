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


def convert_file(src: str, dst: str, convert=convert_dav2, kind: str = 'Depth Anything V2') -> dict:
    """Load ``src`` with the safe loader, rename its keys with ``convert``, save atomically to ``dst``."""
    state = unwrap_state_dict(torch.load(src, map_location='cpu', weights_only=True), src)
    arch = encoder_arch(state, src)
    converted, unknown = convert(state)
    if unknown:
        raise KeyError(f'{src}: {len(unknown)} keys not from {kind}, e.g. {unknown[:5]}')
    meta = dict(arch=arch, source=str(src), converter=convert.__name__)
    atomic_torch_save(dict(state_dict=converted, meta=meta), dst)
    return dict(meta, state=state, num_tensors=len(converted))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='official checkpoint (.pth)')
    parser.add_argument('dst', help='output mmbokeh checkpoint (.pth)')
    args = parser.parse_args()
    info = convert_file(args.src, args.dst)
    print(f"{args.src}: ViT-{info['arch'].upper()}, {info['num_tensors']} tensors -> {args.dst} "
          f"(use configs/depth_anything_v2/dav2-{info['arch']}_*.py)")


if __name__ == '__main__':
    main()
