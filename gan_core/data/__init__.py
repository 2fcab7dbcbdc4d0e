"""Training images: folders, zips, MNIST files and torchvision sets, in memory or streamed."""
