"""`python train.py ...` in the repository: the training command, gan_core.train (also `gan-train` once installed)."""
from gan_core.train import main

if __name__ == "__main__":
    raise SystemExit(main())
