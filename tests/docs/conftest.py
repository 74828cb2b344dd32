"""Counts of the docs blocks that ran, were built, were covered elsewhere or skipped, with each skip's reason, in
the terminal summary of any pytest run that selected them (``python -m pytest tests`` included)."""


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    text = getattr(config, '_docs_summary', None)
    if text:
        terminalreporter.section('docs blocks (tests/docs/docs_runner.py)')
        for line in text.splitlines():
            terminalreporter.write_line(line)
