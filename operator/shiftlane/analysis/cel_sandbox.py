"""CEL compiled and evaluated in a child process that is killed when it takes too long.

The CEL library (common-expression-language, Rust) holds the GIL while it evaluates, and nothing in CEL
bounds the work of nested macros over a long list (``result.all(a, result.all(b, ...))``): in-process, one
such condition would freeze the operator's event loop. A child process can be killed at a deadline and is
started again on the next request; it also keeps a crash or an allocation failure of the library out of
the operator. Requests and answers are JSON lines on the child's stdin and stdout.

Run as ``python -m shiftlane.analysis.cel_sandbox``: the child's side.
"""

from __future__ import annotations

import functools
import json
import os
import re
import resource
import selectors
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

EVALUATION_TIMEOUT = 1.0  # seconds a compile or an evaluation may take before the child is killed
STARTUP_TIMEOUT = 10.0  # seconds for a new child to import the library and say it is ready
# The child's address space: room for the interpreter and the library, not for a runaway list.
MEMORY_LIMIT = 1 << 30


@dataclass(frozen=True)
class Answer:
    """What the child said: ``value`` (true or false for a test), or ``error`` (a readable reason)."""

    value: bool | None = None
    error: str | None = None


class CelSandbox:
    """One child process at a time, shared by all callers (a lock orders their requests)."""

    def __init__(self, timeout: float = EVALUATION_TIMEOUT) -> None:
        self._timeout = timeout
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None

    def compile(self, expression: str) -> Answer:
        return self._ask({"expression": expression})

    def test(self, expression: str, result: Any) -> Answer:
        """Whether ``expression`` holds for ``result``: a bool value, or an error (one that is not a bool too)."""
        return self._ask({"expression": expression, "result": result})

    def _ask(self, request: dict[str, Any]) -> Answer:
        try:
            line = json.dumps(request).encode() + b"\n"
        except (TypeError, ValueError) as error:
            return Answer(error=f"the value cannot be given to CEL: {error}")
        with self._lock:
            child = self._running_child()
            if child is None:
                return Answer(error="the CEL evaluator did not start")
            deadline = time.monotonic() + self._timeout
            try:
                assert child.stdin is not None
                child.stdin.write(line)
                child.stdin.flush()
            except OSError:
                self._stop()
                return Answer(error="the CEL evaluator stopped unexpectedly")
            reply = _read_line(child, deadline)
            if reply is None:
                timed_out = child.poll() is None
                self._stop()
                if timed_out:
                    return Answer(error=f"evaluation took longer than {self._timeout:g}s and was stopped")
                return Answer(error="the CEL evaluator stopped unexpectedly (out of memory?)")
            answer = json.loads(reply)
            return Answer(value=answer.get("value"), error=answer.get("error"))

    def _running_child(self) -> subprocess.Popen[bytes] | None:
        """The child, started if need be; it says ready once it has imported the library."""
        if self._child is not None and self._child.poll() is None:
            return self._child
        self._stop()
        self._child = subprocess.Popen(
            [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
        )
        if _read_line(self._child, time.monotonic() + STARTUP_TIMEOUT) is None:
            self._stop()
        return self._child

    def _stop(self) -> None:
        if self._child is not None:
            self._child.kill()
            self._child.wait()
            for pipe in (self._child.stdin, self._child.stdout):
                if pipe is not None:
                    pipe.close()
            self._child = None


def _read_line(child: subprocess.Popen[bytes], deadline: float) -> bytes | None:
    """One line from the child, or None when it dies or the deadline passes first."""
    assert child.stdout is not None
    fd = child.stdout.fileno()
    chunks: list[bytes] = []
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            chunks.append(chunk)
            if chunk.endswith(b"\n"):
                return b"".join(chunks)


# --- the child's side ---------------------------------------------------------------------------


_POSITION = re.compile(r"ERROR: <input>:(\d+):(\d+): (.*)")
_INNER_MESSAGE = re.compile(r'msg: "([^"]*)"')
MAX_MESSAGE = 300


def _readable(error: Exception) -> str:
    """The library's first complaint in a line, without its echo of the whole expression."""
    if isinstance(error, KeyError):
        return f"no such key: {error}"
    text = str(error)
    found = _POSITION.search(text)
    if found:
        line, column, complaint = found.groups()
        inner = _INNER_MESSAGE.search(complaint)
        text = f"at {line}:{column}: {inner.group(1) if inner else complaint}"
    text = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


@functools.lru_cache(maxsize=256)
def _program(expression: str) -> Any:
    import cel

    return cel.compile(expression)


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    try:
        program = _program(request["expression"])
    except Exception as error:  # the library's parse errors come as several exception types
        return {"error": f"does not compile: {_readable(error)}"}
    if "result" not in request:
        return {}
    try:
        value = program.execute({"result": request["result"]})
    except Exception as error:  # no such key, no such overload, overflow, ...
        return {"error": _readable(error)}
    if not isinstance(value, bool):
        return {"error": f"evaluates to {type(value).__name__} {_excerpt(value)}, not to true or false"}
    return {"value": value}


def _excerpt(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def main() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    import cel  # noqa: F401  (imported before saying ready, so requests are timed without it)

    sys.stdout.write("{}\n")
    sys.stdout.flush()
    for line in sys.stdin.buffer:
        sys.stdout.write(json.dumps(_answer(json.loads(line))) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
