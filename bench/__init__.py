"""Benchmarks (`make bench`): ratios measured in one run on this machine; figures go in the README."""
