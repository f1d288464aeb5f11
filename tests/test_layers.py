"""Arrows point one way (ARCHITECTURE.md): a static scan of every import statement, function-local ones included."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "nm_tf"
SHARED = {"errors", "runtime", "progress", "plotting", "provenance", "timing", "cluster", "servable", "__init__",
          "__main__"}
LAYERS = {  # layer -> top-level names of nm_tf in it
    "core": {"lattice", "hamiltonian", "exact"},
    "model": {"models"},
    "training": {"annealing"},
    "tools": {"landscape", "modes", "baselines", "export", "server", "client", "sweep", "workflow",
              "representability"},
    "cli": {"cli"},
}
ORDER = ["core", "model", "training", "tools", "cli"]


def _layer(top: str):
    for name, tops in LAYERS.items():
        if top in tops:
            return name
    return "shared" if top in SHARED else None


def _imports(path: Path):
    """``(line, nm_tf top-level name)`` of every import in a module, at any depth."""
    module = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = module[:-1] if path.name != "__init__.py" else module[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "nm_tf" and len(parts) > 1:
                    yield node.lineno, parts[1]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[:len(package) - node.level + 1])
                parts = base + (node.module.split(".") if node.module else [])
            else:
                parts = (node.module or "").split(".")
            if parts[0] != "nm_tf":
                continue
            if len(parts) > 1:
                yield node.lineno, parts[1]
            else:       # from nm_tf import x
                for alias in node.names:
                    yield node.lineno, alias.name


def test_every_module_has_a_layer():
    tops = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in PACKAGE.rglob("*.py")}
    assert sorted(t for t in tops if _layer(t) is None) == []


def test_no_import_points_up_a_layer():
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        top = rel.parts[0].removesuffix(".py")
        here = _layer(top)
        if here in (None, "shared") or top == "__init__":
            continue
        for line, target in _imports(path):
            there = _layer(target)
            if there in ("shared", None) or there == here:
                continue
            if ORDER.index(there) > ORDER.index(here):
                bad.append(f"{rel}:{line} ({here}) imports nm_tf.{target} ({there})")
    assert not bad, "\n".join(bad)


def test_shared_modules_import_no_layer():
    bad = []
    for name in SHARED - {"__init__", "__main__"}:
        path = PACKAGE / f"{name}.py"
        for line, target in _imports(path):
            if _layer(target) not in ("shared", None):
                bad.append(f"{name}.py:{line} imports nm_tf.{target}")
    assert not bad, "\n".join(bad)


def test_the_scan_sees_function_local_imports(tmp_path):
    """The scanner finds an import inside a function, which a look at sys.modules after import cannot."""
    probe = PACKAGE / "annealing" / "driver.py"
    found = {t for _, t in _imports(probe)}
    assert "models" in found          # `from ..models import build_model` inside AnnealRun.build
