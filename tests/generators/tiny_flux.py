"""A tiny random FLUX.1-Kontext pipeline built locally (no download): transformer, VAE, CLIP + T5 and tokenizers."""
from pathlib import Path

import torch

CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789.,;:=()_-'


def build_tiny_kontext(num_layers: int = 1, num_single_layers: int = 2, seed: int = 0):
    """An in-memory ``FluxKontextPipeline`` with random weights: 2 heads x 16, 4 latent channels, VAE factor 2."""
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxKontextPipeline, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer, T5Config, T5EncoderModel, T5Tokenizer

    torch.manual_seed(seed)
    transformer = FluxTransformer2DModel(patch_size=1, in_channels=16, num_layers=num_layers,
                                         num_single_layers=num_single_layers, attention_head_dim=16,
                                         num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32,
                                         axes_dims_rope=[4, 4, 8], guidance_embeds=True)
    vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=['DownEncoderBlock2D'] * 2,
                        up_block_types=['UpDecoderBlock2D'] * 2, block_out_channels=[8, 16], layers_per_block=1,
                        latent_channels=4, norm_num_groups=4, sample_size=32, shift_factor=0.0609,
                        scaling_factor=1.5035, use_quant_conv=False, use_post_quant_conv=False)
    clip = CLIPTextModel(CLIPTextConfig(vocab_size=128, hidden_size=32, intermediate_size=37, num_attention_heads=4,
                                        num_hidden_layers=2, projection_dim=32, max_position_embeddings=77,
                                        bos_token_id=0, eos_token_id=1, pad_token_id=1))
    t5 = T5EncoderModel(T5Config(vocab_size=128, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                                 decoder_start_token_id=0))
    vocab = {'<|startoftext|>': 0, '<|endoftext|>': 1}
    for c in CHARS:
        vocab[c] = len(vocab)
        vocab[c + '</w>'] = len(vocab)
    clip_tok = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    t5_vocab = [('<pad>', 0.0), ('</s>', 0.0), ('<unk>', 0.0), ('\u2581', -2.0)]
    t5_vocab += [(c, -3.0) for c in CHARS] + [('\u2581' + c, -3.0) for c in CHARS]
    t5_tok = T5Tokenizer(vocab=t5_vocab, extra_ids=0, model_max_length=64)
    return FluxKontextPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=clip,
                               tokenizer=clip_tok, text_encoder_2=t5, tokenizer_2=t5_tok, transformer=transformer)


def save_tiny_kontext(folder: Path, **kwargs) -> Path:
    """Build the tiny pipeline and ``save_pretrained`` it into ``folder``."""
    build_tiny_kontext(**kwargs).save_pretrained(str(folder))
    return folder


def official_adapter_keys(num_blocks: int, adapter_blocks=None) -> list:
    """The key names of an official ``bokeh_lora.bin`` (state dict of ``BokehFluxControlAdapter``), written out
    from its structure: the K MLP ``embedding_layer`` (Linear, act, Linear) and one processor per attention layer in
    ``adapter_modules`` with LoRA ``to_k_dof``, ``to_v_dof``, ``to_q_adp``, ``to_k_adp`` (``down``/``up`` weights)."""
    keys = [f'embedding_layer.{i}.{p}' for i in (0, 2) for p in ('weight', 'bias')]
    for b in range(num_blocks) if adapter_blocks is None else adapter_blocks:
        for proj in ('to_k_dof', 'to_v_dof', 'to_q_adp', 'to_k_adp'):
            keys += [f'adapter_modules.{b}.{proj}.down.weight', f'adapter_modules.{b}.{proj}.up.weight']
    return keys
