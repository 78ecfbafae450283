"""The support contract as code: the model, its loader, lint, appendix and drill.

Services use ``load_contract`` and the ``Contract`` methods; the CLI adds lint, the appendix
and the drill. See docs/contract.md for the file format and the lint codes.
"""

from shared.contract.model import (
    Contract,
    ContractError,
    Criticality,
    Environment,
    ObjectKind,
    Party,
    Period,
    ResolvedSla,
    SlaTarget,
    SupportObject,
    contract_hash,
    load_contract,
)

__all__ = [
    "Contract",
    "ContractError",
    "Criticality",
    "Environment",
    "ObjectKind",
    "Party",
    "Period",
    "ResolvedSla",
    "SlaTarget",
    "SupportObject",
    "contract_hash",
    "load_contract",
]
