"""lazy: study how image classifiers take shortcuts on a biased Colored-MNIST."""

__version__ = "0.1.0"
