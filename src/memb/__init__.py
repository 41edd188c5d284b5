"""memb: Model-Embedding Model-Based Reinforcement Learning (MEMB) in JAX.

`from memb import Agent` gives the Python API (memb.api); importing memb alone loads nothing heavy.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "Agent":
        from memb.api import Agent

        return Agent
    raise AttributeError(f"module 'memb' has no attribute {name!r}")
