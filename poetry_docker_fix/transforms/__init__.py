"""The passes, in the order they run. Each takes the Dockerfile one step of the article further."""

from __future__ import annotations

from .base import Change, Pass, PassResult
from .cache_mount import CacheMount
from .multi_stage import MultiStage
from .narrow_copy import NarrowCopy
from .no_dev import NoDev
from .pin_poetry import PinPoetry
from .poetry_env import PoetryEnv
from .split_install import SplitInstall

PASSES: tuple[type[Pass], ...] = (
    PinPoetry,
    NarrowCopy,
    PoetryEnv,
    NoDev,
    SplitInstall,
    MultiStage,
    CacheMount,
)

PASS_NAMES = tuple(p.name for p in PASSES)

__all__ = ["PASSES", "PASS_NAMES", "Change", "Pass", "PassResult"]
