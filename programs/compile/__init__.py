"""The compile pipeline: settings (`config`), the stages and the pipeline; it writes `programs.rundir` run directories.

`python -m programs.compile` runs it (`__main__.py`); `programs.compile.pipeline.compile_run(config)` from Python.
"""
