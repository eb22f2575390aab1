"""Shared set-up of the hidden checks (instructor only).

The ``student`` fixture (the submission's functions, called in its sandboxed
kernel; results come back as arrays), the ``rng`` fixture (seeded from the
check's name) and the ``points`` marker come from ``ml4p.grading.plugin``.
Each ``test_<part>.py`` grades the notebook part whose hidden-check cell has
grade id ``<part>``; a check's docstring is its name in the feedback.
"""
import sys
from pathlib import Path

pytest_plugins = ["ml4p.grading.plugin"]

# The NumPy oracles: ``from solutions import coulomb_gas``.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
