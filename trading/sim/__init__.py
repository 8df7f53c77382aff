"""The simulated venue: a deterministic US equity market and a paper broker with its own books."""
