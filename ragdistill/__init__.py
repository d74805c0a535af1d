"""The `ragdistill` command (`ragdistill.cli`): one front door to every entry point.

The library itself lives in its rooms (`programs`, `retrieval`, `finetune`, ...; see docs/architecture.md); from
Python, `from programs import load_program` loads a compiled run.
"""
