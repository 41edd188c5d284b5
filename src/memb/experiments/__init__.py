"""Experiments and reporting: presets and run configuration (grids, plots and tables come later).

Uses training/; nothing below imports from here.
"""

from memb.experiments.presets import PAPER, UNCERTAIN, Preset, paper_preset
from memb.experiments.runs import read_config_file, resolve

__all__ = ["PAPER", "UNCERTAIN", "Preset", "paper_preset", "read_config_file", "resolve"]
