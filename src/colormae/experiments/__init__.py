"""Multi-step experiments built from the library: the demo, and the paper's sweeps."""
