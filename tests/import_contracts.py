"""An import-linter contract for a top-level module file such as `worker.py`.

import-linter's graph (grimp) takes packages only as roots, so `worker` is seen only as
something others import (the forbidden contracts catch that); what `worker.py` itself
imports is read here from its source.
"""

from __future__ import annotations

import ast
from pathlib import Path

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


def imported_modules(source: str) -> list[tuple[int, str]]:
    """Every module the source imports, anywhere in it (function-level imports too)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def within(module: str, packages: list[str]) -> str | None:
    return next((p for p in packages if module == p or module.startswith(p + ".")), None)


class ModuleFileContract(Contract):
    """`module_file` imports none of `forbidden_modules` (or anything inside them)."""

    module_file = fields.StringField()
    forbidden_modules = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        path = Path(str(self.module_file))
        forbidden = [str(m) for m in self.forbidden_modules]  # type: ignore[attr-defined]
        broken = [
            (line, module, package)
            for line, module in imported_modules(path.read_text(encoding="utf-8"))
            if (package := within(module, forbidden)) is not None
        ]
        return ContractCheck(kept=not broken, metadata={"path": str(path), "broken": broken})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for line, module, package in check.metadata["broken"]:
            output.print_error(
                f"{check.metadata['path']} is not allowed to import {package}: {module} (l.{line})"
            )
            output.print()
