"""`make bench`: the benchmark sections and their runner (see run.py)."""
