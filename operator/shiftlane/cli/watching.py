"""Following one Rollout over time: a watch kept open in a thread (re-opened whenever the server
closes it), so a caller can wait for the next change *or* a deadline — `get --watch` refreshes pods
and events between changes, `status --timeout` gives up at its deadline."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from shiftlane.cli.kubectl import Kubectl, KubectlError


@dataclass(frozen=True)
class Change:
    kind: str  # ADDED, MODIFIED, DELETED
    rollout: dict[str, Any]


class RolloutFeed:
    def __init__(self, kube: Kubectl, name: str) -> None:
        self._kube, self._name = kube, name
        self._queue: queue.Queue[Change | KubectlError] = queue.Queue()
        self._thread = threading.Thread(target=self._follow, name=f"watch {name}", daemon=True)

    def start(self) -> RolloutFeed:
        self._thread.start()
        return self

    def _follow(self) -> None:
        while True:
            started = time.monotonic()
            try:
                for event in self._kube.watch_rollout(self._name):
                    kind, obj = event.get("type"), event.get("object") or {}
                    if kind == "ERROR":
                        raise KubectlError(f"watch failed: {obj.get('message', obj)}")
                    self._queue.put(Change(str(kind), obj))
                    if kind == "DELETED":
                        return
            except KubectlError as error:
                self._queue.put(error)
                return
            if time.monotonic() - started < 1:
                time.sleep(1)  # a watch that ends at once should not become a busy loop

    def next(self, timeout: float) -> Change | None:
        """The next change within `timeout` seconds (None if none came); raises what the watch failed with."""
        try:
            item = self._queue.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        if isinstance(item, KubectlError):
            raise item
        return item
