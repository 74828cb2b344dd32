"""Fixtures shared by every test folder, among them a tiny random FLUX.1-Kontext pipeline built locally (no download)
and the key names of an official ``bokeh_lora.bin`` (generator tests and the two-stage pipeline test)."""
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import pytest
import torch
from mmengine.registry import DefaultScope

# ``tests/`` is importable here: pytest puts the folder of the root conftest on sys.path (its default import mode).
from oracles import official_dav2, official_dsfa, official_unidepth


@pytest.fixture(scope='session')
def dav2_oracle():
    """The official Depth Anything V2 forward on official key names (``tests/oracles/official_dav2.py``)."""
    return official_dav2


@pytest.fixture(scope='session')
def dsfa_oracle():
    """The official BokehDepth ``DepthAnythingV2DSFA`` forward and DSFA block (``tests/oracles/official_dsfa.py``)."""
    return official_dsfa


@pytest.fixture(scope='session')
def unidepth_oracle():
    """The official UniDepthV2(-DSFA) forward and input-size rule (``tests/oracles/official_unidepth.py``)."""
    return official_unidepth


@pytest.fixture(autouse=True)
def _restore_default_scope():
    """A Runner built in a test leaves its default scope current (mmengine keeps the latest instance), which would
    change how later tests resolve plain type names; restore the scopes of before the test, as
    ``DefaultScope.overwrite_default_scope`` does."""
    before = DefaultScope._instance_dict.copy()
    yield
    DefaultScope._instance_dict = before


CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789.,;:=()_-'


def build_tiny_kontext(num_layers: int = 1, num_single_layers: int = 2, seed: int = 0):
    """An in-memory ``FluxKontextPipeline`` with random weights: 2 heads x 16 (inner width 32), 4 latent channels,
    VAE factor 2 (image sizes must be multiples of 4), CLIP + T5 text encoders of width 32 with character
    tokenizers. ``num_layers`` double-stream then ``num_single_layers`` single-stream blocks."""
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


def official_adapter_keys(num_blocks: int, adapter_blocks: Optional[Sequence[int]] = None) -> List[str]:
    """The key names of an official ``bokeh_lora.bin`` (state dict of ``BokehFluxControlAdapter``), written out
    from its structure: the K MLP ``embedding_layer`` (Linear, act, Linear) and one processor per attention layer in
    ``adapter_modules`` with LoRA ``to_k_dof``, ``to_v_dof``, ``to_q_adp``, ``to_k_adp`` (``down``/``up`` weights)."""
    keys = [f'embedding_layer.{i}.{p}' for i in (0, 2) for p in ('weight', 'bias')]
    for b in range(num_blocks) if adapter_blocks is None else adapter_blocks:
        for proj in ('to_k_dof', 'to_v_dof', 'to_q_adp', 'to_k_adp'):
            keys += [f'adapter_modules.{b}.{proj}.down.weight', f'adapter_modules.{b}.{proj}.up.weight']
    return keys


def random_official_state(num_blocks: int, context_dim: int, hidden: int, rank: int, seed: int = 0,
                          blocks: Optional[Sequence[int]] = None) -> Dict[str, torch.Tensor]:
    """A random state dict shaped as the official adapter's (K MLP 1 -> 64 -> ``context_dim``, LoRA ``rank``
    projections of width ``hidden``), built from the key names alone; values N(0, 0.2^2)."""
    gen = torch.Generator().manual_seed(seed)
    shapes = {'embedding_layer.0.weight': (64, 1), 'embedding_layer.0.bias': (64, ),
              'embedding_layer.2.weight': (context_dim, 64), 'embedding_layer.2.bias': (context_dim, )}
    state = {}
    for key in official_adapter_keys(num_blocks, blocks):
        if key not in shapes:
            proj, part = key.split('.')[2], key.split('.')[3]
            width_in = context_dim if proj.endswith('dof') else hidden
            shapes[key] = (rank, width_in) if part == 'down' else (hidden, rank)
        state[key] = torch.randn(shapes[key], generator=gen) * 0.2
    return state


@pytest.fixture(scope='session')
def tiny_kontext() -> Callable:
    """``build_tiny_kontext(num_layers=1, num_single_layers=2, seed=0)``: a fresh in-memory tiny pipeline per call
    (needs diffusers with ``FluxKontextPipeline``)."""
    diffusers = pytest.importorskip('diffusers')
    if not hasattr(diffusers, 'FluxKontextPipeline'):
        pytest.skip('diffusers has no FluxKontextPipeline')
    return build_tiny_kontext


@pytest.fixture(scope='session')
def tiny_kontext_dir(tiny_kontext, tmp_path_factory) -> Path:
    """The tiny pipeline (seed 0) saved with ``save_pretrained`` in a temporary folder: what ``pretrained`` names."""
    folder = tmp_path_factory.mktemp('tiny_kontext')
    tiny_kontext().save_pretrained(str(folder))
    return folder


@pytest.fixture(scope='session')
def adapter_keys() -> Callable:
    """:func:`official_adapter_keys`: the official adapter's key names for a number of attention layers."""
    return official_adapter_keys


@pytest.fixture(scope='session')
def official_state() -> Callable:
    """:func:`random_official_state`: a random official-layout adapter state dict."""
    return random_official_state
