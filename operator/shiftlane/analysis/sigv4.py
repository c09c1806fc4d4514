"""AWS Signature Version 4 for HTTP requests (Amazon Managed Service for Prometheus), by botocore's signer."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from shiftlane.analysis import aws
from shiftlane.analysis.measurement import ProviderError
from shiftlane.api.analysis_providers import SigV4


def _sign(sigv4: SigV4, method: str, url: str, body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
    """In a worker thread, where botocore is first imported (see aws)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.exceptions import BotoCoreError

    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    try:
        SigV4Auth(aws.credentials(), sigv4.service, aws.region(sigv4.region)).add_auth(request)
    except BotoCoreError as error:
        raise ProviderError(f"signing the request failed: {error}") from None
    return dict(request.headers.items())


async def signed_headers(sigv4: SigV4, method: str, url: str, body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` plus Authorization, X-Amz-Date (and X-Amz-Security-Token for temporary credentials).
    In a thread: the credential chain may block on an endpoint."""
    return await asyncio.to_thread(_sign, sigv4, method, url, body, headers)
