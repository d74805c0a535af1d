"""Session-scoped pytest fixtures: models."""
