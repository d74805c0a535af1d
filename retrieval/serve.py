"""CLI: serve an index directory over HTTP in the `dspy.ColBERTv2` protocol.

    python -m retrieval.serve --index indexes/world --port 8893 [--host 127.0.0.1] [--retriever colbert]

then, in DSPy: `dspy.ColBERTv2(url="http://127.0.0.1:8893/api/search")`. The port is bound before the
index is loaded, so "port in use" is reported at once; either problem is one line on stderr and exit 2.
Admission, limits and the API key are `core.serving.app.ServiceConfig` options; a host other than loopback
needs an API key (`--api-key` or $RAGDISTILL_API_KEY).
"""

from __future__ import annotations

import click

from core.cli import config_command
from core.serving.app import ServiceConfig
from core.serving.guard import check_exposure
from core.serving.runtime import serve_forever
from retrieval.factory import RETRIEVER_NAMES, load_retriever
from retrieval.server import SEARCH_PATH, create_app


@config_command(ServiceConfig)
@click.option("--index", "index_dir", required=True, type=click.Path(), help="Index directory to serve.")
@click.option("--port", default=8893, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--retriever",
    "retriever_name",
    default="colbert",
    show_default=True,
    type=click.Choice(RETRIEVER_NAMES),
    help="Which retriever over the index answers.",
)
def main(index_dir: str, port: int, host: str, retriever_name: str, **service) -> None:
    """Serve INDEX at http://HOST:PORT/api/search (and /health, /metrics, /openapi.json)."""
    config = ServiceConfig(**service)
    check_exposure(host, config.key())
    info = {"retriever": retriever_name, "index": str(index_dir)}
    serve_forever(
        host,
        port,
        lambda: create_app(load_retriever(retriever_name, index_dir), info=info, config=config),
        path=SEARCH_PATH,
    )


if __name__ == "__main__":
    main()
