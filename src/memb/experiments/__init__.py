"""Experiments and reporting: presets, run configuration, grids of runs (local pool or Ray), curves and tables.

Uses training/; nothing below imports from here.
"""

from memb.experiments.presets import PAPER, UNCERTAIN, Preset, paper_preset
from memb.experiments.runs import read_config_file, resolve

__all__ = ["PAPER", "UNCERTAIN", "Preset", "paper_preset", "read_config_file", "resolve"]
