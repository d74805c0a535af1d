"""ragdistill: retrieval package."""
