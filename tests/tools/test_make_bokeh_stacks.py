"""tools/make_bokeh_stacks.py: resumable after a hard kill, atomic files, torchrun sharding, manifest."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
CONFIG = 'configs/bokeh_generator/physical_synthetic.py'
SMALL = ['--cfg-options', 'dataset.num_samples=5', 'dataset.img_size=[24,32]']
FILES_PER_SAMPLE = 8  # 7 frames (official tool K sequence) + stack_index.json
#: ``python -c KILL_AFTER N ARGS...`` runs the tool with ARGS and SIGKILLs it just before the (N+1)-th file that
#: ``mmbokeh.utils.io`` renames into place (fault injection stays in the tests, the tool has no hook).
KILL_AFTER = """
import os, runpy, signal, sys
import mmbokeh.utils.io as io_mod

limit = int(sys.argv.pop(1))


class CountingOs:
    done = 0

    def __getattr__(self, name):
        return getattr(os, name)

    def replace(self, src, dst):
        if CountingOs.done >= limit:
            os.kill(os.getpid(), signal.SIGKILL)
        os.replace(src, dst)
        CountingOs.done += 1


io_mod.os = CountingOs()
sys.argv[0] = 'tools/make_bokeh_stacks.py'
runpy.run_path(sys.argv[0], run_name='__main__')
"""


def _run(args, env=None, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1', **(env or {}))
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=env)


def _files(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob('*') if p.is_file()}


def _temporaries(files: dict) -> list:
    return [name for name in files if Path(name).name.startswith('.') and '.tmp' in name]


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp('uninterrupted')
    res = _run(['tools/make_bokeh_stacks.py', CONFIG, '--out', str(out), *SMALL])
    assert res.returncode == 0, res.stderr[-3000:]
    return _files(out)


def test_uninterrupted_run_layout_and_manifest(reference):
    assert len(reference) == 5 * FILES_PER_SAMPLE + 1
    manifest = [json.loads(line) for line in reference['manifest.jsonl'].decode().splitlines()]
    assert [m['sample'] for m in manifest] == [f'train/{i:06d}' for i in range(5)]
    assert manifest[0]['k'] == [1.0, 6.0, 11.0, 16.0, 21.0, 26.0, 30.0]
    assert manifest[0]['bokeh_source'] == 'physical:gt_depth'
    index = json.loads(reference['train/000002/defocus_stack/stack_index.json'])
    assert index['ids'] == [str(i) for i in range(7)] and index['k_values']['6'] == 30.0


def test_killed_mid_run_then_restarted_gives_exactly_the_uninterrupted_files(reference, tmp_path):
    killed_at = 2 * FILES_PER_SAMPLE + 3  # inside the third sample, a frame written but not yet renamed
    res = _run(['-c', KILL_AFTER, str(killed_at), CONFIG, '--out', str(tmp_path), *SMALL])
    assert res.returncode == -9, res.stderr[-3000:]
    partial = _files(tmp_path)
    temporaries = _temporaries(partial)
    assert len(temporaries) == 1  # the file being written when the process died, under a temporary name only
    finals = {k: v for k, v in partial.items() if k not in temporaries}
    assert len(finals) == killed_at
    assert all(reference[name] == data for name, data in finals.items())  # no partial file under a final name
    assert 'train/000002/defocus_stack/stack_index.json' not in finals  # the unfinished sample does not look done
    res = _run(['tools/make_bokeh_stacks.py', CONFIG, '--out', str(tmp_path), *SMALL])
    assert res.returncode == 0, res.stderr[-3000:]
    assert '3 samples written, 2 already finished' in res.stdout
    assert _files(tmp_path) == reference


def test_torchrun_two_cpu_processes_union_equals_single_process(reference, tmp_path):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    res = _run(['-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', str(port),
                'tools/make_bokeh_stacks.py', CONFIG, '--out', str(tmp_path), '--no-progress', *SMALL])
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert 'rank 0: 3 samples written' in res.stdout and 'rank 1: 2 samples written' in res.stdout
    assert _files(tmp_path) == reference


def test_depth_model_prediction_instead_of_ground_truth(tmp_path):
    """Physical stacks from a depth model's own prediction (here an untrained ViT-S): recorded as such."""
    res = _run(['tools/make_bokeh_stacks.py', CONFIG, '--out', str(tmp_path), '--max-samples', '1', '--cfg-options',
                'dataset.num_samples=5', 'dataset.img_size=[28,42]', 'generator.k_values=[10.0,30.0]',
                'generator.backend=physical', 'generator.depth_key=pred_depth', 'generator.focus=2.0',
                'depth_model.config=configs/depth_anything_v2/dav2-s_synthetic.py', 'depth_model.key=pred_depth'])
    assert res.returncode == 0, res.stderr[-3000:]
    index = json.loads((tmp_path / 'train/000000/defocus_stack/stack_index.json').read_text())
    assert index['bokeh_source'] == 'physical:pred_depth' and index['k_values'] == {'0': 10.0, '1': 30.0}
    assert index['depth_model']['config'].endswith('dav2-s_synthetic.py')
    assert len(_files(tmp_path)) == 4  # --max-samples 1: two frames, the index and the manifest


def test_finished_samples_are_recognised_by_the_generators_fixed_k(reference, tmp_path):
    """KSelection.fixed() decides what is finished: other K redo the samples, the same K skip them."""
    for name, data in reference.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    args = ['tools/make_bokeh_stacks.py', CONFIG, '--out', str(tmp_path), '--max-samples', '2', '--no-progress', *SMALL]
    res = _run(args)
    assert res.returncode == 0 and '0 samples written, 2 already finished' in res.stdout, res.stderr[-3000:]
    other = [*args, 'generator.k_range=[5.0,25.0]', 'generator.num_k=3', 'generator.k_values=None']
    for expected in ('2 samples written, 0 already finished', '0 samples written, 2 already finished'):
        res = _run(other)
        assert res.returncode == 0 and expected in res.stdout, (res.stdout + res.stderr)[-3000:]
    index = json.loads((tmp_path / 'train/000001/defocus_stack/stack_index.json').read_text())
    assert index['k_values'] == {'0': 5.0, '1': 15.0, '2': 25.0}
