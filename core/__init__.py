"""What every ragdistill package may use: user-facing errors, atomic writes, the config-to-CLI helper, logging."""
