"""Session-scoped pytest fixtures: data."""
