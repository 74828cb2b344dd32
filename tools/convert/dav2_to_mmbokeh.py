"""Convert an official Depth Anything V2 checkpoint into an mmbokeh checkpoint.

    python tools/convert/dav2_to_mmbokeh.py depth_anything_v2_metric_hypersim_vits.pth dav2-s.pth

Accepts the released plain state dicts (``pretrained.*`` + ``depth_head.*``) and the training format
``{'model': ...}`` with a ``module.`` prefix. The encoder size is read from the weights; the result loads into
``configs/depth_anything_v2/dav2-{s,b,l}_*.py`` with no missing or unexpected keys.
"""
import argparse

from mmbokeh.models.utils.ckpt_convert import convert_file


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
