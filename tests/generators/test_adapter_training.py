"""Stage-1 adapter training on mmengine's Runner with a tiny random FLUX.1-Kontext (conftest.py) and a tiny NYU tree:

- ``tools/train.py configs/bokeh_generator/flux_kontext_adapter.py``: the adapter trains, the base stays bit-identical
  to the pipeline on disk, checkpoints hold only the adapter, ``bokeh_lora.bin`` has the official key names;
- a run SIGKILLed after a checkpoint and resumed with ``--resume`` ends with the uninterrupted run's exact weights;
- ``torchrun --nproc_per_node 2 ... --launcher pytorch`` (gloo, CPU) trains with DDP;
- in process: adapter-only state dicts load strictly (torch, mmengine ``load_checkpoint``), the data preprocessor's
  input forms, per-step seeding.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

diffusers = pytest.importorskip('diffusers')
if not hasattr(diffusers, 'FluxKontextPipeline'):
    pytest.skip('diffusers has no FluxKontextPipeline', allow_module_level=True)

from mmengine.logging import MessageHub  # noqa: E402
from mmengine.runner import load_checkpoint  # noqa: E402

from mmbokeh.generators.diffusion import (  # noqa: E402
    BokehAdapterModel,
    BokehFluxAdapter,
    BokehPairPreprocessor,
    flux_block_wrap_policy,
    load_kontext_pipeline,
    step_seed,
)
from mmbokeh.generators.diffusion.adapter_model import _drop_base_state  # noqa: E402

ROOT = Path(__file__).parents[2]
HERE = Path(__file__).parent
CONFIG = 'configs/bokeh_generator/flux_kontext_adapter.py'
HIDDEN, CONTEXT, RANK, BLOCKS = 32, 24, 4, 3  # tiny transformer: 1 double + 2 single blocks, 2 heads x 16
ADAPTER = dict(block_ids=None, context_dim=CONTEXT, lora_rank=RANK, lora_alpha=8)
SIZE = 32


def _tiny_nyu(root: Path, n: int = 4) -> Path:
    """``n`` random 48x64 training images with depth in the mmseg NYU layout."""
    rng = np.random.default_rng(0)
    for sub in ('images/train', 'annotations/train'):
        (root / sub).mkdir(parents=True)
    for i in range(n):
        cv2.imwrite(str(root / 'images/train' / f'{i:04d}.jpg'), rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
        cv2.imwrite(str(root / 'annotations/train' / f'{i:04d}.png'),
                    rng.integers(500, 9000, (48, 64), dtype=np.uint16))
    return root


@pytest.fixture(scope='module')
def setup(tiny_kontext_dir, official_state, tmp_path_factory):
    """(cfg-options shared by every run, the tiny FLUX folder, the adapter_init state)."""
    tmp = tmp_path_factory.mktemp('adapter_data')
    data = _tiny_nyu(tmp / 'nyu')
    init = official_state(BLOCKS, CONTEXT, HIDDEN, RANK, seed=2)  # non-zero LoRA up weights: every tensor learns
    torch.save(init, tmp / 'init.bin')
    opts = [f'model.pretrained={tiny_kontext_dir}', 'model.dtype=float32', 'model.device=cpu',
            'model.adapter.block_ids=None', f'model.adapter.context_dim={CONTEXT}', f'model.adapter.lora_rank={RANK}',
            'model.adapter.lora_alpha=8', f'model.adapter_init={tmp / "init.bin"}', 'model.max_sequence_length=64',
            'model.gradient_checkpointing=False', f'train_dataloader.dataset.data_root={data}',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'train_dataloader.batch_size=2', f'train_dataloader.dataset.pipeline.2.scale={SIZE}',
            f'train_dataloader.dataset.pipeline.3.crop_size=[{SIZE},{SIZE}]', 'optim_wrapper.optimizer.lr=1e-3',
            'param_scheduler.0.end=2', 'param_scheduler.1.begin=2', 'default_hooks.logger.interval=1']
    return opts, tiny_kontext_dir, init


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE)]), OMP_NUM_THREADS='1')


def _train(config: str, work: Path, opts: list, *extra: str, timeout: int = 300) -> str:
    res = subprocess.run([sys.executable, 'tools/train.py', config, '--work-dir', str(work), *extra,
                          '--cfg-options', *opts], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                         env=_env())
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-5000:]
    return log


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _adapter_state(path: Path) -> dict:
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def _losses(log: str) -> dict:
    """``{iteration: loss_flow as printed}`` of a training log."""
    return {int(m.group(1)): m.group(2) for m in re.finditer(r'Iter\(train\) \[\s*(\d+)/\d+\].*loss_flow: (\S+)', log)}


def test_train_two_iterations_trains_only_the_adapter(setup, adapter_keys, tmp_path):
    opts, flux_dir, init = setup
    # The shipped config plus a test-only hook that dumps the frozen base at the end of training.
    config = tmp_path / 'probe.py'
    config.write_text(f"_base_ = ['{ROOT / CONFIG}']\n"
                      "custom_imports = dict(imports=['mmbokeh', 'mmbokeh.generators.diffusion', 'mmbokeh.engine', "
                      "'adapter_probes'], allow_failed_imports=False)\n"
                      "custom_hooks = [dict(type='ExportAdapterHook'), "
                      "dict(type='adapter_probes.DumpBaseStateHook')]\n")
    work = tmp_path / 'work'
    log = _train(str(config), work, [*opts, 'train_cfg.max_iters=2', 'default_hooks.checkpoint.interval=2'])
    assert sorted(_losses(log)) == [1, 2] and all(np.isfinite(float(v)) for v in _losses(log).values())

    state = _adapter_state(work / 'iter_2.pth')
    official = adapter_keys(BLOCKS)
    assert sorted(state) == sorted('adapter.' + k for k in official)  # nothing of the base model
    for key, value in init.items():
        if 'to_k_dof' not in key:  # (one K token: to_k_dof gets no gradient, test_k_attention_key_gets_no_gradient)
            assert not torch.equal(state['adapter.' + key], value), key

    exported = torch.load(work / 'bokeh_lora.bin', map_location='cpu', weights_only=True)
    assert sorted(exported) == sorted(official)
    assert all(torch.equal(exported[k], state['adapter.' + k]) for k in official)
    fresh = load_kontext_pipeline(str(flux_dir), 'float32', 'cpu')
    BokehFluxAdapter(fresh.transformer, **ADAPTER).load_weights(str(work / 'bokeh_lora.bin'))  # strict

    base = torch.load(work / 'base_state_rank0.pth', map_location='cpu', weights_only=True)
    fresh = load_kontext_pipeline(str(flux_dir), 'float32', 'cpu')
    for name, trained in base.items():
        ref = getattr(fresh, name).state_dict()
        assert trained.keys() == ref.keys(), name
        assert all(torch.equal(trained[k], ref[k]) for k in ref), name  # bit-identical to the pipeline on disk


def test_killed_and_resumed_run_matches_the_uninterrupted_run(setup, tmp_path):
    opts, _, _ = setup
    opts = [*opts, 'train_cfg.max_iters=8', 'default_hooks.checkpoint.interval=2',
            'default_hooks.checkpoint.max_keep_ckpts=-1']
    straight = _train(CONFIG, tmp_path / 'straight', opts)

    work = tmp_path / 'killed'
    proc = subprocess.Popen([sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(work), '--cfg-options',
                             *opts], cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (work / 'last_checkpoint').is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # right after the first checkpoint is recorded (iteration 2, or 4 at worst)
    assert proc.wait(timeout=60) == -signal.SIGKILL, 'the run ended before it could be killed'
    assert not (work / 'iter_8.pth').exists()

    resumed = _train(CONFIG, work, opts, '--resume')
    start = int(re.search(r'resumed epoch: 0, iter: (\d+)', resumed).group(1))
    assert start in (2, 4, 6)
    assert sorted(_losses(resumed)) == list(range(start + 1, 9))
    assert all(_losses(resumed)[i] == _losses(straight)[i] for i in range(start + 1, 9))
    final, reference = _adapter_state(work / 'iter_8.pth'), _adapter_state(tmp_path / 'straight' / 'iter_8.pth')
    assert final.keys() == reference.keys()
    for key in reference:
        torch.testing.assert_close(final[key], reference[key], rtol=0, atol=0, msg=key)
    assert not torch.equal(reference['adapter.embedding_layer.0.weight'],
                           _adapter_state(tmp_path / 'straight' / 'iter_2.pth')['adapter.embedding_layer.0.weight'])


def test_torchrun_two_cpu_processes_ddp(setup, adapter_keys, tmp_path):
    opts, _, _ = setup
    res = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port',
                          str(_free_port()), 'tools/train.py', CONFIG, '--launcher', 'pytorch', '--work-dir',
                          str(tmp_path), '--cfg-options', *opts, 'train_cfg.max_iters=2',
                          'default_hooks.checkpoint.interval=2'],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, env=_env())
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-5000:]
    assert 'Distributed training: True' in log and log.count('Iter(train) [2/2]') == 1  # rank 0 logs
    assert sorted(_adapter_state(tmp_path / 'iter_2.pth')) == sorted('adapter.' + k for k in adapter_keys(BLOCKS))
    assert (tmp_path / 'bokeh_lora.bin').is_file()


@pytest.fixture(scope='module')
def model(tiny_kontext_dir):
    return BokehAdapterModel(pretrained=str(tiny_kontext_dir), adapter=ADAPTER, dtype='float32', device='cpu',
                             max_sequence_length=64)


def test_state_dict_is_the_adapter_and_loads_strictly(model, adapter_keys, tmp_path):
    state = model.state_dict()
    assert sorted(state) == sorted('adapter.' + k for k in adapter_keys(BLOCKS))
    assert sorted(model.official_state_dict(state)) == sorted(adapter_keys(BLOCKS))
    changed = {k: v + 1 for k, v in state.items()}
    assert model.load_state_dict(changed, strict=True).missing_keys == []
    assert all(torch.equal(model.state_dict()[k], changed[k]) for k in changed)
    torch.save(dict(state_dict=state), tmp_path / 'ckpt.pth')
    load_checkpoint(model, str(tmp_path / 'ckpt.pth'), strict=True)  # mmengine's loader (load_from, --resume)
    assert all(torch.equal(model.state_dict()[k], state[k]) for k in state)
    assert model.transformer.training is False and model.train().text_encoder_2.training is False
    assert model.adapter.training


def test_pair_preprocessor_takes_lists_or_batched_tensors():
    pre = BokehPairPreprocessor(size_multiple=16)
    gen = torch.Generator().manual_seed(0)
    img = torch.randint(0, 256, (2, 3, 36, 40), generator=gen, dtype=torch.uint8)
    stack = torch.randint(0, 256, (2, 3, 3, 36, 40), generator=gen, dtype=torch.uint8)
    stack_k = torch.tensor([[4.0, 9.0, 20.0], [7.0, 1.0, 2.0]])
    batched = pre(dict(inputs=dict(img=img, stack=stack, stack_k=stack_k), data_samples=None))['inputs']
    listed = pre(dict(inputs=dict(img=list(img), stack=list(stack), stack_k=list(stack_k)),
                      data_samples=None))['inputs']
    for out in (batched, listed):
        assert out['reference'].shape == out['target'].shape == (2, 3, 32, 32)  # centre crop to multiples of 16
        torch.testing.assert_close(out['k'], torch.tensor([4.0, 7.0]))
        torch.testing.assert_close(out['reference'], img[:, [2, 1, 0], 2:34, 4:36].float() / 127.5 - 1)
        torch.testing.assert_close(out['target'], stack[:, 0, [2, 1, 0], 2:34, 4:36].float() / 127.5 - 1)
    with pytest.raises(KeyError, match='BokehStackGenerator'):
        pre(dict(inputs=dict(img=img), data_samples=None))


def test_loss_is_a_function_of_seed_and_iteration(model):
    gen = torch.Generator().manual_seed(0)
    inputs = dict(reference=torch.rand(2, 3, 16, 16, generator=gen) * 2 - 1,
                  target=torch.rand(2, 3, 16, 16, generator=gen) * 2 - 1, k=torch.tensor([3.0, 25.0]))
    hub = MessageHub.get_instance(f'test_adapter_seed_{time.time_ns()}')
    assert MessageHub.get_current_instance() is hub
    losses = []
    for it in (5, 6, 5):
        hub.update_info('iter', it)
        torch.manual_seed(it * 7)  # the global state plays no part
        with torch.no_grad():
            losses.append(model(inputs, mode='loss')['loss_flow'])
    assert torch.equal(losses[0], losses[2]) and not torch.equal(losses[0], losses[1])
    assert step_seed(0, 5, 0) != step_seed(0, 5, 1) != step_seed(1, 5, 0)
    with pytest.raises(NotImplementedError, match='diffusion'):
        model(inputs, mode='predict')


def test_fsdp_wrap_policy_and_state_filter(model):
    units = {n for n, m in model.named_modules() if flux_block_wrap_policy(m, recurse=False, nonwrapped_numel=0)}
    assert units == {'transformer.transformer_blocks.0', 'transformer.single_transformer_blocks.0',
                     'transformer.single_transformer_blocks.1', 'text_encoder_2.encoder.block.0',
                     'text_encoder_2.encoder.block.1'}  # the adapter's processors go with their blocks
    plain = {'transformer.x': 1, 'adapter.y': 2, 'module.vae.z': 3}
    _drop_base_state(model, plain, '', {})
    assert plain == {'adapter.y': 2}
    wrapped = {'_fsdp_wrapped_module.transformer.x': 1, '_fsdp_wrapped_module.adapter.y': 2}
    _drop_base_state(model, wrapped, '_fsdp_wrapped_module.', {})  # inside FSDP: its own hooks need every key
    assert len(wrapped) == 2
