"""`baton contract publish` says which parties of the new contract this deployment has no
credentials for, and what to run: they would get 401/403 until then (issue 23, item 6)."""

from __future__ import annotations

from pathlib import Path

from baton import credentials
from baton.contract_cli import uncredentialed_parties
from shared.contract import load_contract
from tests import factories
from tests.factories import MINIMAL


def _stack(tmp_path: Path, parties: list[str]) -> dict[str, str]:
    """A local stack folder whose credentials know ``parties`` (as ``stack up`` left them)."""
    root = tmp_path / "stack"
    root.mkdir()
    credentials.save(root, credentials.Credentials().completed(parties))
    return {"BATON_STACK_DIR": str(root)}


def _with_desk(tmp_path: Path) -> Path:
    doc = factories.minimal_doc()
    doc["parties"]["desk"] = {
        "name": "Customer service desk",
        "kind": "other",
        "contact": "desk@customer.example",
        "responsible_for": ["tickets"],
        "not_responsible_for": ["repairs"],
    }
    return factories.written(doc, tmp_path)


def test_a_new_party_without_local_stack_credentials_is_named_with_what_to_run(
    tmp_path: Path,
) -> None:
    path = _with_desk(tmp_path)
    known = list(load_contract(MINIMAL).parties)
    missing, todo = uncredentialed_parties(load_contract(path), path, _stack(tmp_path, known))
    assert missing == ["desk"]
    assert f"BATON_CONTRACT_PATH={path}" in todo
    assert "baton stack down" in todo
    assert "baton stack up" in todo
    assert "--purge" not in todo


def test_a_contract_whose_parties_all_have_credentials_needs_nothing(tmp_path: Path) -> None:
    contract = load_contract(MINIMAL)
    env = _stack(tmp_path, list(contract.parties))
    assert uncredentialed_parties(contract, MINIMAL, env) == ([], "")


def test_another_deployment_is_told_the_parties_new_since_the_version_in_force(
    tmp_path: Path,
) -> None:
    """Publishing to a cluster that is not the local stack: no credentials file to read, so the
    parties new since the version in force are named, with what each kind of deployment runs."""
    path = _with_desk(tmp_path)
    env = {"BATON_STACK_DIR": str(tmp_path / "none"), "BATON_KAFKA_BOOTSTRAP": "kafka:9092"}
    in_force = load_contract(MINIMAL)
    missing, todo = uncredentialed_parties(load_contract(path), path, env, in_force)
    assert missing == ["desk"]
    assert f"baton compose-secrets --contract {path}" in todo
    assert "docker compose up -d" in todo
    assert uncredentialed_parties(in_force, MINIMAL, env, in_force) == ([], "")
