"""Every shell command and config block of README.md and docs/*.md runs (docs_runner.py; markers in its docstring).

One test per block, named by its page and line. The runner runs in one subprocess for all selected pages (it forks
the ``python tools/...`` commands from a process that has imported torch and mmbokeh once); each test then reports
its block: passed, failed (naming file, line and command, with the output), or skipped with the marker's reason
(listed by ``-rA``/``-rs``; the terminal summary counts ran / built / covered / skipped blocks).
"""
import json
import os
import subprocess
import sys

import docs_runner
import pytest

BLOCKS, PROBLEMS = docs_runner.collect()
RUNNER_TIMEOUT = 1200


def test_markers_are_valid():
    assert not PROBLEMS, '\n'.join(PROBLEMS)


def test_every_page_is_covered():
    """Every page has runnable blocks or none; every page is in the README's docs index."""
    readme = (docs_runner.ROOT / 'README.md').read_text()
    missing = [p.name for p in docs_runner.doc_files()[1:] if f'docs/{p.name}' not in readme]
    assert not missing, f'pages missing from the README index: {missing}'


@pytest.fixture(scope='session')
def docs_results(request, tmp_path_factory):
    selected = {item.callspec.params['block'].path for item in request.session.items
                if item.name.startswith('test_block[') and hasattr(item, 'callspec')}
    pages = sorted(selected)
    # a page whose blocks are `same-as` another page needs that page in the same session
    for block in BLOCKS:
        if block.path in selected and block.get('same-as'):
            page = block.get('same-as')[0].split('(')[0].strip()
            if page not in pages:
                pages.append(page)
    out = tmp_path_factory.mktemp('docs') / 'results.json'
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'))
    proc = subprocess.run([sys.executable, str(docs_runner.ROOT / 'tests/docs/docs_runner.py'), '--json', str(out),
                           *[str(docs_runner.ROOT / p) for p in pages]],
                          cwd=docs_runner.ROOT, env=env, capture_output=True, text=True, timeout=RUNNER_TIMEOUT)
    if not out.exists():
        pytest.fail(f'the docs runner crashed (exit code {proc.returncode}):\n{proc.stdout[-3000:]}\n'
                    f'{proc.stderr[-3000:]}')
    data = json.loads(out.read_text())
    results = {r['id']: docs_runner.Result(**r) for r in data['results']}
    request.config._docs_summary = docs_runner.summary([r for r in results.values() if r.path in selected])
    return results


@pytest.mark.parametrize('block', BLOCKS, ids=[b.id for b in BLOCKS])
def test_block(block, docs_results):
    res = docs_results.get(block.id)
    assert res is not None, f'{block.id}: the runner did not report this block'
    if res.status == 'skipped':
        pytest.skip(f'{block.id}: {res.reason}')
    if res.status == 'failed':
        pytest.fail(docs_runner.failure_message(res), pytrace=False)


def test_runner_names_file_line_and_command_of_a_failure(tmp_path):
    page = tmp_path / 'page.md'
    page.write_text('\n'.join([
        '# A page', '', '```bash', 'python -c "print(1)"   # fine', 'python -c "import sys; sys.exit(3)"', '```', '',
        '<!-- docs-test: skip -->', '```bash', 'echo never', '```', '', '<!-- docs-test: bogus x -->', 'prose', '',
        '<!-- docs-test: expect-error boom -->', '```bash', 'python -c "print(2)"', '```', '']))
    blocks, problems = docs_runner.parse(page)
    assert [b.line for b in blocks] == [3, 9, 17]
    assert any(':8: skip needs a reason' in p for p in problems)
    assert any(":13: unknown docs-test directive 'bogus'" in p for p in problems)
    (tmp_path / 'logs').mkdir()
    res = docs_runner.run_block(blocks[0], tmp_path, tmp_path / 'logs')
    assert res.status == 'failed' and [c['status'] for c in res.commands] == ['ok', 'failed']
    message = docs_runner.failure_message(res)
    assert message.startswith(f'{page}:5: docs block failed: python -c "import sys; sys.exit(3)"')
    assert 'exit code 3' in message
    res = docs_runner.run_block(blocks[2], tmp_path, tmp_path / 'logs')
    assert res.status == 'failed' and "expected a failure printing ['boom']" in docs_runner.failure_message(res)
