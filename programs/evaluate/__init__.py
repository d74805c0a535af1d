"""Evaluation of a compiled run: every system on the same questions (`evaluation`), scoring, the report.

`python -m programs.evaluate runs/<name>` runs it (`__main__.py`).
"""
