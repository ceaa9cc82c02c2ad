"""Interpretability family: colour reliance, counterfactual recolouring (more to come: gradcam, actmax)."""
