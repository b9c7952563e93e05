"""The status vocabularies Octavia documents (octavia/common/constants.py)."""

from __future__ import annotations

PROVISIONING_STATES: tuple[str, ...] = (
    "ACTIVE",
    "DELETED",
    "ERROR",
    "PENDING_CREATE",
    "PENDING_UPDATE",
    "PENDING_DELETE",
)
OPERATING_STATES: tuple[str, ...] = (
    "ONLINE",
    "DRAINING",
    "OFFLINE",
    "DEGRADED",
    "ERROR",
    "NO_MONITOR",
)
AMPHORA_STATES: tuple[str, ...] = (
    "BOOTING",
    "ALLOCATED",
    "READY",
    "PENDING_CREATE",
    "PENDING_DELETE",
    "DELETED",
    "ERROR",
    "FAILOVER_STOPPED",
)

# What a missing or null status field is exported as; it is not a known state, so it is counted.
MISSING = "UNKNOWN"

KNOWN: dict[str, frozenset[str]] = {
    "provisioning_status": frozenset(PROVISIONING_STATES),
    "operating_status": frozenset(OPERATING_STATES),
    "status": frozenset(AMPHORA_STATES),
}


def states_for(field: str) -> tuple[str, ...]:
    if field == "provisioning_status":
        return PROVISIONING_STATES
    if field == "operating_status":
        return OPERATING_STATES
    return AMPHORA_STATES


def is_known(field: str, value: str) -> bool:
    return value in KNOWN.get(field, frozenset())
