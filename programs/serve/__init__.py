"""The distilled program as an HTTP QA service (`service`); `python -m programs.serve runs/<name>` (`__main__.py`)."""
