"""The maths on a generator's latents: seeds to images, truncation, interpolation, mixing, SeFa and named
directions, projection."""
