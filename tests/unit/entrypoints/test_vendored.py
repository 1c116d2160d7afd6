"""The vendored chart library is the version `make vendor` names, with its licence, inside the package."""

from __future__ import annotations

import re
from pathlib import Path

from healthmon.entrypoints.http.templating import STATIC_DIRECTORY

ROOT = Path(__file__).resolve().parents[3]
UPLOT = STATIC_DIRECTORY / "vendor" / "uplot"


def test_vendored_uplot_is_the_version_make_vendor_names_with_its_licence() -> None:
    match = re.search(r"^UPLOT_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)
    assert match is not None
    version = match[1]
    assert (UPLOT / "VERSION").read_text().startswith(f"uplot {version} ")
    assert (
        (UPLOT / "uPlot.iife.min.js")
        .read_text()
        .startswith(f"/*! https://github.com/leeoniya/uPlot (v{version}) */")
    )
    assert (UPLOT / "LICENSE").read_text().startswith("The MIT License (MIT)")
    assert (UPLOT / "uPlot.min.css").stat().st_size > 0


def test_no_page_or_script_loads_anything_from_elsewhere() -> None:
    remote = re.compile(r"""(src|href)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?(https?:)?//|@import""", re.I)
    for path in [*STATIC_DIRECTORY.glob("*.*"), *(STATIC_DIRECTORY.parent / "templates").glob("*")]:
        assert remote.search(path.read_text()) is None, path
