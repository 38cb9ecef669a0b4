"""Honest dependencies: every third-party import of product code is declared.

The product packages (``station``, ``training``, ``engines``, ``ui``) are read
as source (AST, so imports inside functions, ``try`` blocks and
``if TYPE_CHECKING:`` blocks count too). Each third-party module is mapped to
the distribution that provides it, and that distribution must be declared in
``[project].dependencies`` or in a product extra of ``pyproject.toml`` (``dev``
is not one: a user never installs it).

A module that only an extra provides must be imported behind a guard, so that a
core install (``pip install cras-station``) gives a clear message instead of a
``ModuleNotFoundError``. An import is guarded when:

- it sits in ``if TYPE_CHECKING:`` (never runs), or
- it sits in a ``try`` whose ``except ImportError`` (or ``ModuleNotFoundError``)
  handler raises our own error (or ``SystemExit``, for a package that cannot
  load at all) with a message naming the extra, ``pip install 'cras-station[EXTRA]'``
  (the text may come from a module-level string constant the handler names), or
- the same distribution is imported behind such a guard at module level in the
  same module or in the ``__init__.py`` of a package that contains it (the
  module cannot load without passing that guard first).
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from engines.kernels.errors import KernelUnavailableError
from station.acquisition.errors import ProducerError
from station.acquisition.producer import import_harvesters_core

REPO_ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ("station", "training", "engines", "ui")
PROJECT_NAME = "cras-station"
# Extras a user installs with the product. `dev` holds test and lint tools only.
NON_PRODUCT_EXTRAS = frozenset({"dev"})

# Modules whose distribution `packages_distributions()` cannot tell here: the
# distribution is absent on this machine (tensorrt, pycuda), or the top-level
# name is shared by several distributions (google.*).
MODULE_DISTRIBUTIONS = {
    "cv2": "opencv-python-headless",
    "yaml": "pyyaml",
    "PIL": "pillow",
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "google.protobuf": "protobuf",
    "tensorrt": "tensorrt",
    "pycuda": "pycuda",
    "harvesters": "harvesters",
    "genicam": "genicam",
    "PyQt6": "pyqt6",
    "pyqtgraph": "pyqtgraph",
    "triton": "triton",
}

IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError"})


def normalise(name: str) -> str:
    """A distribution name in its canonical form (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Declarations:
    """What pyproject.toml declares: core distributions and each extra's."""

    core: frozenset[str]
    extras: dict[str, frozenset[str]]

    def product_extras_providing(self, distribution: str) -> list[str]:
        return sorted(
            extra
            for extra, names in self.extras.items()
            if extra not in NON_PRODUCT_EXTRAS and distribution in names
        )


def read_declarations(pyproject: Path) -> Declarations:
    """Parse ``[project]`` dependencies and extras (self-references are expanded)."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    raw_extras = {
        extra: [Requirement(text) for text in texts]
        for extra, texts in project.get("optional-dependencies", {}).items()
    }

    def expand(requirements: list[Requirement], seen: frozenset[str]) -> set[str]:
        names: set[str] = set()
        for requirement in requirements:
            if normalise(requirement.name) == PROJECT_NAME:
                for extra in requirement.extras - seen:
                    names |= expand(raw_extras.get(extra, []), seen | {extra})
            else:
                names.add(normalise(requirement.name))
        return names

    core = frozenset(expand([Requirement(text) for text in project["dependencies"]], frozenset()))
    extras = {
        extra: frozenset(expand(requirements, frozenset({extra})))
        for extra, requirements in raw_extras.items()
    }
    return Declarations(core=core, extras=extras)


@functools.cache
def _installed_distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def distributions_of(module: str) -> set[str]:
    """The distributions that may provide ``module`` (empty when unknown)."""
    parts = module.split(".")
    for length in range(len(parts), 0, -1):
        known = MODULE_DISTRIBUTIONS.get(".".join(parts[:length]))
        if known:
            return {normalise(known)}
    installed = _installed_distributions().get(parts[0], [])
    return {normalise(name) for name in installed}


@dataclass(frozen=True)
class ImportSite:
    """One third-party import statement in product code."""

    module: str
    path: Path
    line: int
    under_type_checking: bool
    handler_texts: tuple[str, ...]  # handlers of enclosing `try`s that catch ImportError
    at_module_level: bool


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return False
    caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(name, ast.Name) and name.id in IMPORT_ERRORS for name in caught)


def _raises_our_error(handler: ast.ExceptHandler) -> bool:
    """The handler raises a non-builtin exception (ours), or SystemExit."""
    for node in ast.walk(handler):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            name = node.exc.func
            if isinstance(name, ast.Name) and (
                name.id == "SystemExit" or not hasattr(builtins, name.id)
            ):
                return True
    return False


def _module_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` assignments (any string expression, as source)."""
    constants: dict[str, str] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign | ast.AnnAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                if isinstance(target, ast.Name) and statement.value is not None:
                    constants[target.id] = ast.unparse(statement.value)
    return constants


def _guard_text(handler: ast.ExceptHandler, constants: dict[str, str]) -> str | None:
    """The handler's source plus the constants it names; None when it does not raise ours."""
    if not _raises_our_error(handler):
        return None
    text = ast.unparse(handler)
    named = {node.id for node in ast.walk(handler) if isinstance(node, ast.Name)}
    return text + "".join(constants[name] for name in sorted(named & constants.keys()))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _first_party(top: str) -> bool:
    return top in PRODUCT_PACKAGES or top == "__future__" or top in sys.stdlib_module_names


def import_sites(path: Path, root: Path) -> Iterator[ImportSite]:
    """Every third-party import statement in one source file, with its context."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    constants = _module_constants(tree)
    relative = path.relative_to(root)

    def visit(
        node: ast.AST, type_checking: bool, handlers: tuple[str, ...], module_level: bool
    ) -> Iterator[ImportSite]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            if isinstance(node, ast.ImportFrom):
                modules = [node.module] if node.level == 0 and node.module else []
            else:
                modules = [alias.name for alias in node.names]
            for module in modules:
                if not _first_party(module.split(".")[0]):
                    yield ImportSite(
                        module, relative, node.lineno, type_checking, handlers, module_level
                    )
            return
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                yield from visit(child, True, handlers, module_level)
            for child in node.orelse:
                yield from visit(child, type_checking, handlers, module_level)
            return
        if isinstance(node, ast.Try | ast.TryStar):
            guards = tuple(
                text
                for handler in node.handlers
                if _catches_import_error(handler)
                and (text := _guard_text(handler, constants)) is not None
            )
            for child in node.body:
                yield from visit(child, type_checking, handlers + guards, module_level)
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                yield from visit(child, type_checking, handlers, module_level)
            return
        inner_level = module_level and not isinstance(
            node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.If
        )
        for child in ast.iter_child_nodes(node):
            yield from visit(child, type_checking, handlers, inner_level)

    for statement in tree.body:
        yield from visit(statement, False, (), True)


def _names_extra(texts: tuple[str, ...], extras: list[str]) -> bool:
    return any(f"{PROJECT_NAME}[{extra}]" in text for text in texts for extra in extras)


def find_violations(root: Path, packages: tuple[str, ...] = PRODUCT_PACKAGES) -> list[str]:
    """Undeclared or unguarded third-party imports under ``root``, one message each."""
    declarations = read_declarations(root / "pyproject.toml")
    sites = [
        site
        for package in packages
        for path in sorted((root / package).rglob("*.py"))
        for site in import_sites(path, root)
    ]
    # Distributions each module (file) can only be loaded with, by a module-level guard.
    guarded_files: dict[Path, set[str]] = {}
    for site in sites:
        if site.at_module_level and site.handler_texts and not site.under_type_checking:
            guarded_files.setdefault(site.path, set()).update(distributions_of(site.module))

    def guarded_by_a_loader(site: ImportSite, distributions: set[str]) -> bool:
        loaders = [site.path] + [
            parent / "__init__.py" for parent in site.path.parents if parent != Path(".")
        ]
        return any(distributions & guarded_files.get(loader, set()) for loader in loaders)

    violations = []
    for site in sites:
        where = f"{site.path}:{site.line}"
        distributions = distributions_of(site.module)
        if not distributions:
            violations.append(
                f"{where}: cannot tell which distribution provides `{site.module}`; install it "
                "or add it to MODULE_DISTRIBUTIONS in tests/unit/test_dependencies.py"
            )
            continue
        if distributions & declarations.core:
            continue
        extras = sorted(
            {e for d in distributions for e in declarations.product_extras_providing(d)}
        )
        names = ", ".join(sorted(distributions))
        if not extras:
            in_dev = any(
                distributions & declarations.extras.get(e, set()) for e in NON_PRODUCT_EXTRAS
            )
            where_now = "only in the dev extra" if in_dev else "not declared in pyproject.toml"
            violations.append(
                f"{where}: `{site.module}` comes from {names}, which is {where_now}; add it to "
                "[project].dependencies (or to a product extra, behind a guarded import)"
            )
            continue
        if site.under_type_checking or guarded_by_a_loader(site, distributions):
            continue
        if not _names_extra(site.handler_texts, extras):
            wanted = " or ".join(f"pip install '{PROJECT_NAME}[{extra}]'" for extra in extras)
            violations.append(
                f"{where}: `{site.module}` comes only from the extra(s) {', '.join(extras)} "
                "but its import is not guarded; wrap it in try/except ImportError raising our "
                "own error "
                f"whose message says {wanted}"
            )
    return violations


def test_product_imports_are_declared_and_optional_ones_guarded() -> None:
    violations = find_violations(REPO_ROOT)
    assert not violations, "\n".join(violations)


# The checker itself, on small planted source trees.

PYPROJECT = """
[project]
name = "cras-station"
dependencies = ["numpy>=1.26", "pyyaml>=6"]
[project.optional-dependencies]
kernels = ["triton>=3.0"]
gpu = ["cras-station[kernels]", "pycuda>=2024.1"]
dev = ["scipy>=1.11"]
"""


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def _check(tmp_path: Path, files: dict[str, str]) -> list[str]:
    return find_violations(_plant(tmp_path, files), packages=("engines",))


def test_core_imports_pass_in_any_form(tmp_path: Path) -> None:
    source = "import numpy as np\nimport yaml\n\ndef f():\n    from numpy.linalg import norm\n"
    assert _check(tmp_path, {"engines/a.py": source}) == []


def test_undeclared_and_dev_only_imports_are_named_with_file_and_line(tmp_path: Path) -> None:
    source = (
        "import numpy\n\ndef f():\n    try:\n        import onnx\n"
        "    except ValueError:\n        pass\n    from scipy import ndimage\n"
    )
    violations = _check(tmp_path, {"engines/a.py": source})
    assert len(violations) == 2
    assert violations[0].startswith("engines/a.py:5: `onnx` comes from onnx")
    assert "not declared in pyproject.toml" in violations[0]
    assert violations[1].startswith("engines/a.py:8: `scipy` comes from scipy")
    assert "only in the dev extra" in violations[1]


def test_extra_import_needs_a_guard_naming_the_extra(tmp_path: Path) -> None:
    unguarded = "def f():\n    import triton\n"
    wrong_extra = (
        "def f():\n    try:\n        import triton\n    except ImportError:\n"
        "        raise KernelError(\"pip install 'cras-station[camera]'\") from None\n"
    )
    swallowed = (
        "try:\n    import triton\nexcept ImportError:\n"
        "    print(\"pip install 'cras-station[kernels]'\")\n"
    )
    builtin_raise = (
        "try:\n    import triton\nexcept ImportError:\n"
        "    raise RuntimeError(\"pip install 'cras-station[kernels]'\")\n"
    )
    for source in (unguarded, wrong_extra, swallowed, builtin_raise):
        violations = _check(tmp_path, {"engines/a.py": source})
        assert len(violations) == 1, source
        assert "`triton` comes only from the extra(s) gpu, kernels" in violations[0]
        assert (
            "pip install 'cras-station[gpu]' or pip install 'cras-station[kernels]'"
            in (violations[0])
        )


def test_guards_that_count(tmp_path: Path) -> None:
    files = {
        # A guard whose message lives in a module constant.
        "engines/a.py": (
            "HINT = \"pip install 'cras-station[gpu]'\"\n"
            "def f():\n    try:\n        import pycuda.driver\n"
            "    except (OSError, ImportError):\n"
            "        raise BackendError('no pycuda', hint=HINT)\n"
        ),
        # A module-level guard covers the module's later imports of the same distribution.
        "engines/b.py": (
            "try:\n    import triton\nexcept ModuleNotFoundError:\n"
            "    raise KernelError(\"pip install 'cras-station[kernels]'\") from None\n"
            "def f():\n    from triton.language import standard\n"
        ),
        # A package's __init__ guard covers every module inside it.
        "engines/qt/__init__.py": (
            "try:\n    import triton\nexcept ImportError as error:\n"
            "    raise SystemExit(f\"{error}: pip install 'cras-station[kernels]'\") from None\n"
        ),
        "engines/qt/window.py": "import triton.language as tl\n",
        "engines/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import triton\n",
    }
    assert _check(tmp_path, files) == []


def test_a_guard_inside_a_function_covers_nothing_else(tmp_path: Path) -> None:
    source = (
        "def f():\n    try:\n        import triton\n    except ImportError:\n"
        "        raise KernelError(\"pip install 'cras-station[kernels]'\") from None\n"
        "def g():\n    import triton\n"
    )
    violations = _check(tmp_path, {"engines/a.py": source})
    assert [v.split(":")[:2] for v in violations] == [["engines/a.py", "7"]]


# The guards themselves: what a core install says when an extra is missing.


def _import_fresh(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, module, raising=False)
    importlib.import_module(module)


def test_kernel_module_without_triton_names_the_kernels_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "triton", None)
    with pytest.raises(KernelUnavailableError) as raised:
        _import_fresh("engines.kernels.triton_center_match", monkeypatch)
    assert raised.value.message.startswith(
        "the Triton center-matching kernel needs the `triton` package"
    )
    assert "pip install 'cras-station[kernels]'" in raised.value.hint


def test_camera_without_harvesters_names_the_camera_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "harvesters", None)
    monkeypatch.setitem(sys.modules, "harvesters.core", None)
    with pytest.raises(ProducerError, match=re.escape("pip install 'cras-station[camera]'")):
        import_harvesters_core()


def test_windows_without_qt_stop_with_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PyQt6", None)
    with pytest.raises(SystemExit) as raised:
        _import_fresh("ui", monkeypatch)
    message = str(raised.value.code)
    assert message.startswith("error: the station's windows cannot load Qt")
    assert "pip install 'cras-station[ui]'" in message
