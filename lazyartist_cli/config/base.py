"""The base of every section model, and the defaults several sections share."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    # NaN and infinity are refused in every float option (TOML and --set read `nan` and `inf`): a bound such as
    # gt=0 lets inf through, and NaN compares false with every bound
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    def differs(self, name: str) -> bool:
        """Whether option ``name`` holds another value than its default: an option that another option makes
        unused is an error only then (ignoring a default changes nothing; the example run file lists them all)."""
        return getattr(self, name) != type(self).model_fields[name].get_default(call_default_factory=True)


RGB = tuple[int, int, int]

# The colour-blind oracle's learning rate: of the two values {1e-3, 3e-3}, the one with the higher easy-val
# accuracy on one seed (seed 0); a reference is trained at the better of the rates tried, or a strategy could pass
# it through its learning rate alone. Not a sweep: the oracle is a colour-blind reference, not a shown ceiling.
ORACLE_LR = 3e-3

# Images per batch, training and inference alike (the default of every batch_size option): on a 2-core
# CPU a 128-image batch of lazy-cnn keeps its activations in cache (models.INFERENCE_BATCH is the same
# number for the method packages, which do not import this module; a test checks that they agree).
BATCH = 128
