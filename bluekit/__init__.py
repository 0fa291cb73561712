"""bluekit: a notebook-first research kit for BLUE (RL-trained, embedding-aligned user profiles)."""
__version__ = "0.1.0"
