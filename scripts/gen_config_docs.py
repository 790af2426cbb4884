#!/usr/bin/env python
"""Generate the configuration reference and the NiftyNet key table from the schema into README.md.

The reference is written between the lines ``<!-- config-reference:start -->`` and
``<!-- config-reference:end -->`` (required); the table of every NiftyNet key and what voxflow
does with it between ``<!-- niftynet-keys:start -->`` and ``<!-- niftynet-keys:end -->`` (when
the file has those lines).

Usage:
    python scripts/gen_config_docs.py            # rewrite the block in README.md
    python scripts/gen_config_docs.py --check    # exit 1 if README.md's block is out of date
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "platform"))

from voxflow.config.docs import (  # noqa: E402
    END_MARKER,
    NIFTYNET_END,
    NIFTYNET_START,
    START_MARKER,
    has_markers,
    render_niftynet_keys,
    render_reference,
    replace_block,
)


def generated(text: str) -> str:
    """``text`` with every generated block it has markers for replaced by the current one."""
    text = replace_block(text, render_reference())
    if has_markers(text, NIFTYNET_START, NIFTYNET_END):
        text = replace_block(text, render_niftynet_keys(), NIFTYNET_START, NIFTYNET_END)
    return text


def main(argv: list[str] | None = None) -> int:
    """Run the generator; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md differs from the generated text")
    parser.add_argument("--readme", default=str(ROOT / "README.md"), help="file to update (default: README.md)")
    args = parser.parse_args(argv)

    readme = Path(args.readme)
    if not readme.is_file():
        print(f"error: {readme} not found", file=sys.stderr)
        return 1
    text = readme.read_text(encoding="utf-8")
    if not has_markers(text):
        print(f"error: {readme} lacks the lines {START_MARKER} and {END_MARKER}", file=sys.stderr)
        return 1
    updated = generated(text)
    if args.check:
        if updated != text:
            print(f"{readme}: the configuration reference or the NiftyNet key table is out of date; "
                  "run python scripts/gen_config_docs.py", file=sys.stderr)
            return 1
        print(f"{readme}: the configuration reference is up to date")
        return 0
    if updated != text:
        temporary = readme.with_name(f".{readme.name}.tmp")
        temporary.write_text(updated, encoding="utf-8")
        os.replace(temporary, readme)
        print(f"{readme}: configuration reference updated")
    else:
        print(f"{readme}: configuration reference already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
