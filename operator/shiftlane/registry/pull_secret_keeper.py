"""Keeps one pull Secret per namespace whose Rollouts pull from ECR (``--ecr-pull-secrets``).

Reconciles say which ECR registries each Rollout's images live in; a background task reads each
such namespace's Secret every check interval and rewrites it when refresh_due says so: well before
the token expires, and at once when it is missing, was edited, or lacks a registry. Registries the
Secret already holds stay in it (a revision pinned to a regional replica still pulls from there).
Credentials are only ever inside the Secret's data: logs, events and status name hosts and times.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from shiftlane.registry.ecr import Ecr
from shiftlane.registry.metrics import record_tokens
from shiftlane.registry.pull_secret import SECRET_NAME, observe_pull_secret, pull_secret_manifest, refresh_due
from shiftlane.registry.references import ImageReference, MalformedImage, RegistryKind, parse_image, template_images
from shiftlane.registry.results import AuthorizationToken, RegistryError
from shiftlane.registry.settings import PullSecretSettings

log = logging.getLogger(__name__)

Key = tuple[str, str]
# A token ECR hands out already inside the refresh window (a skewed clock, or a stand-in's fixed
# date) is asked for again no sooner than this, rather than in a loop.
MIN_REWRITE_SECONDS = 300.0


class SecretStore(Protocol):
    async def read(self, namespace: str, name: str) -> dict[str, Any] | None: ...
    async def write(self, manifest: dict[str, Any], resource_version: str | None) -> dict[str, Any]: ...


def ecr_hosts(template: dict[str, Any]) -> frozenset[str]:
    """The ECR private registries a pod template pulls from (none for a malformed one)."""
    try:
        return frozenset(ref.registry for ref in template_images(template) if ref.kind is RegistryKind.ECR)
    except MalformedImage:
        return frozenset()


def _registry_reference(host: str) -> ImageReference | None:
    """Enough of a reference to ask ECR for a token for ``host``; None for a host that is not ECR's."""
    try:
        ref = parse_image("pull-secret", f"{host}/any")
    except MalformedImage:
        return None
    return ref if ref.kind is RegistryKind.ECR else None


@dataclass(frozen=True)
class Written:
    expires_at: datetime
    hold_until: float  # monotonic; 0 unless ECR's token was due already when it came


@dataclass
class PullSecretKeeper:
    ecr: Ecr
    store: SecretStore
    settings: PullSecretSettings
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    _needs: dict[Key, frozenset[str]] = field(default_factory=dict)  # Rollout -> the ECR hosts it pulls from
    _written: dict[str, Written] = field(default_factory=dict)  # namespace -> what we last wrote there
    _locks: defaultdict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def note(self, key: Key, templates: Iterable[dict[str, Any]]) -> None:
        """The registries a Rollout's templates pull from; a new one wakes the keeper."""
        hosts = frozenset().union(*map(ecr_hosts, templates))
        before = self._needs.get(key, frozenset())
        if hosts | before != before:
            self._needs[key] = hosts | before
            self._changed.set()

    def forget(self, key: Key) -> None:
        self._needs.pop(key, None)

    def namespaces(self) -> dict[str, frozenset[str]]:
        needed: dict[str, frozenset[str]] = {}
        for (namespace, _), hosts in list(self._needs.items()):
            if hosts:
                needed[namespace] = needed.get(namespace, frozenset()) | hosts
        return needed

    async def secret_for(self, key: Key, template: dict[str, Any]) -> str | None:
        """The Secret a new revision of ``template`` names in imagePullSecrets, written first when it is
        due; None when the template pulls nothing from ECR or someone else's Secret holds the name.
        Revision templates never change, so the name is given even if ECR cannot be asked now: the
        kubelet retries its pull once the Secret is written."""
        self.note(key, [template])
        if not ecr_hosts(template):
            return None
        namespace = key[0]
        try:
            due_in = await self._keep(namespace, self.namespaces().get(namespace, frozenset()))
        except Exception as error:  # noqa: BLE001 - the keeper retries on its own schedule
            log.warning("pull Secret %s/%s not written yet: %s", namespace, SECRET_NAME, error)
            return SECRET_NAME
        return SECRET_NAME if due_in is not None else None  # None: the name is someone else's

    async def run(self) -> None:
        """Forever: keep every namespace's Secret, then sleep until one falls due, the check
        interval passes, or a Rollout names a new registry."""
        while True:
            self._changed.clear()
            wake = self.settings.check_interval
            for namespace, hosts in self.namespaces().items():
                try:
                    due = await self._keep(namespace, hosts)
                except Exception as error:  # noqa: BLE001 - one namespace must not stop the others
                    log.warning("pull Secret %s/%s: %s", namespace, SECRET_NAME, error)
                    continue
                if due is not None:
                    wake = min(wake, due)
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=max(wake, 0.1))
            except TimeoutError:
                pass

    async def _keep(self, namespace: str, hosts: frozenset[str]) -> float | None:
        """The namespace's Secret made fresh for ``hosts``; the seconds until it falls due, or None when
        the name is someone else's."""
        async with self._locks[namespace]:
            observed = observe_pull_secret(await self.store.read(namespace, SECRET_NAME))
            if observed is not None and not observed.ours:
                log.warning("Secret %s/%s exists and was not created by Shiftlane: it is left alone", namespace, SECRET_NAME)
                return None
            now = self.clock()
            kept = frozenset(h for h in (observed.registries if observed else ()) if _registry_reference(h))
            wanted = hosts | kept
            refresh = refresh_due(observed, wanted, now, self.settings.refresh_before)
            if not refresh.due:
                return (refresh.at - now).total_seconds() if refresh.at else self.settings.check_interval
            written = self._written.get(namespace)
            # Due only by its expiry, as we wrote it, with a token ECR gave already due: not asked for again in a loop.
            expiring = observed is not None and wanted <= observed.registries
            if expiring and written is not None and observed.expires_at == written.expires_at:
                if (wait := written.hold_until - time.monotonic()) > 0:
                    return wait
            tokens = await self._tokens(wanted)
            await self.store.write(pull_secret_manifest(namespace, tokens), observed.resource_version if observed else None)
            record_tokens(namespace, tokens)
            expires = min(token.expires_at for token in tokens)
            log.info("pull Secret %s/%s written (%s; registries %s; expires %s)", namespace, SECRET_NAME,
                     refresh.reason, ", ".join(sorted(wanted)), expires.isoformat())
            until_due = (expires - self.settings.refresh_before - self.clock()).total_seconds()
            hold = 0.0
            if until_due <= 0:
                log.warning("ECR gave a token for %s that expires at %s, inside the refresh window already: "
                            "is the operator's clock right? Asking again in %.0fs", namespace, expires.isoformat(),
                            MIN_REWRITE_SECONDS)
                hold, until_due = time.monotonic() + MIN_REWRITE_SECONDS, MIN_REWRITE_SECONDS
            self._written[namespace] = Written(expires, hold)
            return until_due

    async def _tokens(self, hosts: frozenset[str]) -> list[AuthorizationToken]:
        """One token per registry host; one GetAuthorizationToken per account and region."""
        references = {host: ref for host in sorted(hosts) if (ref := _registry_reference(host))}
        asked: dict[tuple[str, str, bool, bool], AuthorizationToken | RegistryError] = {}
        tokens = []
        for host, ref in references.items():
            where = (ref.ecr.account, ref.ecr.region, ref.ecr.fips, ref.ecr.china)
            if where not in asked:
                asked[where] = await self.ecr.authorization(ref)
            answer = asked[where]
            if isinstance(answer, RegistryError):
                raise RuntimeError(answer.message)
            tokens.append(AuthorizationToken(host, answer.username, answer.password, answer.expires_at))
        return tokens
