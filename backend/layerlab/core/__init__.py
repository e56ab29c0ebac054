"""Pure PyTorch/NumPy training code: no processes, no HTTP."""
