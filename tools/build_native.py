"""Compile the engine's hot modules with mypyc into ``build/native`` (``make native``).

See ``engine._native`` for what is compiled, where it goes and when it is used. The build
never fails ``make``: without a C compiler or Python's headers the engine runs as Python,
and this says so. Exit status 1 only with ``--require`` (CI).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build(out: Path) -> None:
    """Compile into ``out``: the shared library at the top, one small module per source in
    ``out/engine``, and the stamp that says what they were made from (written last)."""
    # the engine as Python, here only for its lists: not the build being replaced
    os.environ["STEPWISE_ENGINE"] = "python"
    from mypyc.build import mypycify
    from setuptools import Distribution  # type: ignore[import-untyped]

    from engine import _native

    with tempfile.TemporaryDirectory(prefix="stepwise-native-") as temp:
        work = Path(temp)
        extensions = mypycify(
            [
                # the project's mypy settings, minus the note about sections unused here,
                # which mypyc would take for an error
                "--config-file",
                str(ROOT / "pyproject.toml"),
                "--no-warn-unused-configs",
                *(f"engine/{name}.py" for name in _native.MODULES),
            ],
            opt_level="3",
            group_name=_native.GROUP,
            target_dir=str(work / "c"),
        )
        distribution = Distribution({"name": "stepwise-engine-native", "ext_modules": extensions})
        command = distribution.get_command_obj("build_ext")
        command.build_lib = str(work / "lib")
        command.build_temp = str(work / "obj")
        command.parallel = 2
        distribution.run_command("build_ext")
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(work / "lib", out)
    (out / _native.STAMP).write_text(json.dumps(_native.fingerprint(), indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "native")
    parser.add_argument(
        "--require", action="store_true", help="fail when the engine cannot be compiled"
    )
    args = parser.parse_args(argv)
    began = time.monotonic()
    try:
        build(args.out)
    except (Exception, SystemExit) as exc:  # a compiler's failure arrives as SystemExit
        print(f"make native: the engine was not compiled ({exc}); it runs as Python, slower")
        return 1 if args.require else 0
    print(f"make native: engine compiled into {args.out} in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
