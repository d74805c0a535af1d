"""ragdistill: optimizers package."""
