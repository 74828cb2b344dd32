"""Diffusion backend and bokeh adapter on a tiny random FLUX.1-Kontext built locally (no download, see conftest.py).

Checks the processor against diffusers' own FLUX attention (zero adapter = base model), the K attention against its
closed form, official key names and two denoising steps end to end through the transform. Training runs are in
test_adapter_training.py.
"""
import numpy as np
import pytest
import torch

diffusers = pytest.importorskip('diffusers')
if not hasattr(diffusers, 'FluxKontextPipeline'):
    pytest.skip('diffusers has no FluxKontextPipeline', allow_module_level=True)

import mmbokeh.datasets  # noqa: E402,F401
from mmbokeh.datasets.transforms.bokeh_stack import BokehStackGenerator  # noqa: E402
from mmbokeh.generators.diffusion import BokehFluxAdapter, LoRALinear, build_prompt  # noqa: E402

HIDDEN, CONTEXT, RANK = 32, 24, 4  # tiny transformer: 2 heads x 16; adapter K width 24, LoRA rank 4
ADAPTER = dict(context_dim=CONTEXT, lora_rank=RANK, lora_alpha=8)


@pytest.fixture
def random_state(official_state):
    """``random_state(num_blocks, seed=0, blocks=None)``: a random official adapter state for the tiny model."""
    return lambda num_blocks, seed=0, blocks=None: official_state(num_blocks, CONTEXT, HIDDEN, RANK, seed, blocks)


def test_lora_linear_by_hand():
    lora = LoRALinear(3, 2, rank=2, alpha=4)
    with torch.no_grad():
        lora.down.weight.copy_(torch.tensor([[1., 0., 0.], [0., 1., 1.]]))
        lora.up.weight.copy_(torch.tensor([[1., 2.], [0., -1.]]))
    x = torch.tensor([[1., 2., 3.]])  # down: [1, 5]; up: [11, -5]; times alpha / rank = 2
    torch.testing.assert_close(lora(x), torch.tensor([[22., -10.]]))
    assert torch.count_nonzero(LoRALinear(3, 2, rank=2).up.weight) == 0  # a fresh LoRA adds nothing


def _transformer_inputs(pipe, b: int = 2):
    gen = torch.Generator().manual_seed(1)
    t = pipe.transformer
    return dict(hidden_states=torch.randn(b, 24, t.config.in_channels, generator=gen),
                encoder_hidden_states=torch.randn(b, 7, t.config.joint_attention_dim, generator=gen),
                pooled_projections=torch.randn(b, t.config.pooled_projection_dim, generator=gen),
                timestep=torch.full((b, ), 0.5), guidance=torch.full((b, ), 3.5), txt_ids=torch.zeros(7, 3),
                img_ids=torch.randint(0, 6, (24, 3), generator=gen).float(), return_dict=False)


@torch.no_grad()
def test_zero_adapter_reproduces_diffusers_flux_attention(tiny_kontext):
    pipe = tiny_kontext()
    inputs = _transformer_inputs(pipe)
    stock = pipe.transformer(**inputs)[0]
    adapter = BokehFluxAdapter(pipe.transformer, **ADAPTER)  # fresh: LoRA up weights are zero
    ours = pipe.transformer(**inputs, joint_attention_kwargs=adapter.attention_kwargs(torch.tensor([5., 25.])))[0]
    torch.testing.assert_close(ours, stock, rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_k_attention_adds_the_projected_k_value_everywhere(tiny_kontext):
    """One K token: softmax over one key is 1, so the K attention adds ``bokeh_scale * to_v_dof(embed)`` to every
    token before the output projections (to_out / to_add_out of double blocks; nothing after single blocks)."""
    pipe = tiny_kontext()
    adapter = BokehFluxAdapter(pipe.transformer, bokeh_scale=0.5, adapt_q=False, adapt_k=False, **ADAPTER)
    for proc in adapter.adapter_modules:
        torch.nn.init.normal_(proc.to_v_dof.up.weight)
        torch.nn.init.normal_(proc.to_k_dof.up.weight)
    embeds = adapter.camera_embeds(torch.tensor([12.0]))
    v = adapter.adapter_modules[0].to_v_dof(embeds)  # [1, HIDDEN]
    attn = pipe.transformer.transformer_blocks[0].attn
    gen = torch.Generator().manual_seed(0)
    h, e = torch.randn(1, 10, HIDDEN, generator=gen), torch.randn(1, 4, HIDDEN, generator=gen)
    img0, enc0 = attn(h, e)
    img1, enc1 = attn(h, e, camera_embeds=embeds)
    torch.testing.assert_close(img1 - img0, (0.5 * v @ attn.to_out[0].weight.T).expand_as(img0), atol=1e-5, rtol=0)
    torch.testing.assert_close(enc1 - enc0, (0.5 * v @ attn.to_add_out.weight.T).expand_as(enc0), atol=1e-5, rtol=0)
    single = pipe.transformer.single_transformer_blocks[1].attn
    v1 = adapter.adapter_modules[2].to_v_dof(embeds)
    torch.testing.assert_close(single(h, camera_embeds=embeds) - single(h), (0.5 * v1).expand(1, 10, HIDDEN),
                               atol=1e-5, rtol=0)


def test_k_attention_key_gets_no_gradient(tiny_kontext):
    """With one K token the attention weights over it are 1 whatever its key: to_k_dof (kept for the official key
    names) receives no gradient, to_v_dof does."""
    pipe = tiny_kontext()
    adapter = BokehFluxAdapter(pipe.transformer, **ADAPTER)
    for proc in adapter.adapter_modules:
        for lora in (proc.to_k_dof, proc.to_v_dof):
            torch.nn.init.normal_(lora.up.weight)
    kwargs = adapter.attention_kwargs(torch.tensor([5., 25.]))
    pipe.transformer(**_transformer_inputs(pipe), joint_attention_kwargs=kwargs)[0].square().mean().backward()
    proc = adapter.adapter_modules[0]
    g_k = proc.to_k_dof.up.weight.grad.abs().max()
    g_v = proc.to_v_dof.up.weight.grad.abs().max()
    assert g_v > 1e-4 and g_k < 1e-7 * g_v


def test_official_state_dict_loads_with_no_missing_or_unexpected_keys(tiny_kontext, random_state, tmp_path):
    pipe = tiny_kontext()
    adapter = BokehFluxAdapter(pipe.transformer, **ADAPTER)
    state = random_state(3)
    assert sorted(adapter.state_dict()) == sorted(state)
    torch.save(state, tmp_path / 'bokeh_lora.bin')
    adapter.load_weights(str(tmp_path / 'bokeh_lora.bin'))
    for k, v in adapter.state_dict().items():
        torch.testing.assert_close(v, state[k])
    from safetensors.torch import save_file
    (tmp_path / 'ckpt').mkdir()
    save_file(random_state(3, seed=1), tmp_path / 'ckpt' / 'model.safetensors')
    adapter.load_weights(str(tmp_path / 'ckpt'))  # a folder with model.safetensors, as accelerate saves it
    torch.testing.assert_close(adapter.state_dict()['adapter_modules.2.to_q_adp.up.weight'],
                               random_state(3, seed=1)['adapter_modules.2.to_q_adp.up.weight'])
    numeric = {k.replace('adapter_modules.', ''): v for k, v in state.items()}  # official fallback naming
    torch.save({f'module.{k}': v for k, v in numeric.items()}, tmp_path / 'ddp.bin')
    adapter.load_weights(str(tmp_path / 'ddp.bin'))
    partial = BokehFluxAdapter(tiny_kontext().transformer, block_ids='0,2', **ADAPTER)
    torch.save(random_state(3, blocks=[0, 2]), tmp_path / 'partial.bin')
    partial.load_weights(str(tmp_path / 'partial.bin'))  # blocks keep their global index
    with pytest.raises(KeyError, match=r'0 missing keys .*8 unexpected keys'):
        partial.load_weights(str(tmp_path / 'bokeh_lora.bin'))
    with pytest.raises(FileNotFoundError, match='bokeh_lora.bin'):
        adapter.load_weights(str(tmp_path / 'absent.bin'))


def test_two_denoising_steps_end_to_end_through_the_transform(tiny_kontext_dir, random_state, tmp_path):
    weights = tmp_path / 'bokeh_lora.bin'
    torch.save(random_state(3), weights)
    gen = BokehStackGenerator(
        backend=dict(type='diffusion', pretrained=str(tiny_kontext_dir), adapter_weights=str(weights), adapter=ADAPTER,
                     num_inference_steps=2, guidance_scale=3.5, dtype='float32', device='cpu',
                     max_sequence_length=64),
        k_values=[0.0, 10.0, 30.0], seed=3)
    calls = []
    img = np.random.default_rng(0).integers(0, 256, (36, 50, 3), dtype=np.uint8)
    gen.backend.load()
    gen.backend.pipe.transformer.register_forward_hook(lambda *a: calls.append(1))
    out = gen(dict(img=img.copy(), sample_idx=5))
    stack = out['bokeh_stack']
    assert stack.shape == (3, 36, 50, 3) and stack.dtype == np.uint8  # generated at 32x48, resized back
    assert len(calls) == 2  # two denoising steps, all K in one batch
    np.testing.assert_array_equal(stack[0], img)  # K = 0: the reference frame
    assert np.abs(stack[1].astype(int) - stack[2]).max() > 0  # K reaches the model
    assert out['bokeh_source'] == 'diffusion:' + tiny_kontext_dir.name + '+bokeh_lora.bin' and 'focus_dist' not in out
    np.testing.assert_array_equal(out['bokeh_k'], [0, 10, 30])
    np.testing.assert_array_equal(gen(dict(img=img.copy(), sample_idx=5))['bokeh_stack'], stack)  # seeded


def test_prompt_template():
    assert build_prompt('Set dof_cond = {value:.2f}; f/{aperture:.1f}', 12) == 'Set dof_cond = 12.00; f/2.5'
    with pytest.raises(ValueError, match='placeholders'):
        build_prompt('{focus}', 3)
