"""Your image: untrusted uploads decoded safely and framed as the training images."""
