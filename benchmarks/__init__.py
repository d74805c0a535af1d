"""ragdistill benchmarks: scripts that print JSON figures (`python -m benchmarks.<name> --help`)."""
