"""A real Prometheus (Debian's package) for tests: on a free loopback port, with a temporary config
scraping the given loopback targets every second, optionally behind basic auth (web.config.file).

    with PrometheusServer([ScrapeJob("podserver", [f"127.0.0.1:{PODSERVER_METRICS_PORT}"])]) as prom:
        prom.wait_for_series('up{job="podserver"}')
        ... Prometheus provider with address=prom.url ...

hack/install-test-deps.sh installs the package; `BINARY` is None where it is missing (tests skip).
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BINARY = shutil.which("prometheus")
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ScrapeJob:
    name: str  # the `job` label of its series
    targets: list[str]  # host:port, loopback only
    metrics_path: str = "/metrics"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


class PrometheusServer:
    def __init__(self, jobs: list[ScrapeJob], basic_auth: tuple[str, str] | None = None, scrape_interval: str = "1s") -> None:
        for job in jobs:
            for target in job.targets:
                assert target.split(":")[0] in (LOOPBACK, "localhost"), f"only loopback targets: {target}"
        self.jobs = jobs
        self.basic_auth = basic_auth
        self.scrape_interval = scrape_interval
        self.port = 0
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 30) -> None:
        assert BINARY is not None, "prometheus is not installed (hack/install-test-deps.sh)"
        assert self._process is None, "already running"
        self._folder = tempfile.TemporaryDirectory(prefix="shiftlane-prometheus-")
        folder = Path(self._folder.name)
        self.port = free_port()
        config = {
            "global": {"scrape_interval": self.scrape_interval, "evaluation_interval": self.scrape_interval},
            "scrape_configs": [
                {"job_name": job.name, "metrics_path": job.metrics_path, "static_configs": [{"targets": job.targets}]}
                for job in self.jobs
            ],
        }
        (folder / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
        args = [BINARY, f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address={LOOPBACK}:{self.port}", "--log.level=warn"]
        if self.basic_auth:
            import bcrypt  # a test dependency: Prometheus keeps bcrypt hashes of its users' passwords

            user, password = self.basic_auth
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
            (folder / "web.yml").write_text(json.dumps({"basic_auth_users": {user: hashed}}))
            args.append(f"--web.config.file={folder / 'web.yml'}")
        with open(folder / "prometheus.log", "wb") as log_file:
            self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log_file)
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self._process.poll() is not None or time.monotonic() > deadline:
                log = (folder / "prometheus.log").read_text()[-2000:]
                self.stop()
                raise RuntimeError(f"prometheus did not become ready:\n{log}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def __enter__(self) -> PrometheusServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- asking it directly ------------------------------------------------------------------------

    def _ready(self) -> bool:
        try:
            urllib.request.urlopen(self._request("/-/ready"), timeout=1).close()
            return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def _request(self, path: str) -> urllib.request.Request:
        request = urllib.request.Request(self.url + path)
        if self.basic_auth:
            token = base64.b64encode(":".join(self.basic_auth).encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        return request

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector ``promql`` gives now (its `result` list)."""
        path = "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(self._request(path), timeout=5) as response:
            return json.loads(response.read())["data"]["result"]

    def wait_for_series(self, promql: str, timeout: float = 30, samples: int = 1) -> list[dict[str, Any]]:
        """Waits until ``promql`` has at least ``samples`` samples (for a range selector, points)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            count = sum(len(r.get("values", [r.get("value")])) for r in result)
            if count >= samples:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {samples} sample(s) of {promql!r} after {timeout}s (last: {result})")
            time.sleep(0.25)
