"""Images in moto's ECR, for tests and the demo: a small manifest per image, pushed with PutImage."""

from __future__ import annotations

import json
import socket
from typing import Any


def free_port() -> int:
    """A loopback port free now, for a moto server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manifest(layer: str) -> str:
    """A Docker v2 manifest whose only layer digest is ``layer`` repeated: one distinct image per letter."""
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7, "digest": "sha256:" + "c" * 64},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 9, "digest": "sha256:" + layer * 64}],
    })


def push(client: Any, repository: str, tag: str, layer: str = "a", mutability: str = "MUTABLE") -> str:
    """The image's digest, once ``repository`` (created if missing) holds it under ``tag``."""
    try:
        client.create_repository(repositoryName=repository, imageTagMutability=mutability)
    except client.exceptions.RepositoryAlreadyExistsException:
        pass
    return client.put_image(repositoryName=repository, imageManifest=manifest(layer), imageTag=tag)["image"]["imageId"]["imageDigest"]
