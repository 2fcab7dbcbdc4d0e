"""GAN Studio core library: models, checkpoints, sampling, data, training and metrics."""
