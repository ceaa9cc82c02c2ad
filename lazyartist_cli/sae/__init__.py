"""Sparse autoencoder family: SAEs on cached activations, feature labels, interventions."""

from .model import SAE_KINDS, SparseAutoencoder

__all__ = ["SAE_KINDS", "SparseAutoencoder"]
