"""Problems with known answers, for testing and benchmarking optimizers."""
