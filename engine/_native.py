"""Where the engine's hot modules load from: the compiled build, when one matches the sources.

``make native`` (run by ``make run``, ``make test`` and ``make bench``) compiles the modules
in :data:`MODULES` with mypyc, the compiler that ships with mypy, into ``build/native``.
The sources stay the reference: the compiled modules are the same code, type-checked and
translated to C, and ``engine`` runs the same without them, only slower (the order
template: about 5,800 instances/s as Python, 11,700 compiled, on the benchmark machine).

This module runs first when ``engine`` is imported. It puts ``build/native/engine`` in
front of the package's path when the build there was made from exactly these sources
(their SHA-256 is kept beside it), by this Python, so an edited module never runs stale
compiled code: until it is rebuilt, that whole build is left aside. ``STEPWISE_ENGINE``
chooses: ``auto`` (the default: compiled when usable), ``python`` (never) or ``native``
(compiled or an ImportError saying why not; CI sets it).

Rejected: compiled modules beside the sources (``mypyc --inplace``), which Python prefers
to an edited ``.py``; Cython, a second language for the same code.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Final

MODULES: Final = (
    "interpreter",
    "flow",
    "runtime",
    "calendar",
    "compiled",
    "forms",
    "expressions",
    "_expression_compiler",
    "_expression_functions",
    "_expression_operators",
    "_expression_errors",
    "effects",
    "commands",
    "errors",
    "state",
)
"""The modules compiled: the interpreter and everything it calls on every step. The pydantic
model and validation stay Python: they run once per definition, not at every step."""

GROUP: Final = "stepwise_engine"
"""The name of the compiled build's shared library (``stepwise_engine__mypyc``)."""

SOURCE_DIR: Final = Path(__file__).resolve().parent
BUILD_DIR: Final = SOURCE_DIR.parent / "build" / "native"
STAMP: Final = "stamp.json"


def fingerprint(source_dir: Path = SOURCE_DIR) -> dict[str, str]:
    """What a build must have been made from: this Python and each module's SHA-256."""
    sources = {
        name: hashlib.sha256((source_dir / f"{name}.py").read_bytes()).hexdigest()
        for name in MODULES
    }
    return {"python": sys.version, **sources}


def problem(build_dir: Path = BUILD_DIR, source_dir: Path = SOURCE_DIR) -> str | None:
    """None when the build in ``build_dir`` can be used with the sources in ``source_dir``,
    else why not, in words."""
    try:
        made_from = json.loads((build_dir / STAMP).read_text())
    except FileNotFoundError:
        return f"there is no compiled build in {build_dir} (make native)"
    except (OSError, ValueError) as exc:
        return f"the compiled build's {STAMP} cannot be read: {exc}"
    current = fingerprint(source_dir)
    if made_from.get("python") != current["python"]:
        return "the compiled build was made for another Python"
    changed = [name for name in MODULES if made_from.get(name) != current[name]]
    if changed:
        return f"engine/{changed[0]}.py has changed since the compiled build was made"
    return None


def activate(mode: str | None = None, build_dir: Path = BUILD_DIR) -> str | None:
    """Load the compiled modules from now on if the build is usable; returns why not, or None.

    Raises:
        ImportError: ``mode`` (or ``STEPWISE_ENGINE``) is ``native`` and the build cannot be
            used, or the mode is unknown.
    """
    mode = mode or os.environ.get("STEPWISE_ENGINE", "auto")
    if mode not in ("auto", "python", "native"):
        raise ImportError(f"STEPWISE_ENGINE must be auto, python or native, not {mode!r}")
    if mode == "python":
        return "STEPWISE_ENGINE=python"
    why = problem(build_dir)
    if why is None:
        library = next(build_dir.glob(f"{GROUP}__mypyc.*"), None)
        spec = library and importlib.util.spec_from_file_location(f"{GROUP}__mypyc", library)
        if not spec or spec.loader is None:
            why = "the compiled build has no shared library (make native)"
        else:
            shared = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(shared)
            sys.modules[spec.name] = shared
            package = sys.modules[__name__.rpartition(".")[0]]
            package.__path__.insert(0, str(build_dir / "engine"))
            return None
    if mode == "native":
        raise ImportError(f"STEPWISE_ENGINE=native, but {why}")
    return why


WHY_NOT: Final = activate()
"""None when the engine runs compiled, else why it runs as plain Python."""
