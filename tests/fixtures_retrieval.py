"""Session-scoped pytest fixtures: retrieval."""
