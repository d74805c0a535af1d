"""ragdistill: finetune package."""
