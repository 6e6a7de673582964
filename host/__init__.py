"""Host side: the `sbf` command line, the accelerator driver and its backends."""
