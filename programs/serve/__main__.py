"""`python -m programs.serve runs/<name>`: serve a compiled run over HTTP (options generated from `ServeConfig`).

`--processes N` serves from N worker processes (uvicorn's supervisor), each loading the run read-only.
The port is bound before the model loads, so "port in use" is reported at once; bad input is one line on
stderr and exit status 2. A host other than loopback needs an API key (`--api-key` or $RAGDISTILL_API_KEY).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import click

from core.cli import config_command
from core.serving.guard import check_exposure, redact_key
from core.serving.runtime import serve_forever
from programs.rundir import read_run_manifest
from programs.serve.service import ServeConfig, build_service_app


@config_command(ServeConfig)
@click.argument("run_dir", type=click.Path(path_type=Path))
def main(run_dir: Path, **options) -> None:
    """Serve the distilled program compiled in RUN_DIR at http://HOST:PORT/v1/answer."""
    config = ServeConfig(**options)
    check_exposure(config.host, config.key())
    info = {
        "run": str(run_dir.resolve()),
        "retriever": redact_key(config.retriever or "run's own"),
        "lm": config.lm or "in-process",
    }
    read_run_manifest(run_dir)  # a bad run is one error line here, not a failure in each worker
    build_app = partial(build_service_app, run_dir, config, info)
    serve_forever(config.host, config.port, build_app, path="/v1/answer", processes=config.processes)


if __name__ == "__main__":
    main()
