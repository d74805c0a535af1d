"""The foundation of ragdistill: the bundled QA world, data loaders, the offline model kit, errors."""
