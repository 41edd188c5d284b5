"""memb: Model-Embedding Model-Based Reinforcement Learning (MEMB) in JAX."""

__version__ = "0.1.0"
