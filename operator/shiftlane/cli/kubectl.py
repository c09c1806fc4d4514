"""Talking to the cluster through the `kubectl` binary: it honours KUBECONFIG, contexts and plugins'
auth helpers exactly as the user's own kubectl does, so the plugin needs no client configuration."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from shiftlane.kube.labels import ROLLOUT_LABEL

# Fully qualified, so that another project's `rollouts` (Argo Rollouts) is never picked by mistake.
RESOURCE = "rollouts.shiftlane.io"


class KubectlError(RuntimeError):
    """kubectl failed; the message is meant for the user as it is."""


class NotFound(KubectlError):
    pass


_NOT_FOUND = re.compile(r"\(NotFound\)|not found", re.IGNORECASE)
_KLOG = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d")


_PREFIX = re.compile(r"^(error: |Error from server( \(\w+\))?: )")
_NO_CRD = re.compile(r"doesn't have a resource type \"rollouts\"|resource mapping not found.*shiftlane\.io")


def error_text(stderr: str) -> str:
    """kubectl's message, said once: without the klog lines client-go repeats on every retry, without its
    own `error:` prefix (ours comes in front), and a missing CRD named as such."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    plain = [_PREFIX.sub("", line) for line in lines if not _KLOG.match(line)] or lines[-1:]
    if any(_NO_CRD.search(line) for line in plain):
        return f"{RESOURCE} is not installed in this cluster (apply crds/ or install the chart)"
    return "\n".join(dict.fromkeys(plain))


@dataclass(frozen=True)
class Kubectl:
    namespace: str | None = None
    context: str | None = None
    kubeconfig: str | None = None
    # $KUBECTL picks another binary (a wrapper, or a stand-in in tests).
    binary: str = field(default_factory=lambda: os.environ.get("KUBECTL", "kubectl"))

    def base(self) -> list[str]:
        cmd = [self.binary]
        if self.kubeconfig:
            cmd.append(f"--kubeconfig={self.kubeconfig}")
        if self.context:
            cmd.append(f"--context={self.context}")
        if self.namespace:
            cmd.append(f"--namespace={self.namespace}")
        return cmd

    def _check_binary(self) -> None:
        if shutil.which(self.binary) is None:
            raise KubectlError(f"{self.binary} not found on PATH; kubectl-shiftlane needs kubectl")

    def run(self, *args: str, stdin: str | None = None) -> str:
        self._check_binary()
        proc = subprocess.run([*self.base(), *args], input=stdin, capture_output=True, text=True)
        if proc.returncode != 0:
            message = error_text(proc.stderr) or f"kubectl {' '.join(args)} exited with {proc.returncode}"
            raise (NotFound if _NOT_FOUND.search(message) else KubectlError)(message)
        return proc.stdout

    def run_json(self, *args: str) -> Any:
        out = self.run(*args)
        try:
            return json.loads(out)
        except json.JSONDecodeError as error:
            raise KubectlError(f"kubectl returned output that is not JSON: {error}") from None

    # --- rollouts ---------------------------------------------------------------------------

    def _missing(self, name: str, error: KubectlError) -> KubectlError:
        if isinstance(error, NotFound) and "resource type" not in str(error):
            where = f' in namespace "{self.namespace}"' if self.namespace else ""
            return NotFound(f'rollout "{name}" not found{where}')
        return error

    def get_rollout(self, name: str) -> dict[str, Any]:
        try:
            return self.run_json("get", RESOURCE, name, "-o", "json")
        except KubectlError as error:
            raise self._missing(name, error) from None

    def patch_status(self, name: str, status: dict[str, Any]) -> dict[str, Any]:
        """Merge-patch the status subresource: manual commands go there so no Git-owned field drifts."""
        body = json.dumps({"status": status}, separators=(",", ":"))
        try:
            return self.run_json("patch", RESOURCE, name, "--subresource=status", "--type=merge", "-p", body, "-o", "json")
        except KubectlError as error:
            raise self._missing(name, error) from None

    def json_patch(self, name: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        body = json.dumps(ops, separators=(",", ":"))
        try:
            return self.run_json("patch", RESOURCE, name, "--type=json", "-p", body, "-o", "json")
        except KubectlError as error:
            raise self._missing(name, error) from None

    def list_rollouts(self, all_namespaces: bool = False) -> list[dict[str, Any]]:
        return self.run_json("get", RESOURCE, *(["--all-namespaces"] if all_namespaces else []), "-o", "json").get("items") or []

    def owned_objects(self, name: str) -> list[dict[str, Any]]:
        """The revision Deployments and pods of a Rollout, by the label the operator puts on both."""
        return self.run_json("get", "deployments,pods", "-l", f"{ROLLOUT_LABEL}={name}", "-o", "json").get("items") or []

    def events_about(self, uid: str) -> list[dict[str, Any]]:
        return self.run_json("get", "events", "--field-selector", f"involvedObject.uid={uid}", "-o", "json").get("items") or []

    def watch_rollout(self, name: str) -> Iterator[dict[str, Any]]:
        """Watch events ({"type": ..., "object": ...}) for one Rollout, streamed as kubectl prints them.

        The stream ends when the server closes the watch; the caller decides whether to watch again.
        """
        self._check_binary()
        cmd = [*self.base(), "get", RESOURCE, name, "-o", "json", "--watch", "--output-watch-events"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        try:
            assert proc.stdout is not None
            yield from iter_json_objects(_chunks(proc.stdout))
            proc.wait()
            if proc.returncode not in (0, None):
                message = error_text(proc.stderr.read() if proc.stderr else "")
                raise self._missing(name, (NotFound if _NOT_FOUND.search(message) else KubectlError)(
                    message or f"kubectl watch exited with {proc.returncode}"))
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _chunks(stream) -> Iterator[str]:
    # Line by line rather than read(n): a watch must render as soon as an event arrives.
    yield from iter(stream.readline, "")


def iter_json_objects(chunks) -> Iterator[Any]:
    """Decode a stream of concatenated JSON objects (kubectl pretty-prints each watch event)."""
    decoder = json.JSONDecoder()
    buffer = ""
    for chunk in chunks:
        buffer += chunk
        if not chunk.rstrip().endswith("}"):
            continue  # an object cannot have ended here: don't re-parse a partial one on every line
        while True:
            stripped = buffer.lstrip()
            if not stripped:
                buffer = ""
                break
            try:
                value, end = decoder.raw_decode(stripped)
            except json.JSONDecodeError:
                buffer = stripped
                break
            yield value
            buffer = stripped[end:]
