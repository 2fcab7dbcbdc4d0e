"""How good a generator is: FID, KID, precision / recall, and digit accuracy for MNIST."""
