"""Throughput benchmark of the pipeline's stages against their baselines: ``make bench``."""
