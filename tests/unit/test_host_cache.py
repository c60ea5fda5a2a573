"""What every sandbox host's ~/.cache starts with (docker/sandbox/host-cache/, copied at `sandbox.up`) sits where
upstream's own download-if-missing helpers look, read from the checkout's code rather than restated here."""
from __future__ import annotations

import ast
from pathlib import Path

from rt_sandbox.hosts import host_cache_dir
from tests.support import CHECKOUTS, ROOT


def _assigned(module: Path, name: str) -> ast.expr:
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return node.value
    raise AssertionError(f"{module} assigns no {name}")


def _path_parts(expr: ast.expr) -> list[str]:
    """The string parts of a `a / 'b' / 'c'` path expression, in order."""
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Div):
        return _path_parts(expr.left) + _path_parts(expr.right)
    return [expr.value] if isinstance(expr, ast.Constant) and isinstance(expr.value, str) else []


def test_the_openpi_tokenizer_stub_sits_where_ensure_paligemma_tokenizer_looks() -> None:
    module = CHECKOUTS / "positronic-a060cbea" / "positronic" / "vendors" / "openpi" / "__init__.py"
    # _OPENPI_DATA_HOME = Path(os.getenv('OPENPI_DATA_HOME', Path.home() / '.cache' / 'openpi')).expanduser()
    home = _assigned(module, "_OPENPI_DATA_HOME")
    getenv = next(n for n in ast.walk(home) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "getenv")
    default = getenv.args[1]
    assert _path_parts(default) == [".cache", "openpi"]  # the compose files mount the host's ~/.cache there
    # _TOKENIZER_CACHE = _OPENPI_DATA_HOME / 'big_vision' / 'paligemma_tokenizer.model'
    parts = _path_parts(_assigned(module, "_TOKENIZER_CACHE"))
    assert parts == ["big_vision", "paligemma_tokenizer.model"]
    stub = host_cache_dir(ROOT) / "openpi" / Path(*parts)
    assert stub.read_text().startswith("SANDBOX STUB of openpi's PaliGemma tokenizer")


def test_smolvla_base_sits_in_the_hub_cache_where_the_trainer_starts_from() -> None:
    module = CHECKOUTS / "positronic-a060cbea" / "positronic" / "vendors" / "lerobot" / "train.py"
    # @cfn.config(..., base_model='lerobot/smolvla_base', ...) on train()
    tree = ast.parse(module.read_text())
    train = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "train")
    call = next(d for d in train.decorator_list if isinstance(d, ast.Call))
    repo = next(k.value for k in call.keywords if k.arg == "base_model")
    assert isinstance(repo, ast.Constant)
    repo = repo.value
    assert repo == "lerobot/smolvla_base"
    # huggingface_hub's cache layout: models--<org>--<name>/refs/main names the snapshot holding the files
    folder = host_cache_dir(ROOT) / "huggingface" / "hub" / f"models--{repo.replace('/', '--')}"
    snapshot = folder / "snapshots" / (folder / "refs" / "main").read_text().strip()
    assert {"config.json", "model.safetensors", "policy_preprocessor.json", "policy_postprocessor.json"} <= {
        p.name for p in snapshot.iterdir()}
