"""Data family: MNIST loading, colouring, splits, stored datasets."""
