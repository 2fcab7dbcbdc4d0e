"""The training loop and its parts: settings, loss phases, augmentation, reporting, multi-process."""
