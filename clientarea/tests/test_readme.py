"""README.md is the manual: what the code reads, it documents; what it names, exists.

- Configuration: every environment variable the product reads is in the table, with the default
  the code uses; every variable in the table (and in deploy/clientarea.env.example) is read.
- Commands: every line of "Commands" runs, with the options it shows, and `clientarea help`
  lists it first.
- Every `make` target, file, folder, Python path, URL and system check id it names exists; the
  demo logins are the ones `make run` prints.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class
from django.urls import Resolver404, resolve

from clientarea import cli
from clientarea.accounts.demo import DEMO_LOGINS

ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGE = ROOT / "clientarea"
README = (ROOT / "README.md").read_text(encoding="utf-8")

ENV_READERS = {"envbool", "envint", "envstr", "envlist", "env_secret"}
#: settings_test.py is the test suite's settings, not the product's.
NOT_THE_PRODUCT = {"settings_test.py", "test.py"}
#: What the README may name that is not in git: outputs of `make bench` and of a running site.
NOT_IN_GIT = {"bench/results-sqlite.md", "bench/results-postgresql.md"}


def section(title: str) -> str:
    """The text of the README's ``## title`` section, up to the next ``## `` heading."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else len(README)]


def code_spans(text: str = README) -> list[str]:
    return re.findall(r"`([^`\n]+)`", text)


# --- Configuration -------------------------------------------------------------------------------


def is_env_read(node: ast.AST) -> bool:
    """``envint("NAME", ...)`` and the like, or ``os.environ.get("NAME", ...)``."""
    if not isinstance(node, ast.Call) or not node.args:
        return False
    if not (isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        return False
    func = node.func
    if isinstance(func, ast.Name):
        return func.id in ENV_READERS
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "get"
        and isinstance(func.value, ast.Attribute)
        and func.value.attr == "environ"
    )


def product_sources() -> list[Path]:
    return [
        path
        for path in PACKAGE.rglob("*.py")
        if "tests" not in path.parts and path.name not in NOT_THE_PRODUCT
    ]


def environment_reads() -> dict[str, list[tuple[str, ast.expr | None]]]:
    """Every variable the product reads: name → [(reader, the default the code falls back to)].

    ``envstr("X") or FALLBACK`` counts FALLBACK as the default (that is what the reader gets)."""
    reads: dict[str, list[tuple[str, ast.expr | None]]] = {}
    for path in product_sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        fallbacks = {
            id(node.values[0]): node.values[-1]
            for node in ast.walk(tree)
            if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or)
        }
        for node in ast.walk(tree):
            if is_env_read(node):
                assert isinstance(node, ast.Call)
                name = node.args[0].value  # type: ignore[attr-defined]
                default = fallbacks.get(id(node), node.args[1] if len(node.args) > 1 else None)
                reader = node.func.id if isinstance(node.func, ast.Name) else "os.environ"
                reads.setdefault(name, []).append((reader, default))
    return reads


def shown(default: ast.expr | None) -> str | None:
    """A default as the README writes it (``1``/``0``, ``$VAR_DIR/media``), or None if it is
    computed in a way the table cannot show as one value."""
    if default is None:
        return ""
    if isinstance(default, ast.Constant):
        value = default.value
        if isinstance(value, bool):
            return "1" if value else "0"
        return str(value)
    if isinstance(default, ast.Name):
        return f"${default.id}"
    if isinstance(default, ast.Call) and isinstance(default.func, ast.Name):
        if default.func.id in {"str", "Path"} and len(default.args) == 1:
            return shown(default.args[0])
        return None
    if isinstance(default, ast.BinOp) and isinstance(default.op, ast.Div):
        left, right = shown(default.left), shown(default.right)
        return None if left is None or right is None else f"{left}/{right}"
    if isinstance(default, ast.BinOp) and isinstance(default.op, ast.Mult):
        left, right = shown(default.left), shown(default.right)
        if left and right and left.isdigit() and right.isdigit():
            return str(int(left) * int(right))
        return None
    if isinstance(default, ast.JoinedStr):
        parts = []
        for part in default.values:
            text = shown(part.value if isinstance(part, ast.FormattedValue) else part)
            if text is None:
                return None
            parts.append(text)
        return "".join(parts)
    return None


def configuration_rows() -> list[tuple[list[str], str]]:
    """The table's rows: (variables named in the first column, the default column)."""
    text = section("Configuration")
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        if len(cells) < 3 or cells[0] in {"variable", "---"}:
            continue
        rows.append((re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]), cells[1]))
    return rows


def documented_variables() -> set[str]:
    return {name for names, _default in configuration_rows() for name in names} - {"NAME_FILE"}


def test_the_configuration_table_is_found() -> None:
    """The checks below read the table; an empty read would make them pass on nothing."""
    assert len(configuration_rows()) > 50
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "DIAN_WS_TIMEOUT"} <= documented_variables()


def test_every_variable_the_product_reads_is_in_the_configuration_table() -> None:
    missing = set(environment_reads()) - documented_variables()
    assert not missing, f"read from the environment but not in README's Configuration: {missing}"


def test_every_variable_in_the_configuration_table_is_read() -> None:
    unread = documented_variables() - set(environment_reads())
    assert not unread, f"in README's Configuration but read nowhere: {unread}"


def test_the_table_shows_the_defaults_the_code_uses() -> None:
    """Where the table gives a plain value (`5`, `$VAR_DIR/media`, empty), it is the code's."""
    reads = environment_reads()
    compared, wrong = 0, []
    for names, cell in configuration_rows():
        values: list[str | None]
        if cell == "empty":
            values = [""] * len(names)
        else:
            items = [item.strip() for item in cell.split(", ")]
            if len(items) != len(names):
                continue
            values = []
            for item in items:
                literal = re.fullmatch(r"`([^`]*)`|(\d+)|(empty)|(-)", item)
                if literal is None:
                    values = []
                    break
                values.append(None if literal[4] else (literal[1] or literal[2] or ""))
        for name, value in zip(names, values, strict=False):
            if value is None or name not in reads:
                continue
            for _reader, default in reads[name]:
                code = shown(default)
                if code is None:
                    continue
                compared += 1
                if code != value:
                    wrong.append(
                        f"{name}: README says {value or 'empty'}, the code {code or 'empty'}"
                    )
    assert compared > 50
    assert not wrong, wrong


def test_every_secret_that_may_come_from_a_file_says_so() -> None:
    """``env_secret`` also reads ``NAME_FILE``: the table names each such variable."""
    secrets = {
        name for name, reads in environment_reads().items() for r, _ in reads if r == "env_secret"
    }
    text = section("Configuration")
    name_file_row = next(line for line in text.splitlines() if line.startswith("| `NAME_FILE`"))
    listed = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", name_file_row)) | {
        name
        for line in text.splitlines()
        if "(or `_FILE`)" in line
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)` \(or `_FILE`\)", line)
    }
    assert secrets - listed == set()


def test_the_deploy_environment_uses_documented_variables() -> None:
    example = (ROOT / "deploy" / "clientarea.env.example").read_text(encoding="utf-8")
    names = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    secrets = {
        name for name, reads in environment_reads().items() for r, _ in reads if r == "env_secret"
    }
    for name in names:
        if name == "DJANGO_SETTINGS_MODULE":  # Django's own, which the units need
            continue
        if name.endswith("_FILE"):
            assert name.removesuffix("_FILE") in secrets, name
            name = name.removesuffix("_FILE")
        assert name in documented_variables(), name


# --- Commands -----------------------------------------------------------------------------------


def command_lines() -> list[str]:
    block = section("Commands").split("```")[1]
    return [
        line
        for line in block.splitlines()
        if line.startswith("clientarea ") and not line.startswith("clientarea <")
    ]


def command_words(line: str) -> list[str]:
    """``clientarea einvoice show NUMBER ...`` → ["einvoice", "show"]."""
    words = []
    for word in line.split()[1:]:
        if not re.fullmatch(r"[a-z][a-z_-]*", word):
            break
        words.append(word)
    return words[:2] if words and words[0] == "einvoice" else words[:1]


def help_text(words: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What ``clientarea WORDS --help`` prints (in this process: no database, no files)."""
    with pytest.raises(SystemExit) as exit_:
        if words == ["init-local"]:
            cli.init_local(["--help"])
        else:
            name = cli.ALIASES.get(words[0], words[0])
            command = load_command_class(get_commands()[name], name)
            command.create_parser("clientarea", name).parse_args([*words[1:], "--help"])
    assert exit_.value.code in (0, None)
    return capsys.readouterr().out


def test_the_commands_block_is_found() -> None:
    assert len(command_lines()) >= 10


@pytest.mark.parametrize("line", command_lines(), ids=lambda line: " ".join(command_words(line)))
def test_every_command_the_readme_lists_runs_with_its_options(
    line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    words = command_words(line)
    usage = help_text(words, capsys)
    for option in re.findall(r"--[a-z][a-z-]*", line):
        assert option in usage, f"`clientarea {' '.join(words)}` has no {option}"
    # `clientarea help` lists ClientArea's own commands first, by the README's names.
    assert f"clientarea {words[0]}" in cli.OWN_COMMANDS


def test_every_make_target_the_readme_names_exists() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
    named = {m for span in code_spans() for m in re.findall(r"\bmake ([a-z][a-z-]*)", span)}
    assert {"run", "test", "lint"} <= named
    assert named - targets == set()


# --- Files, Python paths, URLs, checks, demo logins ---------------------------------------------


def repository_files() -> set[str]:
    """Every file and folder of the checkout, relative to it (without .git, .venv and var)."""
    found = set()
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [
            d for d in dirs if d not in {".git", ".venv", "var", "__pycache__", "node_modules"}
        ]
        base = Path(folder).relative_to(ROOT)
        found |= {(base / name).as_posix() for name in [*dirs, *files]}
    return found


PATH_LIKE = re.compile(
    r"(?:\.?[\w-]+/)*[\w.-]+\.(?:py|md|toml|html|json|txt|example|service|timer|typ|po|sh)/?"
    r"|(?:clientarea|bench|deploy|tools|loadtest|\.ci)/[\w./-]*"
)


def test_every_file_the_readme_names_exists() -> None:
    """A path is the checkout's (`deploy/stack.py`) or ends one (`billing/tests/test_admin.py`,
    `base.html`); absolute paths (the server's) and outputs (`bench/results-*.md`) are not."""
    files = repository_files()
    named = {
        token.rstrip("/")
        for span in code_spans()
        for token in re.split(r"[\s,()]+", span)
        if PATH_LIKE.fullmatch(token) and token not in NOT_IN_GIT
    }
    assert {"clientarea/ops/tests/test_workers.py", "deploy/clientarea.env.example"} <= named
    missing = {
        path
        for path in named
        if path not in files and not any(f.endswith(f"/{path}") for f in files)
    }
    assert not missing, f"README names files that are not in the repository: {missing}"


def app_labels() -> set[str]:
    return {path.parent.name for path in PACKAGE.glob("*/__init__.py")}


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:end]))
        except ImportError:
            continue
        try:
            for attribute in parts[end:]:
                value = getattr(value, attribute)
        except AttributeError:
            return False
        return True
    return False


def test_every_python_path_the_readme_names_exists() -> None:
    """`clientarea.lib.http.client_ip`, and `billing.services.mark_order_paid` (an app's module
    and what follows; `billing.add_order`, a permission, or `billing.credit_paid_out`, an audit
    action, are not modules and are left alone)."""
    apps = app_labels()
    checked, missing = 0, []
    for span in code_spans():
        for dotted in re.findall(r"(?<![\w./$-])([a-z_]+(?:\.[A-Za-z_]\w*)+)(?![\w/(])", span):
            parts = dotted.split(".")
            if parts[0] == "clientarea":
                path = dotted
            elif parts[0] in apps and len(parts) >= 2:
                try:
                    importlib.import_module(f"clientarea.{parts[0]}.{parts[1]}")
                except ImportError:
                    continue
                path = f"clientarea.{dotted}"
            else:
                continue
            checked += 1
            if not resolves(path):
                missing.append(dotted)
    assert checked > 30
    assert not missing, missing


def url_paths() -> set[str]:
    spans = code_spans() + re.findall(r"\*\*(/[^*\s]+)\*\*", README)
    prefixes = (
        "/clientarea",
        "/admin",
        "/backoffice",
        "/payments",
        "/sandbox",
        "/help",
        "/healthz",
        "/metrics",
        "/i18n",
    )
    return {span for span in spans if span.startswith(prefixes)}


def test_every_url_the_readme_names_resolves() -> None:
    """A path names a page (`/admin/billing/order/<pk>/credit-note/`, any value in `<>`), or the
    space of the pages it names further on (`/backoffice/`)."""
    paths = url_paths()
    assert {"/clientarea/order/", "/admin/", "/sandbox/dian/"} <= paths
    pages, unresolved = set(), set()
    for path in paths:
        try:
            resolve(re.sub(r"<[^>]*>", "1", path).split("?")[0])
            pages.add(path)
        except Resolver404:
            unresolved.add(path)
    spaces = {path for path in unresolved if any(page.startswith(path) for page in pages)}
    assert unresolved - spaces == set()


def test_every_system_check_the_readme_names_exists() -> None:
    """`einvoice.E008`, and ranges as `payments.W011–W014`."""
    declared = set()
    for path in product_sources():
        declared |= set(re.findall(r'id="([a-z_]+\.[EWI]\d{3})"', path.read_text(encoding="utf-8")))
    named = set()
    for app, kind, first, last in re.findall(
        r"\b([a-z_]+)\.([EWI])(\d{3})(?:–[EWI](\d{3}))?", README
    ):
        for number in range(int(first), int(last or first) + 1):
            named.add(f"{app}.{kind}{number:03d}")
    assert "einvoice.E008" in named
    assert named - declared == set()


def test_the_demo_logins_are_the_ones_make_run_prints() -> None:
    table = section("Demo").split("\n\n")[1]
    rows = [
        tuple(re.findall(r"`([^`]+)`", line)) for line in table.splitlines() if line.count("`") == 4
    ]
    assert rows == [(email, secret) for _role, email, secret in DEMO_LOGINS]
