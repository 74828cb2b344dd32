"""Docs runner: extract the code blocks of ``README.md`` and ``docs/*.md`` and run them, so the docs cannot rot.

    python tests/docs/docs_runner.py [FILES ...] [--json OUT] [--list] [--keep DIR]

Blocks: fenced ```` ```bash ````, ```` ```shell ````, ```` ```sh ```` and ```` ```python ```` blocks, and untagged
fenced blocks whose every line is a command (``python ...``, ``bash ...``, ``torchrun ...``, ``pip ...``) or a
comment. Other fences (diagrams, folder trees, ``text``) are prose. Indented (4-space) code is not extracted.

Shell blocks run command by command (backslash continuations joined) from the root of a temporary working copy of
the repository (``configs/``, ``tools/``, ``demo/``; ``mmbokeh`` is the installed package), one working copy per
page, in page order, so a page's later blocks see what its earlier blocks wrote (``work_dirs/...``). Python blocks
with a top-level ``import`` are executed; the others are configs: loaded with ``Config.fromfile`` and built (below).

A block runs exactly as written unless marker comments stand on the lines right above its opening fence, one
directive per comment::

    <!-- docs-test: skip (REASON) -->                the whole block; the reason is required and reported
    <!-- docs-test: skip-commands 2,3 (REASON) -->   these commands of the block (1-based), reported the same way
    <!-- docs-test: same-as PAGE (REASON) -->        not run again: every command of the block must be, word for word
                                                     (comments and line breaks aside), a command that a block of PAGE
                                                     ran successfully in the same session (PAGE is run too)
    <!-- docs-test: cfg-options K=V ... -->          appended as ``--cfg-options K=V ...`` to every command that runs
                                                     a tool with that flag (tools/train.py, test.py, infer.py,
                                                     dist_train.sh, make_bokeh_stacks.py, browse_dataset.py,
                                                     analysis/stack_sensitivity.py, demo/bokehdepth_demo.py)
    <!-- docs-test: cfg-options[SUBSTR] K=V ... -->  the same, only for commands that contain SUBSTR
                                                     (``@short`` stands for OPTION_SETS['short'] below)
    <!-- docs-test: replace OLD => NEW -->           text substitution in the block before it runs
    <!-- docs-test: image PATH -->                   writes a small test photo (a synthetic room, 160x120) at PATH
    <!-- docs-test: expect-error TEXT -->            every command must fail and print TEXT (FAQ error messages)
    <!-- docs-test: expect-output TEXT -->           every command must succeed and print TEXT
    <!-- docs-test: expect-files PATH ... -->        these files (glob patterns) must exist after the block
    <!-- docs-test: build-only -->                   shell: load each tool command's config with its --cfg-options
                                                     and build it (below) instead of running the tool
    <!-- docs-test: save-as PATH -->                 python config: saved at PATH in the working copy, then built
    <!-- docs-test: prelude NAME -->                 python code: run with the names made by preludes.NAME;
                                                     shell: preludes.NAME writes files first (e.g. tiny_nyu)
    <!-- docs-test: timeout SECONDS -->              per command (default 300)

Building a config: ``model`` with ``MODELS``, every ``*_pipeline`` list with ``TRANSFORMS``, the ``dataset`` of
every ``*_dataloader`` (and a top-level ``dataset``) with ``DATASETS`` plus its first sample, ``*_evaluator`` with
``METRICS`` and a top-level ``generator`` with ``TRANSFORMS``; under the config's ``default_scope``, else
``'mmengine'`` for a complete config (one with ``custom_imports``), else ``'mmbokeh'`` (a fragment of an mmbokeh
config).

``python tools/...`` commands run in a child forked from this process after torch and mmbokeh are imported (the
child gets the command's ``sys.argv``, working directory and a fresh ``__main__``), which saves the interpreter
start-up of every command; other commands run with ``bash -c``. ``OMP_NUM_THREADS`` is 1 unless set.
"""
import argparse
import atexit
import glob
import json
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
COPIED = ('configs', 'tools', 'demo')
SHELL_LANGS = ('bash', 'shell', 'sh', 'console')
COMMAND_STARTS = ('python ', 'python3 ', 'bash ', 'torchrun ', 'pip ', 'sh ')
CFG_OPTION_TOOLS = ('tools/train.py', 'tools/test.py', 'tools/infer.py', 'tools/dist_train.sh',
                    'tools/make_bokeh_stacks.py', 'tools/browse_dataset.py', 'tools/analysis/stack_sensitivity.py',
                    'demo/bokehdepth_demo.py')
SHELL_OPERATORS = {'|', '||', '&&', ';', '&', '>', '>>', '<', '2>', '2>&1'}
DIRECTIVES = ('skip', 'skip-commands', 'same-as', 'cfg-options', 'replace', 'image', 'expect-error', 'expect-output',
              'expect-files', 'build-only',
              'save-as', 'prelude', 'timeout')
MARKER_RE = re.compile(r'^\s*<!--\s*docs-test:\s*(.*?)\s*-->\s*$')
FENCE_RE = re.compile(r'^\s*(`{3,}|~{3,})\s*([\w+-]*)')
DEFAULT_TIMEOUT = 300
#: imported by the runner before it forks the children that run ``python tools/...`` commands
PREIMPORT = ('torch', 'timm', 'cv2', 'mmengine.runner', 'mmbokeh', 'mmbokeh.models', 'mmbokeh.datasets',
             'mmbokeh.evaluation', 'mmbokeh.engine', 'mmbokeh.visualization', 'mmbokeh.apis')
#: ``cfg-options @NAME`` expands to these: two iterations of a synthetic-data demo on a few samples, no workers
#: (training, validation and testing; harmless for tools that do not use a part)
OPTION_SETS = {
    'short': ['train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
              'default_hooks.logger.interval=1', 'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
              'train_dataloader.persistent_workers=False', 'train_dataloader.dataset.num_samples=4',
              'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
              'val_dataloader.dataset.num_samples=2', 'test_dataloader.num_workers=0',
              'test_dataloader.persistent_workers=False', 'test_dataloader.dataset.num_samples=2'],
}


@dataclass
class Command:
    line: int  # 1-based line in the page
    text: str  # as written (continuations joined)
    skip_reason: Optional[str] = None


@dataclass
class Block:
    path: str  # relative to the repository root
    line: int  # 1-based line of the opening fence
    lang: str  # 'shell' | 'python'
    text: str
    directives: List[Tuple[str, str]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f'{self.path}:{self.line}'

    def get(self, name: str) -> List[str]:
        return [arg for key, arg in self.directives if key == name]

    @property
    def skip_reason(self) -> Optional[str]:
        reasons = self.get('skip')
        return _reason(reasons[0]) if reasons else None

    def commands(self, as_written: bool = False) -> List[Command]:
        """Logical shell commands: continuation lines joined, blank and comment lines dropped, markers applied
        (``replace`` only unless ``as_written``)."""
        text = self.text
        for rule in [] if as_written else self.get('replace'):
            old, new = rule.split('=>', 1)
            text = text.replace(old.strip(), new.strip())
        out, pending, start = [], '', 0
        for i, raw in enumerate(text.splitlines()):
            if not pending and (not raw.strip() or raw.strip().startswith('#')):
                continue
            start = start if pending else self.line + 1 + i
            if raw.rstrip().endswith('\\'):
                pending += raw.rstrip()[:-1] + ' '
                continue
            out.append(Command(start, (pending + raw).strip()))
            pending = ''
        if pending:
            out.append(Command(start, pending.strip()))
        for arg in self.get('skip-commands'):
            numbers, reason = arg.split('(', 1)[0], _reason(arg)
            for n in re.findall(r'\d+', numbers):
                out[int(n) - 1].skip_reason = reason
        return out


@dataclass
class Result:
    id: str
    path: str
    line: int
    lang: str
    status: str  # 'ran' | 'built' | 'covered' | 'skipped' | 'failed'
    reason: str = ''
    seconds: float = 0.0
    commands: List[dict] = field(default_factory=list)


def _reason(arg: str) -> str:
    match = re.search(r'\((.*)\)\s*$', arg)
    return match.group(1).strip() if match else ''


def doc_files(root: Path = ROOT) -> List[Path]:
    return [root / 'README.md'] + sorted((root / 'docs').glob('*.md'))


def parse(path: Path, root: Path = ROOT) -> Tuple[List[Block], List[str]]:
    """The runnable blocks of a page and the problems of its markers (unknown directive, missing reason, a marker
    that no block follows)."""
    rel = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    lines = path.read_text(encoding='utf-8').splitlines()
    blocks, problems, markers = [], [], []
    i = 0
    while i < len(lines):
        marker = MARKER_RE.match(lines[i])
        if marker:
            key, _, arg = marker.group(1).partition(' ')
            base = key.split('[', 1)[0]
            if base not in DIRECTIVES:
                problems.append(f'{rel}:{i + 1}: unknown docs-test directive {key!r} (known: {", ".join(DIRECTIVES)})')
            elif base in ('skip', 'skip-commands') and not _reason(arg):
                problems.append(f'{rel}:{i + 1}: {base} needs a reason in parentheses')
            markers.append((i + 1, key, arg.strip()))
            i += 1
            continue
        fence = FENCE_RE.match(lines[i])
        if not fence:
            if markers and lines[i].strip():
                problems.append(f'{rel}:{markers[0][0]}: docs-test marker not directly above a code block')
                markers = []
            i += 1
            continue
        close = re.compile(r'^\s*' + fence.group(1)[0] + '{' + str(len(fence.group(1))) + r',}\s*$')
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        body = '\n'.join(lines[i + 1:j])
        lang = fence.group(2).lower()
        if lang in SHELL_LANGS:
            kind = 'shell'
        elif lang in ('python', 'py'):
            kind = 'python'
        elif not lang and _all_commands(body):
            kind = 'shell'
        else:
            kind = None
        if kind is not None:
            blocks.append(Block(rel, i + 1, kind, body, [(k, a) for _, k, a in markers]))
        elif markers:
            problems.append(f'{rel}:{markers[0][0]}: docs-test marker above a {lang or "untagged"} block that is not '
                            'run')
        markers = []
        i = j + 1
    if markers:
        problems.append(f'{rel}:{markers[0][0]}: docs-test marker at the end of the page')
    return blocks, problems


def _all_commands(body: str) -> bool:
    lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
    if not lines:
        return False
    continued = False
    for ln in lines:
        if not continued and not ln.startswith('#') and not ln.startswith(COMMAND_STARTS):
            return False
        continued = ln.endswith('\\')
    return True


def collect(root: Path = ROOT, files: Optional[List[Path]] = None) -> Tuple[List[Block], List[str]]:
    blocks, problems = [], []
    for path in files or doc_files(root):
        b, p = parse(path, root)
        blocks += b
        problems += p
    return blocks, problems


# ----------------------------------------------------------------------------------------------------------- running
def _judge(block: Block, code: int, log: Path) -> Tuple[bool, str]:
    """(passed, why not) for a command or python block that exited with ``code`` and printed ``log``."""
    text = log.read_text(errors='replace') if log.exists() else ''
    errors, outputs = block.get('expect-error'), block.get('expect-output')
    if errors:
        missing = [e for e in errors if e not in text]
        if code == 0 or missing:
            return False, f'expected a failure printing {missing or errors!r}, got exit code {code}'
        return True, ''
    if code != 0:
        return False, f'exit code {code}' + (' (timed out)' if code == 124 else '')
    missing = [e for e in outputs if e not in text]
    return (False, f'the output lacks {missing!r}') if missing else (True, '')


def _cfg_options_for(block: Block, command: str) -> List[str]:
    if not any(tool in command for tool in CFG_OPTION_TOOLS):
        return []
    opts = []
    for key, arg in block.directives:
        if key == 'cfg-options' or (key.startswith('cfg-options[') and key[len('cfg-options['):-1] in command):
            for token in shlex.split(arg):
                opts += OPTION_SETS[token[1:]] if token.startswith('@') else [token]
    return opts


def _prepare(block: Block, command: str) -> Tuple[List[str], Optional[str]]:
    """(argv of a ``python script.py`` command to fork, or None; the text for ``bash -c`` otherwise)."""
    tokens = shlex.split(command, comments=True)
    extra = _cfg_options_for(block, command)
    plain = not any(t in SHELL_OPERATORS or t.startswith(('>', '2>', '$(')) for t in tokens)
    if extra:
        if not plain:
            raise ValueError(f'cannot append --cfg-options to a command with shell operators: {command}')
        tokens = tokens + ['--cfg-options'] + extra
    if plain and len(tokens) >= 2 and tokens[0] in ('python', 'python3') and tokens[1].endswith('.py'):
        return tokens[1:], None
    return [], shlex.join(tokens) if extra else command


def _env() -> Dict[str, str]:
    env = dict(os.environ)
    env.setdefault('OMP_NUM_THREADS', '1')
    env['PATH'] = os.path.dirname(sys.executable) + os.pathsep + env.get('PATH', '')
    env.pop('PYTHONPATH', None)
    return env


def _wait(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            return 124
        time.sleep(0.05)


def _in_child(func, cwd: Path, log: Path, timeout: float) -> int:
    """Run ``func()`` in a forked child (own process group, cwd, stdout and stderr into ``log``); its exit code."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            os.setpgid(0, 0)
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.chdir(cwd)
            code = func()
        except SystemExit as err:
            if err.code is None or isinstance(err.code, int):
                code = err.code or 0
            else:
                print(err.code, file=sys.stderr)
                code = 1
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            try:
                atexit._run_exitfuncs()
                logging.shutdown()
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code if isinstance(code, int) else 1)
    return _wait(pid, timeout)


def _run_script(argv: List[str]):
    def run() -> int:
        import runpy
        script = os.path.abspath(argv[0])
        sys.argv = list(argv)
        sys.path[0] = os.path.dirname(script)
        runpy.run_path(script, run_name='__main__')
        return 0
    return run


def _tail(log: Path, n: int = 3000) -> str:
    text = log.read_text(errors='replace') if log.exists() else ''
    return text[-n:]


def run_command(block: Block, cmd: Command, cwd: Path, logs: Path, index: int) -> dict:
    timeout = float(block.get('timeout')[0]) if block.get('timeout') else DEFAULT_TIMEOUT
    log = logs / f'{block.path.replace("/", "_")}_{cmd.line}_{index}.log'
    start = time.monotonic()
    try:
        argv, shell = _prepare(block, cmd.text)
    except ValueError as err:
        return dict(line=cmd.line, command=cmd.text, status='failed', seconds=0.0, output=str(err))
    if block.get('build-only'):
        code = _in_child(lambda: build_tool_command(argv or shlex.split(shell, comments=True)[1:]), cwd, log, timeout)
    elif argv:
        code = _in_child(_run_script(argv), cwd, log, timeout)
    else:
        with open(log, 'w') as f:
            try:
                code = subprocess.run(['bash', '-c', shell], cwd=cwd, env=_env(), stdout=f, stderr=subprocess.STDOUT,
                                      timeout=timeout, start_new_session=True).returncode
            except subprocess.TimeoutExpired:
                code = 124
    output = _tail(log)
    ok, note = _judge(block, code, log)
    shown = shlex.join(argv) if argv else shell
    return dict(line=cmd.line, command=cmd.text, ran=('python ' + shown) if argv else shown,
                status='ok' if ok else 'failed', seconds=round(time.monotonic() - start, 1), note=note,
                output=output if not ok else output[-600:])


def _scope_for(cfg) -> str:
    if cfg.get('default_scope'):
        return cfg.default_scope
    return 'mmengine' if 'custom_imports' in cfg else 'mmbokeh'


def build_config(cfg) -> List[str]:
    """Build what a config defines (see the module docstring); returns what was built."""
    import torch  # noqa: F401
    from mmengine.registry import DATASETS, METRICS, MODELS, TRANSFORMS, DefaultScope
    built = []
    with DefaultScope.overwrite_default_scope(_scope_for(cfg)):
        if 'model' in cfg:
            model = MODELS.build(cfg.model)
            built.append(f'model {type(model).__name__} '
                         f'({sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters)')
        for key in sorted(cfg.keys()):
            value = cfg[key]
            if key.endswith('_pipeline') and isinstance(value, list):
                names = [type(TRANSFORMS.build(t)).__name__ for t in value]
                built.append(f'{key}: {", ".join(names)}')
            elif key.endswith('_dataloader') and isinstance(value, dict) and isinstance(value.get('dataset'), dict):
                dataset = DATASETS.build(value['dataset'])
                sample = dataset[0]
                built.append(f'{key}.dataset {type(dataset).__name__}: {len(dataset)} samples, sample 0 keys '
                             f'{sorted(sample) if isinstance(sample, dict) else type(sample).__name__}')
            elif key.endswith('_evaluator') and value:
                for metric in value if isinstance(value, list) else [value]:
                    built.append(f'{key}: {type(METRICS.build(metric)).__name__}')
        if isinstance(cfg.get('dataset'), dict):
            dataset = DATASETS.build(cfg.dataset)
            built.append(f'dataset {type(dataset).__name__}: {len(dataset)} samples')
        if isinstance(cfg.get('generator'), dict):
            built.append(f'generator {type(TRANSFORMS.build(cfg.generator)).__name__}')
    if not built:
        raise ValueError('the config defines nothing to build (model, *_pipeline, *_dataloader, *_evaluator, '
                         'dataset, generator)')
    return built


def build_tool_command(args: List[str]) -> int:
    """``tools/<tool>.py CONFIG ... --cfg-options ...``: the config loaded with the options merged; then the model, the
    datasets of the dataloaders the options touch, and one ``loss`` forward of the model on two training samples."""
    from mmengine.config import Config, DictAction
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DATASETS, MODELS, DefaultScope
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    known, _ = parser.parse_known_args(args[1:])
    cfg = Config.fromfile(known.config)
    cfg.merge_from_dict(known.cfg_options)
    loaders = {k.split('.')[0] for k in known.cfg_options if k.split('.')[0].endswith('_dataloader')}
    with DefaultScope.overwrite_default_scope(_scope_for(cfg)):
        model = MODELS.build(cfg.model)
        print(f'built model {type(model).__name__} ({sum(p.numel() for p in model.parameters()) / 1e6:.2f} M '
              'parameters)')
        datasets = {name: DATASETS.build(cfg[name].dataset) for name in sorted(loaders | {'train_dataloader'})
                    if isinstance(cfg.get(name), dict)}
        for name, dataset in datasets.items():
            sample = dataset[0]
            print(f'built {name}.dataset {type(dataset).__name__}: {len(dataset)} samples, inputs '
                  f"{ {k: tuple(v.shape) for k, v in sample['inputs'].items()} }")
        if 'train_dataloader' in datasets:
            import torch
            dataset = datasets['train_dataloader']
            model.train()
            data = model.data_preprocessor(pseudo_collate([dataset[0]]), True)
            with torch.no_grad():
                losses = model(**data, mode='loss')
            print('loss forward:', ', '.join(f'{k} {float(sum(v) if isinstance(v, list) else v):.4f}'
                                             for k, v in losses.items() if 'loss' in k))
    return 0


def _prelude(name: str):
    sys.path.insert(0, str(Path(__file__).parent))
    import preludes
    return getattr(preludes, name.split()[0])


def run_python(block: Block, cwd: Path, logs: Path) -> dict:
    log = logs / f'{block.path.replace("/", "_")}_{block.line}.log'
    text = block.text
    for rule in block.get('replace'):
        old, new = rule.split('=>', 1)
        text = text.replace(old.strip(), new.strip())
    is_code = bool(block.get('prelude')) or re.search(r'^(import |from \S+ import )', text, re.M) is not None
    timeout = float(block.get('timeout')[0]) if block.get('timeout') else DEFAULT_TIMEOUT

    def child() -> int:
        if is_code:
            namespace = {'__name__': '__main__'}
            for name in block.get('prelude'):
                namespace.update(_prelude(name)(Path.cwd()))
            exec(compile(text, f'{block.id}', 'exec'), namespace)
            return 0
        from mmengine.config import Config
        target = Path(block.get('save-as')[0] if block.get('save-as') else f'.docs_block_{block.line}.py')
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text + '\n')
        for line in build_config(Config.fromfile(str(target))):
            print('built', line)
        return 0

    start = time.monotonic()
    code = _in_child(child, cwd, log, timeout)
    ok, note = _judge(block, code, log)
    return dict(line=block.line, command=f'python block ({"code" if is_code else "config"})',
                status='ok' if ok else 'failed', seconds=round(time.monotonic() - start, 1), note=note,
                output=_tail(log) if not ok else _tail(log, 600), kind='code' if is_code else 'config')


def write_image(path: Path) -> None:
    """A 160x120 photo-like test image: a rendered synthetic room (BGR, written by OpenCV)."""
    import cv2

    from mmbokeh.datasets.synthetic_scene import render_scene
    img, _, _ = render_scene(7, img_size=(120, 160))
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img[:, :, ::-1])


def make_working_copy(root: Path, dest: Path) -> Path:
    import shutil
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        shutil.copytree(root / name, dest / name, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    return dest


def run_block(block: Block, cwd: Path, logs: Path) -> Result:
    res = Result(block.id, block.path, block.line, block.lang, 'ran')
    if block.skip_reason is not None:
        res.status, res.reason = 'skipped', block.skip_reason
        return res
    start = time.monotonic()
    for path in block.get('image'):
        write_image(cwd / path.split()[0])
    if block.lang == 'shell':
        for name in block.get('prelude'):
            _prelude(name)(cwd)
    if block.lang == 'python':
        out = run_python(block, cwd, logs)
        res.commands.append(out)
        res.status = 'failed' if out['status'] == 'failed' else ('ran' if out['kind'] == 'code' else 'built')
    else:
        skipped = []
        for i, cmd in enumerate(block.commands()):
            if cmd.skip_reason:
                skipped.append(f'command {i + 1} (line {cmd.line}): {cmd.skip_reason}')
                res.commands.append(dict(line=cmd.line, command=cmd.text, status='skipped', note=cmd.skip_reason))
                continue
            out = run_command(block, cmd, cwd, logs, i)
            res.commands.append(out)
            if out['status'] == 'failed':
                res.status = 'failed'
                break
        if res.status != 'failed':
            res.status = 'built' if block.get('build-only') else 'ran'
            if skipped and len(skipped) == len(res.commands):
                res.status = 'skipped'
            res.reason = '; '.join(skipped)
    if res.status in ('ran', 'built'):
        for pattern in ' '.join(block.get('expect-files')).split():
            if not glob.glob(str(cwd / pattern)):
                res.status = 'failed'
                res.commands.append(dict(line=block.line, command=f'expect-files {pattern}', status='failed',
                                         note=f'no file matches {pattern} after the block', output=''))
    res.seconds = round(time.monotonic() - start, 1)
    return res


def _normalise(command: str) -> str:
    return ' '.join(shlex.split(command, comments=True))


def covered_by(block: Block, blocks: List[Block], results: List[Result]) -> Result:
    """The result of a ``same-as PAGE`` block: 'covered' if each of its commands ran successfully in a block of PAGE
    (run in this session: :func:`run_all` adds it), 'failed' naming the first that did not."""
    page = block.get('same-as')[0].split('(')[0].strip()
    ran = {r.id for r in results if r.path == page and r.status == 'ran'}
    res = Result(block.id, block.path, block.line, block.lang, 'covered', reason=f'same commands as {page}')
    if not any(r.path == page for r in results):
        res.status = 'failed'
        res.commands.append(dict(line=block.line, command=f'same-as {page}', status='failed', output='',
                                 note=f'{page} was not run in this session (no such page?)'))
        return res
    done = {_normalise(c.text) for b in blocks if b.id in ran for c in b.commands(as_written=True)}
    for cmd in block.commands(as_written=True):
        if _normalise(cmd.text) not in done:
            res.status = 'failed'
            res.commands.append(dict(line=cmd.line, command=cmd.text, status='failed', output='',
                                     note=f'same-as {page}: no block of {page} ran this command successfully'))
            break
    return res


def failure_message(res: Result) -> str:
    bad = next((c for c in res.commands if c['status'] == 'failed'), {})
    return (f"{res.path}:{bad.get('line', res.line)}: docs block failed: {bad.get('command', '')}\n"
            f"  ran: {bad.get('ran', bad.get('command', ''))}\n  {bad.get('note', '')}\n"
            f"--- output (tail) ---\n{bad.get('output', '')}")


def run_all(files: Optional[List[Path]] = None, keep: Optional[Path] = None) -> Tuple[List[Result], List[str]]:
    blocks, problems = collect(ROOT, files)
    if files:  # the pages that `same-as` blocks point to run too (after the others)
        extra = {ROOT / b.get('same-as')[0].split('(')[0].strip() for b in blocks if b.get('same-as')}
        extra = [p for p in sorted(extra) if p.resolve() not in {f.resolve() for f in files}]
        if extra:
            more, more_problems = collect(ROOT, extra)
            blocks, problems = blocks + more, problems + more_problems
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    import importlib
    for module in PREIMPORT:  # imported once, before the children fork
        importlib.import_module(module)
    base = keep or Path(tempfile.mkdtemp(prefix='mmbokeh_docs_'))
    results, deferred, works = [], [], {}

    def record(res: Result) -> None:
        results.append(res)
        flag = {'failed': 'FAILED', 'skipped': 'skipped'}.get(res.status, res.status)
        print(f'[docs] {res.id} {flag} ({res.seconds:.1f} s){": " + res.reason if res.reason else ""}', flush=True)
        if res.status == 'failed':
            print(failure_message(res), flush=True)

    for page in dict.fromkeys(b.path for b in blocks):
        works[page] = make_working_copy(ROOT, base / page.replace('/', '_').replace('.md', ''))
        (works[page] / '.docs_logs').mkdir(exist_ok=True)
        for block in (b for b in blocks if b.path == page):
            if block.get('same-as') and block.skip_reason is None:
                deferred.append(block)
                continue
            record(run_block(block, works[page], works[page] / '.docs_logs'))
    for block in deferred:
        record(covered_by(block, blocks, results))
    if keep is None:
        import shutil
        shutil.rmtree(base, ignore_errors=True)
    return results, problems


def summary(results: List[Result]) -> str:
    count = {s: sum(r.status == s for r in results) for s in ('ran', 'built', 'covered', 'skipped', 'failed')}
    lines = [f"docs blocks: {count['ran']} ran, {count['built']} built, {count['covered']} covered by the same "
             f"commands elsewhere, {count['skipped']} skipped, {count['failed']} failed "
             f"({sum(r.seconds for r in results):.0f} s)"]
    for r in results:
        if r.status == 'skipped':
            lines.append(f'  skipped {r.id}: {r.reason}')
        elif r.status == 'covered':
            lines.append(f'  covered {r.id}: {r.reason}')
        elif r.reason:
            lines.append(f'  partly skipped {r.id}: {r.reason}')
    return '\n'.join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('files', nargs='*', help='pages (default: README.md and docs/*.md)')
    parser.add_argument('--json', help='write the results here')
    parser.add_argument('--list', action='store_true', help='list the blocks and their markers; run nothing')
    parser.add_argument('--keep', help='keep the working copies in this folder')
    args = parser.parse_args()
    files = [Path(f).resolve() for f in args.files] or None
    if args.list:
        blocks, problems = collect(ROOT, files)
        for b in blocks:
            print(b.id, b.lang, b.skip_reason and f'skip: {b.skip_reason}' or '', b.directives)
        print('\n'.join(problems))
        return 1 if problems else 0
    results, problems = run_all(files, Path(args.keep) if args.keep else None)
    print(summary(results))
    for p in problems:
        print('marker problem:', p)
    if args.json:
        Path(args.json).write_text(json.dumps(dict(results=[asdict(r) for r in results], problems=problems),
                                              indent=1))
    return 1 if problems or any(r.status == 'failed' for r in results) else 0


if __name__ == '__main__':
    sys.exit(main())
