"""The foundation of ragdistill: the bundled QA world, its generator and the data loaders."""
