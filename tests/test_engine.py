"""The engine's shape, checked fast: no import cycle among its modules (lazy
imports inside functions count too), and every CLI command has a test that
runs it through the real entry point."""
import ast
import re
from pathlib import Path

from conftest import ROOT

ENGINE = ROOT / "bilicast"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def engine_imports() -> dict[str, set[str]]:
    """bilicast module -> the bilicast modules it imports, anywhere in its code."""
    modules = {module_name(p): p for p in ENGINE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module or ""
                for alias in node.names:   # `from . import x` imports the module x
                    found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_import_cycle_in_the_engine():
    graph = engine_imports()
    assert len(graph) > 30   # the walk found the engine
    cycles = []

    def visit(module, path):
        for imported in sorted(graph[module]):
            if imported in path:
                cycles.append(path[path.index(imported):] + [imported])
            elif imported not in done:
                visit(imported, path + [imported])
        done.add(module)
    done: set[str] = set()
    for module in sorted(graph):
        if module not in done:
            visit(module, [module])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_every_command_has_an_end_to_end_test():
    """A test runs each `bilicast` command through `python -m bilicast.cli`
    or `cli.main([...])`, the entry point a creator's shell reaches."""
    from bilicast.cli import build_parser
    commands = build_parser()._subparsers._group_actions[0].choices   # noqa: SLF001 (argparse keeps them there)
    sources = [p.read_text(encoding="utf-8") for p in Path(__file__).parent.glob("test_*.py")]
    runs = re.compile(r'(?:"bilicast\.cli",\s*|cli\.main\(\[\s*|\b(?:cli|run)\([^,()]+,\s*)"([a-z]+)"')
    tested = {m for text in sources for m in runs.findall(text)}
    assert set(commands) - tested == set(), f"commands no test runs: {sorted(set(commands) - tested)}"


def test_no_test_imports_another():
    """Shared helpers live in conftest.py: a test module imported by another
    would run its tests' module-level setup twice and tie the two together."""
    imported = []
    for path in Path(__file__).parent.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("test_"):
                imported.append(f"{path.name} imports {node.module}")
            elif isinstance(node, ast.Import):
                imported += [f"{path.name} imports {a.name}" for a in node.names if a.name.startswith("test_")]
    assert not imported, imported
