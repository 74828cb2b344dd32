"""mmengine checkpoints load with torch.load(weights_only=True) once mmbokeh is imported, and nothing more does."""
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import mmbokeh  # noqa: F401
from mmbokeh.utils.checkpoint_compat import history_buffer_getattr


class _Toy(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.fc(inputs)
        return dict(loss=out.pow(2).mean()) if mode == 'loss' else out


class _Data(Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.full((2, ), float(i)))


def _runner(work_dir, max_iters, resume=False):
    return Runner(
        model=_Toy(), work_dir=str(work_dir), default_scope='mmengine', resume=resume,
        train_dataloader=dict(dataset=_Data(), sampler=dict(type='DefaultSampler', shuffle=True), batch_size=2,
                              collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.01)),
        param_scheduler=[dict(type='PolyLR', by_epoch=False, begin=0, end=8)],
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2)))


def test_runner_checkpoint_loads_safely_and_resumes(tmp_path):
    _runner(tmp_path, 2).train()
    ckpt = torch.load(tmp_path / 'iter_2.pth', weights_only=True)
    buffers = ckpt['message_hub']['log_scalars']
    assert isinstance(buffers['train/loss'], HistoryBuffer)
    assert isinstance(buffers['train/loss'].mean(), (float, np.floating))
    runner = _runner(tmp_path, 4, resume=True)
    runner.train()
    assert runner.iter == 4  # continued from iteration 2, did not restart


def test_restricted_getattr_only_resolves_statistics_methods():
    assert history_buffer_getattr(HistoryBuffer, 'mean') is HistoryBuffer.mean
    for obj, name in [(HistoryBuffer, '__init__'), (np.ndarray, 'tofile'), (HistoryBuffer, '__class__')]:
        with pytest.raises(pickle.UnpicklingError):
            history_buffer_getattr(obj, name)


class _Evil:

    def __reduce__(self):
        return getattr, (np.ndarray, 'tofile')


def test_checkpoint_cannot_smuggle_other_attributes(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'x': _Evil()}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
