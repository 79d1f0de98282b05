"""Benchmarks that print ratios against the hand-written Keras (or tool) equivalent.

Run all: ``python -m bench``; one: ``python -m bench startup``. Figures go to
docs/benchmarks.md together with the command that produced them.
"""
