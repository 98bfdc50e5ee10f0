"""The closed choices of run options (``--device``, ``--compile``, ``--isolate``, ``--shapes``):
the enums the options table (checker/options.py) parses them into and the stages compare with."""

from __future__ import annotations

import enum


class Device(enum.StrEnum):
    """``--device``: where cases run."""

    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


class CompilePolicy(enum.StrEnum):
    """``--compile``: how far cases are compiled in a supervised worker first
    (``run_options.RunOptions.compile_level`` says what each does)."""

    AUTO = "auto"
    OFF = "off"
    CHECK = "check"
    FULL = "full"
    #: level full for the cases the device does not run (on CPU: full shapes), check for the
    #: rest: ptxas crashes and compile timeouts of full-shape configs, found without a GPU.
    FULL_SHAPES = "full-shapes"


class Isolate(enum.StrEnum):
    """``--isolate``: whether cases run in a supervised worker process."""

    AUTO = "auto"
    ON = "on"
    OFF = "off"


class ShapeSet(enum.StrEnum):
    """``--shapes``: which of a spec's shapes are swept (``sweep.shapes_for``)."""

    ALL = "all"
    SMALL = "small"
    FULL = "full"
