"""The NumPy golden model: the one definition of the accelerator's integer arithmetic."""
