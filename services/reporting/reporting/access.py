"""Who may read what from reporting: the read-side mirror of the per-party topics.

With ``BATON_REPORTING_READER_TOKENS`` set (reader -> token; a reader is a party id of the
contract or ``operator``), every read needs ``Authorization: Bearer <token>``: an operator or a
customer party sees every incident and report; a contractor sees only the incidents it is or was
assigned to (primary, coordinator, a check, a handover, an escalation), only its own rows of the
SLA report, and no monthly report (it covers every contractor). Without the setting the read
side is open, as it was — say so in the deployment (docs/SECURITY.md).
"""

from __future__ import annotations

from reporting import store
from shared.db import Conn
from shared.readers import EVERYONE, OPERATOR, Reader, reader

__all__ = ["EVERYONE", "OPERATOR", "Reader", "may_see", "reader"]


async def may_see(conn: Conn, who: Reader, incident_id: str) -> bool:
    if who.party is None:
        return True
    return await store.assigned(conn, incident_id, who.party)
