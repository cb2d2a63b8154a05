"""What self-healing has learned: per product model, fault signature and fix, how often
the fix was verified in the telemetry to have worked."""

from __future__ import annotations

from fastapi import APIRouter

from cloud.api.deps import ReposDep, ServiceDep
from cloud.api.schemas.incidents import FixRecordOut

router = APIRouter(prefix="/fixes", tags=["self-healing"])


@router.get("")
def list_fixes(repos: ReposDep, _: ServiceDep) -> list[FixRecordOut]:
    return [FixRecordOut.of(counts) for counts in repos.remediation.counts()]
