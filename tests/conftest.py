"""Fixtures shared by every test folder."""
import pytest
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
