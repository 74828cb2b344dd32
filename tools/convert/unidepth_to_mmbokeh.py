"""Convert an official UniDepthV2 or BokehDepth UniDepthV2-DSFA checkpoint into an mmbokeh checkpoint.

    python tools/convert/unidepth_to_mmbokeh.py UDv2_dsfa_release.pth checkpoints/unidepth_v2-l_dsfa.pth
    python tools/convert/unidepth_to_mmbokeh.py unidepthv2_vitl14.bin checkpoints/unidepth_v2-l.pth

Keys ``pixel_encoder.(backbone.)*``, ``pixel_encoder.fusion_blocks.{stage}.*`` and ``pixel_decoder.*`` map to the
backbone, the ``DefocusAggregation`` neck and the ``UniDepthV2Head`` of ``configs/unidepth_v2/``. Dropped on
purpose (printed): ``register_tokens``, ``mask_token`` and ``pixel_decoder.level_embeds``. ``--ema`` takes the
EMA weights of a training checkpoint.
"""
import argparse

from mmbokeh.models.utils.unidepth_convert import convert_unidepth_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='official checkpoint (.pth / .bin)')
    parser.add_argument('dst', help='output mmbokeh checkpoint (.pth)')
    parser.add_argument('--ema', action='store_true', help="use ckpt['ema']['shadow_params']")
    args = parser.parse_args()
    info = convert_unidepth_file(args.src, args.dst, args.ema)
    arch, stages = info['arch'], info['fused_stages']
    kind = f'UniDepthV2-DSFA (fused stages {stages})' if stages else 'UniDepthV2'
    cfg = f'configs/unidepth_v2/unidepth_v2-{arch}{"_dsfa" if stages else ""}.py'
    print(f"{args.src}: ViT-{arch.upper()} {kind}, {info['num_tensors']} tensors -> {args.dst} (use {cfg})")
    print(f"dropped on purpose: {', '.join(info['dropped']) or 'none'}")


if __name__ == '__main__':
    main()
