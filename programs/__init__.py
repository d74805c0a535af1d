"""ragdistill: programs package."""
