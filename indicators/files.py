"""Reading files: checksums (provenance of inputs, manifests of outputs) and YAML."""

from __future__ import annotations

import copy
import hashlib
from functools import lru_cache
from pathlib import Path

import yaml

# libyaml's loader when PyYAML was built with it: about ten times faster than the pure-Python one on the registry
# and the mapping specs, which every build reads
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def sha256_file(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks so that large deliveries are never held in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_yaml(text: str):
    """yaml.safe_load, with the C loader when available (raises yaml.YAMLError like safe_load).

    A text is parsed once per process and each call gets its own copy (free to change): a build looks at every
    mapping spec several times (which specs exist, the file each names, its target, the spec itself: about 500
    parses of 25 files in a sample build), and a copy costs a tenth of a parse. The text itself is the key, so an
    edited file is parsed again however quickly it was rewritten."""
    return copy.deepcopy(_parsed(text))


@lru_cache(maxsize=256)
def _parsed(text: str):
    return yaml.load(text, Loader=YAML_LOADER)
