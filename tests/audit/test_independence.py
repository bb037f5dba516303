"""The auditor never imports the gateway: trusting its code would prove nothing."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

AUDIT = Path(__file__).resolve().parents[2] / "audit"


def test_no_module_imports_gateway() -> None:
    modules = sorted(AUDIT.rglob("*.py"))
    assert modules
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                    "import_module", "__import__"):
                names = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            for name in names:
                assert name.split(".")[0] != "gateway", f"{path.name}:{node.lineno} imports {name}"


def test_auditor_runs_with_gateway_blocked(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['gateway'] = None\n"
        "import audit.cli, audit.verify, audit.findings, audit.report_html\n"
        "from audit.verify import verify\n"
        f"r = verify({str(tmp_path)!r})\n"
        "assert not r.verified\n"
        "assert not any(m == 'gateway' or m.startswith('gateway.') for m in sys.modules if sys.modules[m] is not None)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=AUDIT.parent)
    assert proc.returncode == 0, proc.stderr
