"""Device identity and owner claims, as pure functions over plain data: the batch file
format the manufacturer imports, the digests the cloud keeps instead of secrets, and the
claim-throttling rule. No database or web stack here (an import contract checks it)."""

from cloud.identity.batch import FactoryBatch, FactoryDeviceIn, describe_errors
from cloud.identity.digests import claim_code_digest, secret_digest, secret_matches
from cloud.identity.throttle import retry_after_s

__all__ = [
    "FactoryBatch",
    "FactoryDeviceIn",
    "claim_code_digest",
    "describe_errors",
    "retry_after_s",
    "secret_digest",
    "secret_matches",
]
