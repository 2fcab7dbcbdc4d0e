"""Files on disk and on the Hub: crash-safe writes, the checkpoint format, training state, the model registry."""
