"""Convert the official BokehDepth Stage-2 checkpoint (``DAV2_dsfa_release.pth``) into an mmbokeh checkpoint.

    python tools/convert/bokehdepth_to_mmbokeh.py DAV2_dsfa_release.pth checkpoints/bokehdepth_dav2-l.pth

Keys ``pretrained.*``, ``encoder_fusion.layers.{tap}.block.*`` and ``depth_head.*`` map to the backbone, the
``DefocusAggregation`` neck and the DPT head of ``configs/bokehdepth/dav2_nyu.py`` (ViT-L) or ``dav2-s_*.py`` (ViT-S).
"""
import argparse

from mmbokeh.models.utils.ckpt_convert import convert_bokehdepth, convert_file, fused_taps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='official BokehDepth checkpoint (.pth)')
    parser.add_argument('dst', help='output mmbokeh checkpoint (.pth)')
    args = parser.parse_args()
    info = convert_file(args.src, args.dst, convert_bokehdepth, 'BokehDepth (DepthAnythingV2DSFA)')
    taps = fused_taps(info['state'])
    if not taps:
        raise KeyError(f'{args.src}: no encoder_fusion.layers.* keys; for plain DAv2 use dav2_to_mmbokeh.py')
    cfg = 'configs/bokehdepth/dav2_nyu.py' if info['arch'] == 'l' else f"configs/bokehdepth/dav2-{info['arch']}_*.py"
    print(f"{args.src}: ViT-{info['arch'].upper()} with fused taps {taps}, {info['num_tensors']} tensors -> "
          f'{args.dst} (use {cfg} with model.neck.fuse_taps={taps})')


if __name__ == '__main__':
    main()
