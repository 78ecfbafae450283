"""The support contract as code: the model, its loader, lint, appendix and drill.

Modules: ``model`` (the schema with its schema-level look-ups, ``contract_hash``,
``load_contract``), ``terms`` (the vocabulary: criticalities, kinds, periods),
``model_validators`` (value parsing and helpers the schema uses), ``view``
(``ContractView``: every question about an incident, a facade over ``timing``, ``windows``,
``duty``, ``graph``, ``escalation`` and ``matching``; ADR 8, ADR 59), ``source`` (YAML with
line numbers; folders merged), ``load`` (validation that keeps going past schema errors by
dropping the broken item), ``findings`` (``Finding`` and the rule catalog ``RULES``, stable
``BTNnnn`` codes), ``lint`` (one pure check per concern), ``appendix`` (the signed appendix as
Markdown / CSV / HTML / PDF / JSON), ``drill`` (the seed's night test).

Calendars and business-time arithmetic live in `shared/calendar.py`.

## On disk
One YAML file, or a folder of `*.yaml` files merged in path order: top-level lists are
concatenated, top-level mappings merged key by key (a key defined twice is BTN003), scalars must
agree. See `examples/contract/` (realistic, split by section) and `examples/minimal/`.

Sections: `id`, `version`, `title`, `coordinator`, `first_line` (a party, or `party/contact`
answering in the contact's `hours`), `environments`, `exclusions`, `locations` (a site's own
`period_calendar`; its written `timezone` and `holidays_country` must be that calendar's, BTN308),
`parties` (contacts with channels and optional `hours`, `duty`
shifts — the first shift whose calendar is open answers —, `backup_contacts`,
`responsible_for` / `not_responsible_for`,
`vendor_handling`), `layers` (a list of `{layer, primary, boundary}`; two entries for one layer
are two primaries), `calendars`, `objects`, `groups`, `access_rules`, `priority_matrix`, `sla`
(`period_calendar`, `targets` with `periods`, `warnings`, `clock_start`, `max_backdate`),
`pause_reasons`, `maintenance_windows` (`weekly` or `start`/`end`), `escalation` (levels with
thresholds per clock as fractions of the target, and/or `triggers: [update_overdue]`: each late
customer update, ADR 54), `alert_rules` (labels, Alertmanager
matchers and/or hosts); objects take `match` labels and `matchers` too.
Contacts are referred to as `party/contact`. Durations: `15m`, `4h`, `1d 12h` or ISO `PT4H`;
SLA targets also `4bh` / `3bd` (business hours / days of their calendar).
Quote times of day (`"22:00"`): YAML 1.1 reads an unquoted `22:00` as a number.

## Periods
`sla.period_calendar` (the head office's business hours) classifies each instant: open = day;
a public or contract holiday = holiday; another closed day = weekend; the rest = night. A target
applies in the periods it lists (all four by default) and runs on the object's calendar unless
it names its own (`calendar: office-almaty` for P3/P4 work).

## Schema versus lint
The schema checks shapes; every cross-reference and completeness rule is a lint rule, so one
broken reference yields a precise finding instead of hiding the rest. `load_contract(path)`
refuses schema errors and *integrity* rules (unknown references, 0 or 2 primaries, cycles);
`load_contract(path, lint=True)` refuses every lint error. `baton contract rules` lists the codes.

## Hash
`contract_hash(contract)` is `sha256:` over the canonical JSON of the validated model: layout,
comments and file split do not change it; any change of content (order included) does.
"""

from shared.contract.model import (
    Contract,
    ContractError,
    Criticality,
    Environment,
    ObjectKind,
    Party,
    Period,
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
    "SlaTarget",
    "SupportObject",
    "contract_hash",
    "load_contract",
]
