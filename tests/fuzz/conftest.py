"""Hypothesis settings of the fuzz tests (``tests/fuzz``).

Seed policy: the ``fuzz-ci`` profile is loaded here with ``derandomize=True``: hypothesis then derives every example
from the test's own source instead of a random seed, so each run (locally and in CI) tries the same cases and a
failure reproduces as is, with hypothesis printing the falsifying example. ``database=None`` keeps runs independent
of a local ``.hypothesis`` folder. ``deadline=None``: the first call of a component may build caches.
Set ``MMBOKEH_FUZZ_PROFILE=fuzz-dev`` to explore with fresh random examples (and more of them); hypothesis then
prints the seed to rerun a failure with (``--hypothesis-seed=<seed>``).
"""
import os

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
settings.register_profile('fuzz-ci', derandomize=True, max_examples=100, **_COMMON)
settings.register_profile('fuzz-dev', derandomize=False, max_examples=1000, **_COMMON)
settings.load_profile(os.environ.get('MMBOKEH_FUZZ_PROFILE', 'fuzz-ci'))
