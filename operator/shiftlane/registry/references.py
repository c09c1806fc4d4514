"""Image references of a pod template, parsed into where each image lives.

The grammar is distribution's (github.com/distribution/reference), which containerd and the kubelet
use: a name of lowercase path components under an optional registry host, then ``:tag`` and/or
``@digest``. ECR hosts get their account, region and partition read out, since every ECR call needs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

_HOST_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_HOST_COMPONENT}(?:\.{_HOST_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128}"

# Anchored and RE2-compatible, so the CRD can use it as a CEL `matches` rule on every image:
# `self.matches(IMAGE_REFERENCE_PATTERN)`. It checks the grammar only; what needs more than a
# pattern (an ECR host with a malformed account or region, a name over 255 characters) is judged
# by parse_image, and ends in a Stalled condition naming the container.
IMAGE_REFERENCE_PATTERN = (
    rf"^(?:{_HOST}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*(?::{_TAG})?(?:@(?:{_DIGEST}))?$"
)

_REFERENCE = re.compile(
    rf"^(?P<name>(?:{_HOST}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$"
)
_ECR_HOST = re.compile(
    r"^(?P<account>[0-9]{12})\.dkr\.ecr(?P<fips>-fips)?\.(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9])"
    r"\.amazonaws\.com(?P<china>\.cn)?$"
)
# Anything that claims to be an ECR private host, to reject a malformed one rather than treat it as
# some other registry.
_ECR_LIKE = re.compile(r"\.dkr\.ecr[.-]|\.dkr\.ecr$")
ECR_PUBLIC_HOST = "public.ecr.aws"
DOCKER_HUB = "docker.io"
_DOCKER_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io"}
MAX_NAME_LENGTH = 255
DEFAULT_TAG = "latest"


class RegistryKind(StrEnum):
    ECR = "ecr"
    ECR_PUBLIC = "ecr-public"
    DOCKER_HUB = "docker-hub"
    OCI = "oci"


@dataclass(frozen=True)
class EcrRegistry:
    account: str
    region: str
    fips: bool
    china: bool


@dataclass(frozen=True)
class ImageReference:
    """One container's image. ``tag`` is ``latest`` when the reference names neither tag nor digest, as
    the kubelet reads it."""

    container: str
    init: bool
    written: str
    kind: RegistryKind
    registry: str  # host[:port]; docker.io for Docker Hub
    repository: str  # the path inside the registry (library/nginx for the short name nginx)
    tag: str | None
    digest: str | None
    ecr: EcrRegistry | None = None

    @property
    def name(self) -> str:
        """The reference without tag or digest, spelled out in full."""
        return f"{self.registry}/{self.repository}"

    def pinned(self, digest: str) -> str:
        return f"{self.name}@{digest}"

    def describe(self) -> str:
        """For messages: the repository and what the container asks for."""
        return self.name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


class MalformedImage(ValueError):
    def __init__(self, container: str, image: str, why: str) -> None:
        super().__init__(f"container {container!r}: image {image!r} {why}")
        self.container = container


def parse_image(container: str, image: str, *, init: bool = False) -> ImageReference:
    match = _REFERENCE.match(image)
    if not match:
        raise MalformedImage(container, image, "is not a valid image reference (registry/name[:tag][@sha256:digest], name in lowercase)")
    name, tag, digest = match["name"], match["tag"], match["digest"]
    if len(name) > MAX_NAME_LENGTH:
        raise MalformedImage(container, image, f"has a name longer than {MAX_NAME_LENGTH} characters")
    first, _, rest = name.partition("/")
    # As containerd reads it: the first component is a host only if it looks like one.
    if rest and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        host, path = first, rest
    else:
        host, path = DOCKER_HUB, name
    if path != path.lower():
        raise MalformedImage(container, image, "has uppercase letters in its repository name")
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    common = {"container": container, "init": init, "written": image, "tag": tag, "digest": digest}

    if ecr := _ECR_HOST.match(host):
        registry = EcrRegistry(ecr["account"], ecr["region"], fips=bool(ecr["fips"]), china=bool(ecr["china"]))
        return ImageReference(kind=RegistryKind.ECR, registry=host, repository=path, ecr=registry, **common)
    if _ECR_LIKE.search(host.lower()):
        raise MalformedImage(
            container, image,
            "names an ECR host that is not <12-digit account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]",
        )
    if host == ECR_PUBLIC_HOST:
        if "/" not in path:
            raise MalformedImage(container, image, "names ECR Public without a registry alias (public.ecr.aws/<alias>/<repository>)")
        return ImageReference(kind=RegistryKind.ECR_PUBLIC, registry=host, repository=path, **common)
    if host in _DOCKER_HUB_ALIASES:
        repository = path if "/" in path else f"library/{path}"
        return ImageReference(kind=RegistryKind.DOCKER_HUB, registry=DOCKER_HUB, repository=repository, **common)
    return ImageReference(kind=RegistryKind.OCI, registry=host, repository=path, **common)


def template_images(template: dict[str, Any]) -> list[ImageReference]:
    """Every init container's and container's image, in pod order. Raises MalformedImage for the first
    malformed one, naming its container."""
    spec = template.get("spec") or {}
    references = []
    for key, init in (("initContainers", True), ("containers", False)):
        for container in spec.get(key) or []:
            name = container.get("name", "")
            image = container.get("image")
            if not isinstance(image, str) or not image:
                raise MalformedImage(name, str(image or ""), "is empty")
            references.append(parse_image(name, image, init=init))
    return references
