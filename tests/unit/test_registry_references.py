import re

import pytest

from shiftlane.registry.pinning import pinned_template
from shiftlane.registry.references import (
    IMAGE_REFERENCE_PATTERN,
    MalformedImage,
    RegistryKind,
    parse_image,
    template_images,
)

DIGEST = "sha256:" + "ab" * 32

VALID = [
    # image, kind, registry, repository, tag, digest
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/checkout:1.4.2", RegistryKind.ECR,
     "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "checkout", "1.4.2", None),
    (f"123456789012.dkr.ecr.us-east-1.amazonaws.com/team/api@{DIGEST}", RegistryKind.ECR,
     "123456789012.dkr.ecr.us-east-1.amazonaws.com", "team/api", None, DIGEST),
    (f"123456789012.dkr.ecr.us-east-1.amazonaws.com/team/api:v2@{DIGEST}", RegistryKind.ECR,
     "123456789012.dkr.ecr.us-east-1.amazonaws.com", "team/api", "v2", DIGEST),
    ("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/svc:1", RegistryKind.ECR,
     "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", "svc", "1", None),
    ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/svc", RegistryKind.ECR,
     "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "svc", "latest", None),
    ("public.ecr.aws/nginx/nginx:1.27", RegistryKind.ECR_PUBLIC, "public.ecr.aws", "nginx/nginx", "1.27", None),
    ("public.ecr.aws/a1b2c3/team/app:2", RegistryKind.ECR_PUBLIC, "public.ecr.aws", "a1b2c3/team/app", "2", None),
    ("nginx", RegistryKind.DOCKER_HUB, "docker.io", "library/nginx", "latest", None),
    ("nginx:1.27-alpine", RegistryKind.DOCKER_HUB, "docker.io", "library/nginx", "1.27-alpine", None),
    ("bitnami/redis:7", RegistryKind.DOCKER_HUB, "docker.io", "bitnami/redis", "7", None),
    ("docker.io/nginx:1", RegistryKind.DOCKER_HUB, "docker.io", "library/nginx", "1", None),
    ("index.docker.io/grafana/grafana", RegistryKind.DOCKER_HUB, "docker.io", "grafana/grafana", "latest", None),
    ("ghcr.io/org/tool:v1.0.0", RegistryKind.OCI, "ghcr.io", "org/tool", "v1.0.0", None),
    ("localhost:5000/app:dev", RegistryKind.OCI, "localhost:5000", "app", "dev", None),
    ("127.0.0.1:5000/a/b/c:x_Y.z", RegistryKind.OCI, "127.0.0.1:5000", "a/b/c", "x_Y.z", None),
    ("registry.example.com:8443/my__app/some-thing.v2", RegistryKind.OCI, "registry.example.com:8443", "my__app/some-thing.v2", "latest", None),
    ("[::1]:5000/app:1", RegistryKind.OCI, "[::1]:5000", "app", "1", None),
]

MALFORMED = [
    ("", "valid image reference"),
    ("Nginx:1", "lowercase"),
    ("Team/app:1", "uppercase"),  # no dot: Docker Hub, and repository names are lowercase
    ("nginx:", "valid image reference"),
    ("nginx:1:2", "valid image reference"),
    ("nginx@sha256:abc", "valid image reference"),  # digest too short
    ("nginx:-bad", "valid image reference"),
    ("app//x:1", "valid image reference"),
    ("http://ghcr.io/app:1", "valid image reference"),
    ("ghcr.io/app:" + "t" * 129, "valid image reference"),
    ("ghcr.io/" + "a" * 250 + ":1", "longer than 255"),
    ("12345.dkr.ecr.eu-west-1.amazonaws.com/app:1", "ECR host"),  # 5-digit account
    ("123456789012.dkr.ecr.europe.amazonaws.com/app:1", "ECR host"),  # no region
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.org/app:1", "ECR host"),
    ("public.ecr.aws/nginx", "registry alias"),
]


@pytest.mark.parametrize(("image", "kind", "registry", "repository", "tag", "digest"), VALID)
def test_valid_references_say_where_the_image_lives(image, kind, registry, repository, tag, digest) -> None:
    ref = parse_image("app", image)
    assert (ref.kind, ref.registry, ref.repository, ref.tag, ref.digest) == (kind, registry, repository, tag, digest)
    # The CRD's pattern accepts what the parser accepts.
    assert re.fullmatch(IMAGE_REFERENCE_PATTERN, image)


def test_ecr_partitions_are_read_from_the_host() -> None:
    fips = parse_image("app", "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/svc:1").ecr
    china = parse_image("app", "210987654321.dkr.ecr.cn-northwest-1.amazonaws.com.cn/svc:1").ecr
    assert (fips.account, fips.region, fips.fips, fips.china) == ("123456789012", "us-gov-west-1", True, False)
    assert (china.account, china.region, china.fips, china.china) == ("210987654321", "cn-northwest-1", False, True)
    assert parse_image("app", "public.ecr.aws/nginx/nginx:1").ecr is None


@pytest.mark.parametrize(("image", "why"), MALFORMED)
def test_malformed_references_name_the_container(image, why) -> None:
    with pytest.raises(MalformedImage, match=why) as raised:
        parse_image("sidecar", image)
    assert "container 'sidecar'" in str(raised.value)
    assert raised.value.container == "sidecar"


def test_the_crd_pattern_refuses_what_the_grammar_refuses() -> None:
    for image, why in MALFORMED:
        if why in ("valid image reference", "lowercase"):
            assert not re.fullmatch(IMAGE_REFERENCE_PATTERN, image), image


def test_every_container_and_init_container_is_read_in_pod_order() -> None:
    template = {"spec": {
        "initContainers": [{"name": "migrate", "image": "ghcr.io/org/migrate:3"}],
        "containers": [{"name": "app", "image": "nginx"}, {"name": "proxy", "image": "public.ecr.aws/envoy/envoy:1"}],
    }}
    refs = template_images(template)
    assert [(r.container, r.init) for r in refs] == [("migrate", True), ("app", False), ("proxy", False)]
    template["spec"]["containers"][1]["image"] = "Envoy"
    with pytest.raises(MalformedImage, match="container 'proxy'"):
        template_images(template)


def test_pinning_rewrites_images_and_adds_the_pull_secret_on_a_copy() -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {
        "initContainers": [{"name": "init", "image": "ghcr.io/org/init:1"}],
        "containers": [{"name": "app", "image": "nginx:1", "ports": [{"containerPort": 80}]}],
    }}
    pinned = pinned_template(template, {"app": f"docker.io/library/nginx@{DIGEST}", "init": f"ghcr.io/org/init@{DIGEST}"},
                             pull_secret="shiftlane-ecr-pull")
    assert pinned["spec"]["containers"][0] == {"name": "app", "image": f"docker.io/library/nginx@{DIGEST}",
                                               "ports": [{"containerPort": 80}]}
    assert pinned["spec"]["initContainers"][0]["image"] == f"ghcr.io/org/init@{DIGEST}"
    assert pinned["spec"]["imagePullSecrets"] == [{"name": "shiftlane-ecr-pull"}]
    # The spec's template (from which the revision hash is taken) is untouched.
    assert template["spec"]["containers"][0]["image"] == "nginx:1" and "imagePullSecrets" not in template["spec"]
    again = pinned_template(pinned, {}, pull_secret="shiftlane-ecr-pull")
    assert again == pinned
