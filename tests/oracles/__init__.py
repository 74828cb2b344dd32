"""Independent functional re-statements of official forwards (Depth Anything V2, BokehDepth DSFA), used as oracles.

Tests get them through the ``dav2_oracle`` and ``dsfa_oracle`` fixtures of ``tests/conftest.py``.
"""
