"""The support contract as code: the model, its loader and the questions services ask of it."""

from shared.contract.model import (
    Contract,
    ContractError,
    Party,
    SlaTarget,
    SupportObject,
    load_contract,
)

__all__ = ["Contract", "ContractError", "Party", "SlaTarget", "SupportObject", "load_contract"]
