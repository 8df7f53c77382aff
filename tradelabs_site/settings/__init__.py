"""Settings package: `base` (embedded default, read from the environment), `test`, `production`."""
