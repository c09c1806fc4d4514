"""Image registries: references, ECR and generic OCI lookups, the image policy, pull secrets."""
