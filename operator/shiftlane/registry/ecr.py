"""Amazon ECR through boto3: digests, tag mutability, scan findings, replicas, pull tokens, stable tags.

boto3 blocks, so every call runs in a worker thread and the operator's event loop never waits on it.
boto3 itself is imported there, on the first call: an operator that checks no ECR image never loads it
(about 7 MiB and 0.2 s of start-up).
Credentials come from the default chain (IRSA, EKS Pod Identity, environment, profile) and the
endpoint from AWS_ENDPOINT_URL when set. Nothing raises to the caller: each call returns its value or a
RegistryError saying what went wrong.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import fnmatch
import os
import threading
import time
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from cachetools import LRUCache

from shiftlane.registry.findings import ScanFindings, ScanStatus
from shiftlane.registry.metrics import Call, measured
from shiftlane.registry.references import EcrRegistry, ImageReference, RegistryKind
from shiftlane.registry.results import AuthorizationToken, Digest, Problem, RegistryError

if TYPE_CHECKING:
    import boto3
    from botocore.client import BaseClient
    from botocore.config import Config

MANIFEST_MEDIA_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
]
_NOT_FOUND = {"RepositoryNotFoundException", "ImageNotFoundException", "RegistryNotFoundException"}
_THROTTLED = {"ThrottlingException", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded"}
_DENIED = {"AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException"}
# After the client's own retries gave up on throttling, leave the region alone this long (doubling).
THROTTLE_PAUSE = (5.0, 300.0)
_TAG_TAKEN = object()  # PutImage refused the tag: it is on this digest already, or (immutable tags) on another

T = TypeVar("T")


class Unprotected(StrEnum):
    REMOVED = "removed"
    ABSENT = "absent"  # the tag was gone or pointed elsewhere: nothing to do
    # ECR deletes an image with its last tag; Shiftlane never deletes images, so the tag stays.
    KEPT_LAST_TAG = "kept-last-tag"


def tag_is_immutable(repository: dict[str, Any], tag: str) -> bool:
    """Whether ECR refuses to move ``tag`` in a DescribeRepositories repository, exclusion filters included."""
    setting = repository.get("imageTagMutability", "MUTABLE")
    excluded = any(
        fnmatch.fnmatchcase(tag, rule.get("filter", "")) for rule in repository.get("imageTagMutabilityExclusionFilters") or []
    )
    if setting == "IMMUTABLE_WITH_EXCLUSION":
        return not excluded
    if setting == "MUTABLE_WITH_EXCLUSION":
        return excluded
    return setting == "IMMUTABLE"


def replica_registry(registry: dict[str, Any], repository: str, region: str) -> str | None:
    """The registry id in ``region`` to which a DescribeRegistry replication configuration copies
    ``repository``, if any."""
    for rule in (registry.get("replicationConfiguration") or {}).get("rules") or []:
        filters = rule.get("repositoryFilters") or []
        if filters and not any(repository.startswith(f.get("filter", "")) for f in filters):
            continue
        for destination in rule.get("destinations") or []:
            if destination.get("region") == region:
                return destination.get("registryId")
    return None


def default_config() -> Config:
    """Adaptive retries back off on throttling and rate-limit the client itself; the timeouts keep a
    stalled connection from holding a worker thread for botocore's default minute."""
    from botocore.config import Config

    return Config(retries={"mode": "adaptive", "max_attempts": 5}, connect_timeout=5, read_timeout=15)


class Ecr:
    def __init__(self, session: boto3.Session | None = None, config: Config | None = None, cache_size: int = 4096) -> None:
        self._boto = session  # made on first use when not given
        self._config = config
        self._clients: dict[tuple[str, bool], BaseClient] = {}
        # boto3 sessions are not thread-safe; clients, once made, are.
        self._lock = threading.Lock()
        # A digest's COMPLETE findings never change (an enhanced scan's ACTIVE ones can).
        self._findings: LRUCache[tuple[str, str, str, str], ScanFindings] = LRUCache(cache_size)
        self._throttled: dict[str, tuple[float, float]] = {}  # region -> (until, last pause)

    def region(self) -> str | None:
        """The operator's own region, where a regional replica would be pulled from. boto3 reads
        AWS_DEFAULT_REGION; EKS and other SDKs also set AWS_REGION. Blocks on first use: call it from a thread."""
        with self._lock:
            return self._session().region_name or os.environ.get("AWS_REGION") or None

    # --- the calls -------------------------------------------------------------------------------

    async def resolve_digest(self, ref: ImageReference) -> Digest | RegistryError:
        """The digest ``ref``'s tag points at now; for a reference by digest, that digest once it is
        known to exist."""
        image_id = {"imageDigest": ref.digest} if ref.digest else {"imageTag": ref.tag}
        answer = await self._call(ref, "DescribeImages", lambda c: c.describe_images(**_repo(ref), imageIds=[image_id]))
        if isinstance(answer, RegistryError):
            return answer
        detail = answer["imageDetails"][0]
        return Digest(detail["imageDigest"], detail.get("imageManifestMediaType"))

    async def tag_immutable(self, ref: ImageReference) -> bool | RegistryError:
        answer = await self._call(
            ref, "DescribeRepositories",
            lambda c: c.describe_repositories(registryId=_ecr(ref).account, repositoryNames=[ref.repository]),
        )
        if isinstance(answer, RegistryError):
            return answer
        return tag_is_immutable(answer["repositories"][0], ref.tag or "")

    async def scan_findings(self, ref: ImageReference, digest: str) -> ScanFindings | RegistryError:
        key = (_ecr(ref).account, _ecr(ref).region, ref.repository, digest)
        if cached := self._findings.get(key):
            return cached

        def read(client: BaseClient) -> ScanFindings:
            pages = client.get_paginator("describe_image_scan_findings").paginate(**_repo(ref), imageId={"imageDigest": digest})
            scan = ScanFindings(ScanStatus.PENDING)
            for page in pages:
                scan = scan.with_page(page)
            return scan

        answer = await self._call(ref, "DescribeImageScanFindings", read, missing=ScanFindings(ScanStatus.MISSING))
        if isinstance(answer, ScanFindings) and answer.status is ScanStatus.COMPLETE:
            self._findings[key] = answer
        return answer

    async def digest_exists(self, ref: ImageReference, digest: str) -> bool | RegistryError:
        """Whether the repository still holds ``digest`` (a lifecycle policy may have expired it)."""
        answer = await self._call(
            ref, "DescribeImages", lambda c: c.describe_images(**_repo(ref), imageIds=[{"imageDigest": digest}]), missing=False
        )
        return answer if isinstance(answer, RegistryError | bool) else True

    async def regional_replica(self, ref: ImageReference, digest: str) -> ImageReference | None | RegistryError:
        """Where to pull ``ref`` in the operator's region: the replica the registry's replication
        configuration makes there, once ``digest`` is seen in it; None to pull from ``ref`` itself."""
        region, source = await asyncio.to_thread(self.region), _ecr(ref)
        if not region or region == source.region:
            return None
        registry = await self._call(ref, "DescribeRegistry", lambda c: c.describe_registry())
        if isinstance(registry, RegistryError):
            return registry
        # DescribeRegistry describes the caller's own registry: another account's rules are unknown.
        if registry.get("registryId") != source.account:
            return None
        destination = replica_registry(registry, ref.repository, region)
        if destination is None:
            return None
        host = f"{destination}.dkr.ecr{'-fips' if source.fips else ''}.{region}.amazonaws.com{'.cn' if source.china else ''}"
        replica = dataclasses.replace(
            ref, registry=host, ecr=dataclasses.replace(source, account=destination, region=region)
        )
        exists = await self.digest_exists(replica, digest)
        if isinstance(exists, RegistryError):
            return exists
        return replica if exists else None

    async def authorization(self, ref: ImageReference) -> AuthorizationToken | RegistryError:
        answer = await self._call(
            ref, "GetAuthorizationToken", lambda c: c.get_authorization_token(registryIds=[_ecr(ref).account])
        )
        if isinstance(answer, RegistryError):
            return answer
        data = answer["authorizationData"][0]
        username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        return AuthorizationToken(ref.registry, username, password, data["expiresAt"])

    async def protect(self, ref: ImageReference, digest: str, tag: str) -> None | RegistryError:
        """Tag ``digest`` with ``tag`` so that tag-based lifecycle rules keep it. In a repository with
        immutable tags the tag is first taken off the digest that carries it."""
        got = await self._call(
            ref, "BatchGetImage",
            lambda c: c.batch_get_image(**_repo(ref), imageIds=[{"imageDigest": digest}], acceptedMediaTypes=MANIFEST_MEDIA_TYPES),
        )
        if isinstance(got, RegistryError):
            return got
        if not got.get("images"):
            return RegistryError(Problem.NOT_FOUND, f"{ref.name}@{digest} does not exist")
        image = got["images"][0]

        async def put() -> Any:
            return await self._call(
                ref, "PutImage",
                lambda c: c.put_image(
                    **_repo(ref), imageManifest=image["imageManifest"], imageTag=tag, imageDigest=digest,
                    imageManifestMediaType=image.get("imageManifestMediaType") or MANIFEST_MEDIA_TYPES[3],
                ),
                # The tag is on this digest already, or (immutable tags) on another one: found out below.
                answers={"ImageAlreadyExistsException": _TAG_TAKEN, "ImageTagAlreadyExistsException": _TAG_TAKEN},
            )

        answer = await put()
        if answer is not _TAG_TAKEN:
            return answer if isinstance(answer, RegistryError) else None
        holders = await self._call(
            ref, "DescribeImages", lambda c: c.describe_images(**_repo(ref), imageIds=[{"imageTag": tag}]),
            missing={"imageDetails": []},
        )
        if isinstance(holders, RegistryError):
            return holders
        others = [d["imageDigest"] for d in holders["imageDetails"] if d["imageDigest"] != digest]
        if not others:
            return None
        for other in others:  # the tag is taken off first; the image keeps its other tags
            moved = await self.unprotect(ref, other, tag)
            if isinstance(moved, RegistryError):
                return moved
            if moved is Unprotected.KEPT_LAST_TAG:
                return RegistryError(Problem.DENIED, f"{ref.name}: tag {tag} is the last tag of {other} in a repository with "
                                     "immutable tags; removing it would delete that image", retry_after=3600.0)
        answer = await put()
        if answer is _TAG_TAKEN:  # tagged again elsewhere in between: the next attempt sorts it out
            return RegistryError(Problem.THROTTLED, f"{ref.name}: tag {tag} was moved by someone else meanwhile")
        return answer if isinstance(answer, RegistryError) else None

    async def unprotect(self, ref: ImageReference, digest: str, tag: str) -> Unprotected | RegistryError:
        """Remove ``tag`` from ``digest`` when the revision leaves history."""
        described = await self._call(
            ref, "DescribeImages",
            lambda c: c.describe_images(**_repo(ref), imageIds=[{"imageDigest": digest}]), missing={"imageDetails": []},
        )
        if isinstance(described, RegistryError):
            return described
        tags = [t for detail in described["imageDetails"] for t in detail.get("imageTags") or []]
        if tag not in tags:
            return Unprotected.ABSENT
        if tags == [tag]:
            return Unprotected.KEPT_LAST_TAG
        deleted = await self._call(
            ref, "BatchDeleteImage", lambda c: c.batch_delete_image(**_repo(ref), imageIds=[{"imageTag": tag}])
        )
        return deleted if isinstance(deleted, RegistryError) else Unprotected.REMOVED

    # --- plumbing --------------------------------------------------------------------------------

    def _session(self) -> boto3.Session:
        """The session, made (and boto3 imported) on first use; called with ``_lock`` held."""
        if self._boto is None:
            import boto3

            self._boto = boto3.Session()
        return self._boto

    def client(self, ref: ImageReference) -> BaseClient:
        """The boto3 client that serves ``ref``'s region, made once and reused. Blocks on first use:
        call it from a thread."""
        from botocore.config import Config

        source = _ecr(ref)
        key = (source.region, source.fips)
        with self._lock:
            if key not in self._clients:
                config = (self._config or default_config()).merge(Config(use_fips_endpoint=source.fips))
                self._clients[key] = self._session().client("ecr", region_name=source.region, config=config)
            return self._clients[key]

    async def _call(
        self,
        ref: ImageReference,
        api: str,
        request: Callable[[BaseClient], T],
        *,
        missing: Any = None,
        answers: Mapping[str, Any] | None = None,
    ) -> Any:
        """``request`` in a worker thread, measured; ``missing`` stands for a not-found answer when given,
        and an error code in ``answers`` stands for the value it maps to."""
        region = _ecr(ref).region
        until, _ = self._throttled.get(region, (0.0, 0.0))
        if time.monotonic() < until:
            return RegistryError(Problem.THROTTLED, f"ECR {api} in {region} is throttled; waiting before asking again",
                                 retry_after=until - time.monotonic())
        with measured(f"ecr:{api}") as call:
            return await asyncio.to_thread(self._attempt, ref, api, request, call, missing, answers)

    def _attempt(self, ref: ImageReference, api: str, request: Callable[[BaseClient], T], call: Call, missing: Any,
                 answers: Mapping[str, Any] | None) -> Any:
        """``request`` and what its failure means, in the worker thread (where botocore is first imported)."""
        from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, NoCredentialsError, PartialCredentialsError

        region = _ecr(ref).region
        pause = self._throttled.get(region, (0.0, 0.0))[1]
        try:
            answer = request(self.client(ref))
            self._throttled.pop(region, None)
            return answer
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            message = error.response.get("Error", {}).get("Message", "") or code
            if answers and code in answers:
                return answers[code]
            if code in _NOT_FOUND or code == "ScanNotFoundException":
                call.outcome = Problem.NOT_FOUND.value
                if missing is not None:
                    return missing
                return RegistryError(Problem.NOT_FOUND, f"{ref.describe()}: {message}")
            if code in _THROTTLED:
                call.outcome = Problem.THROTTLED.value
                pause = min(max(pause * 2, THROTTLE_PAUSE[0]), THROTTLE_PAUSE[1])
                self._throttled[region] = (time.monotonic() + pause, pause)
                return RegistryError(Problem.THROTTLED, f"ECR {api} in {region} throttled: {message}", retry_after=pause)
            if code in _DENIED:
                call.outcome = Problem.DENIED.value
                return RegistryError(Problem.DENIED, f"ECR {api} on {ref.name} refused: {message}", retry_after=300.0)
            call.outcome = Problem.UNREACHABLE.value
            return RegistryError(Problem.UNREACHABLE, f"ECR {api} on {ref.name} failed: {code}: {message}")
        except (NoCredentialsError, PartialCredentialsError) as error:
            call.outcome = Problem.DENIED.value
            return RegistryError(Problem.DENIED, f"no AWS credentials for ECR {api}: {error}", retry_after=300.0)
        except (ConnectionError, BotoCoreError) as error:
            call.outcome = Problem.UNREACHABLE.value
            return RegistryError(Problem.UNREACHABLE, f"ECR {api} in {region} unreachable: {error}")


def _ecr(ref: ImageReference) -> EcrRegistry:
    if ref.kind is not RegistryKind.ECR or ref.ecr is None:
        raise ValueError(f"{ref.written} is not an ECR private image")
    return ref.ecr


def _repo(ref: ImageReference) -> dict[str, str]:
    return {"registryId": _ecr(ref).account, "repositoryName": ref.repository}
