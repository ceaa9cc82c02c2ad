"""The manual in docs/ and the README stay true to the code (offline, no MNIST, no training).

Every list is derived from the code (the Typer app, the pydantic run-file models, the registries), so a
subcommand, option, strategy, model, protocol or analysis added later without documentation fails here, and
so does a documented key that no longer exists or whose documented default differs from the code's.
An option is documented by one table row whose first cell is its dotted key in backticks and whose second
cell is its default: ``| `data.correlation` | `0.95` | ... |`` (sweep-file keys: ``| sweep `name` | ...``).
"""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
ROW = re.compile(r"^\| `([^`]+)` \| `([^`]*)` \|(.*)\|\s*$", re.M)
SWEEP_ROW = re.compile(r"^\| sweep `([^`]+)` \| (.+?) \|", re.M)
COMMON = {"config", "runs_dir", "seed", "device", "set_", "json_out", "quiet"}


def doc(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def all_docs() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md")))


def section(text: str, heading: str) -> str:
    """The text under ``heading`` (a whole Markdown heading line) up to the next heading of the same or a higher level."""
    m = re.search(rf"^{re.escape(heading)}\s*$", text, re.M)
    assert m, f"no heading {heading!r}"
    level = len(heading) - len(heading.lstrip("#"))
    rest = text[m.end():]
    nxt = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: nxt.start()] if nxt else rest


def fmt(value) -> str:
    """A default as the docs write it (TOML-like)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return json.dumps(value) if value else "{}"
    return repr(value)


def literal_values(annotation) -> list[str]:
    """Every string a Literal inside ``annotation`` allows (Optional[...], list[Literal[...]] included)."""
    if typing.get_origin(annotation) is typing.Literal:
        return [a for a in typing.get_args(annotation) if isinstance(a, str)]
    return [v for arg in typing.get_args(annotation) for v in literal_values(arg)]


def code_options() -> dict[str, tuple[str, list[str]]]:
    """Every run-file key -> (its default as documented, the Literal values it allows)."""
    from lazyartist_cli.config import RunConfig
    from lazyartist_cli.models import OPTIONS
    from lazyartist_cli.strategies import STRATEGIES

    out: dict[str, tuple[str, list[str]]] = {}

    def walk(model: type[BaseModel], prefix: str, defaults: dict | None = None) -> None:
        for name, field in model.model_fields.items():
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                walk(field.annotation, f"{prefix}{name}.")
                continue
            default = (defaults or {}).get(name, field.get_default(call_default_factory=True))
            out[prefix + name] = (fmt(default), literal_values(field.annotation))

    walk(RunConfig, "")
    for name, cls in STRATEGIES.items():
        walk(cls.Config, f"strategy.{name}.")
    schemas = {schema for schema, _ in OPTIONS.values() if schema is not None}
    for schema in schemas:  # documented with the default network's defaults
        walk(schema, "train.model_options.", OPTIONS["lazy-cnn"][1] if OPTIONS["lazy-cnn"][0] is schema else None)
    return out


def documented_rows() -> dict[str, list[tuple[str, str]]]:
    rows: dict[str, list[tuple[str, str]]] = {}
    for key, default, rest in ROW.findall(all_docs()):
        rows.setdefault(key, []).append((default, rest))
    return rows


def test_every_run_file_option_is_documented_once_with_its_default():
    code, rows = code_options(), documented_rows()
    missing = sorted(set(code) - set(rows))
    assert not missing, f"run-file keys with no row in docs/ (add one to docs/run-file.md or docs/strategies.md): {missing}"
    twice = sorted(k for k in code if len(rows[k]) > 1)
    assert not twice, f"run-file keys documented more than once: {twice}"
    wrong = {k: (rows[k][0][0], code[k][0]) for k in code if rows[k][0][0] != code[k][0]}
    assert not wrong, f"documented default != code default (doc, code): {wrong}"


def test_every_documented_option_exists():
    code = code_options()
    stale = sorted(k for k in documented_rows() if k not in code)
    assert not stale, f"docs/ documents keys the run file no longer has: {stale}"


def test_every_allowed_value_of_an_option_is_named_in_its_row():
    code, rows = code_options(), documented_rows()
    missing = {k: v for k, (_, values) in code.items() if k in rows
               for v in [[x for x in values if f"`{x}`" not in rows[k][0][1]]] if v}
    assert not missing, f"values an option accepts that its row does not name: {missing}"


def test_every_sweep_file_key_is_documented_with_its_default():
    from lazyartist_cli.pipeline.sweep_file import SweepFile

    rows = dict(SWEEP_ROW.findall(doc("commands.md")))
    for name, field in SweepFile.model_fields.items():
        assert name in rows, f"sweep-file key {name!r} has no row in docs/commands.md"
        default = field.get_default(call_default_factory=True)
        assert rows[name] == ("required" if default is PydanticUndefined else f"`{fmt(default)}`"), name
    assert set(rows) <= set(SweepFile.model_fields), f"stale sweep-file rows: {set(rows) - set(SweepFile.model_fields)}"


def subcommands():
    import typer.main

    from lazyartist_cli.cli.app import app

    return typer.main.get_command(app).commands


def test_every_subcommand_and_its_own_options_are_documented():
    text = doc("commands.md")
    for name, command in subcommands().items():
        body = section(text, f"## `lazy {name}`")
        for param in command.params:
            if param.name in COMMON:
                continue
            names = param.opts if param.param_type_name == "option" else [param.name]
            assert any(f"`{n}" in body for n in names), f"`lazy {name}`: option {names} not in docs/commands.md"
    for opt in ("--config", "--runs-dir", "--seed", "--device", "--set", "--json", "--quiet"):
        assert f"`{opt}" in section(text, "## Common options"), opt


def test_readme_is_one_screen_and_lists_every_subcommand():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 200, f"README.md has {len(text.splitlines())} lines; the manual belongs in docs/"
    table = section(text, "## Subcommands")
    for name in subcommands():
        assert f"`lazy {name}" in table, f"README's subcommand table lacks `lazy {name}`"
    for link in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (ROOT / link).exists(), f"README links to a missing page {link}"
    for block in ("study-headline", "study-time", "study-time@quickstart"):  # scripts/render_blocks.py's blocks
        assert f"<!-- lazy:{block} -->" in text and f"<!-- /lazy:{block} -->" in text, block


def test_readme_install_and_test_commands_are_the_ones_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = README.read_text(encoding="utf-8")
    install = re.search(r"^pip install .*$", ci, re.M).group(0).replace(" -q", "")
    test = [line for line in ci.splitlines() if line.startswith("python -m pytest")]
    assert install in readme, f"README must show CI's install command: {install}"
    assert test and all(t in readme for t in test), f"README must show CI's test command: {test}"


def test_every_registered_name_has_its_section():
    from lazyartist_cli.attacks import ATTACKS
    from lazyartist_cli.config import DataConfig
    from lazyartist_cli.executors import EXECUTORS
    from lazyartist_cli.interpret import ATTRIBUTIONS
    from lazyartist_cli.interpret.chromatic import COLOR_METHODS
    from lazyartist_cli.models import MODELS
    from lazyartist_cli.pipeline.analyses import ANALYSES
    from lazyartist_cli.strategies import STRATEGIES

    strategies, models, dataset, analyses = doc("strategies.md"), doc("models.md"), doc("dataset.md"), doc("analyses.md")
    for name in STRATEGIES:
        section(strategies, f"## `{name}`")
    for name in MODELS:
        section(models, f"## `{name}`")
    for name in literal_values(DataConfig.model_fields["protocol"].annotation):
        section(dataset, f"### `{name}`")
    for name in ANALYSES:
        section(analyses, f"## `lazy {name}`")
    for name in [*ATTACKS, *ATTRIBUTIONS, *COLOR_METHODS]:
        assert f"`{name}`" in analyses, f"{name!r} is not named in docs/analyses.md"
    for name in EXECUTORS:
        assert f"`{name}`" in section(doc("commands.md"), "## `lazy sweep`"), f"executor {name!r} not in docs/commands.md"


def test_chromatic_share_references_match_the_code():
    from lazyartist_cli.interpret.chromatic import ISOTROPIC_SHARE, LUMINANCE_SHARE

    text = section(doc("analyses.md"), "## `lazy gradcam`")
    assert f"| {LUMINANCE_SHARE:.2f} |" in text and f"| {ISOTROPIC_SHARE:.2f} |" in text
    assert 0.3 < LUMINANCE_SHARE < 0.45  # a luminance reader is not at 0


def test_chromatic_share_of_a_luminance_reader_is_luminance_share():
    """The constant that the docs and the report quote is what the attribution split measures on a model that
    reads Rec. 601 luminance (saliency of a linear luminance read-out)."""
    import torch

    from lazyartist_cli.interpret.chromatic import LUMINANCE_SHARE, chromatic_share, color_components
    from lazyartist_cli.models import LUMA

    class Luma(torch.nn.Module):
        def forward(self, x):  # (B, 3, H, W) -> (B, 2): the mean luminance and its negative
            lum = torch.einsum("bchw,c->b", x, torch.tensor(LUMA))
            return torch.stack([lum, -lum], 1)

    x = torch.rand(4, 3, 6, 6)
    gray, chroma, _ = color_components("saliency", Luma(), x, torch.zeros(4, dtype=torch.long))
    assert torch.allclose(chromatic_share(gray, chroma), torch.full((4,), LUMINANCE_SHARE), atol=1e-5)


@pytest.mark.parametrize("path", ["README.md", "examples.toml", *[f"docs/{p.name}" for p in sorted(DOCS.glob("*.md"))]])
def test_the_product_speaks_of_itself_only(path):
    text = (ROOT / path).read_text(encoding="utf-8").lower()
    for phrase in (r"sessions? \d", "our development", "development machine", "our runs", "our machine"):
        assert not re.search(rf"\b{phrase}", text), f"{path} says {phrase!r}"


def test_readme_states_the_run_files_settings_as_they_are():
    """The README's descriptions of the quick run and the study (sizes, epochs, share) come from their run files."""
    from lazyartist_cli.config import load_config

    text = README.read_text(encoding="utf-8")
    quick = load_config(ROOT / "quickstart.toml")
    assert f"({quick.data.n_train:,} training images, {quick.train.epochs} epochs, one seed)" in text
    assert quick.study.seeds == 1 and quick.study.strategies == ["consistency"] and "one strategy" in text
    study = load_config(ROOT / "examples.toml")
    assert (f"The study trains `{study.study.model}` on `{study.data.protocol}` Colored-MNIST "
            f"({study.data.correlation:.0%} of the training images in their digit's colour)\nfor {study.train.epochs} epochs") in text


FAILURE_KEYS = {"ok", "error", "exit_code"}  # every command's JSON has `ok`; a failure's `error` and `exit_code`


def _returned_keys(fn) -> set[str]:
    """The top-level keys of the dicts ``fn`` returns, read from its source: a returned dict literal's keys; for a
    returned name, those of the dict literal assigned to it (or of what the function it was assigned from returns)
    and of every ``name["key"] = ...``. Nested functions are not read."""
    import ast
    import importlib
    import inspect
    import textwrap

    func = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]

    def own_nodes(node):  # the function's own statements, not those of the functions defined inside it
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                yield child
                yield from own_nodes(child)

    def literal(node: ast.Dict) -> set[str]:
        assert all(isinstance(k, ast.Constant) for k in node.keys), f"{fn.__qualname__}: a returned dict with a ** or computed key"
        return {k.value for k in node.keys}

    def called(call: ast.Call):
        name = call.func.id
        if name in fn.__globals__:
            return fn.__globals__[name]
        for node in own_nodes(func):  # imported inside the function
            if isinstance(node, ast.ImportFrom) and any(a.name == name for a in node.names):
                module = importlib.import_module("." * node.level + (node.module or ""), fn.__module__.rpartition(".")[0])
                return getattr(module, name)
        raise AssertionError(f"{fn.__qualname__}: cannot find {name}")

    keys: set[str] = set()
    for ret in (n for n in own_nodes(func) if isinstance(n, ast.Return) and n.value is not None):
        if isinstance(ret.value, ast.Dict):
            keys |= literal(ret.value)
            continue
        assert isinstance(ret.value, ast.Name), f"{fn.__qualname__}: returns something other than a dict or a name"
        var = ret.value.id
        for node in (n for n in own_nodes(func) if isinstance(n, ast.Assign)):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == var:
                    keys |= literal(node.value) if isinstance(node.value, ast.Dict) else _returned_keys(called(node.value))
                elif (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and target.value.id == var
                      and isinstance(target.slice, ast.Constant)):
                    keys.add(target.slice.value)
    return keys


def _documented_json_keys(body: str) -> set[str]:
    """The top-level keys a command's section lists after ``JSON:``, up to the end of that sentence (a ``.`` or ``;``
    outside code and parentheses): each code span outside parentheses names one, by its leading word
    (``runs.<run>.{...}`` -> ``runs``)."""
    m = re.search(r"JSON:\s", body)
    assert m, "no `JSON:` sentence"
    spans, depth, code, current = [], 0, False, ""
    text = body[m.end():]
    for i, ch in enumerate(text):
        if ch == "`":
            if code and depth == 0:
                spans.append(current)
            code, current = not code, ""
        elif code:
            current += ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and ch in ".;" and (i + 1 == len(text) or text[i + 1].isspace()):
            break
    return {re.match(r"[A-Za-z_]\w*", s).group(0) for s in spans if re.match(r"[A-Za-z_]", s)}


def test_every_json_key_a_command_prints_is_documented_and_every_documented_one_is_printed():
    from lazyartist_cli.cli.app import app

    text = doc("commands.md")
    for command in app.registered_commands:
        fn = command.callback.__wrapped__  # the command's body; lazy_command adds only the failure keys
        code = _returned_keys(fn) - FAILURE_KEYS
        documented = _documented_json_keys(section(text, f"## `lazy {command.name}`")) - FAILURE_KEYS
        assert code == documented, (f"`lazy {command.name} --json`: printed but not in docs/commands.md: "
                                    f"{sorted(code - documented)}; documented but not printed: {sorted(documented - code)}")


def test_the_table_of_options_a_command_would_ignore_is_the_code_s():
    from lazyartist_cli.cli.common import _FLAG, READS, REFUSED, RUN_FILE_KEYS, _shown

    rows = {m.group(1): (m.group(2).strip(), m.group(3).strip()) for m in re.finditer(
        r"^\| `([a-z-]+)` \|(.*?)\|(.*?)\|\s*$", section(doc("commands.md"), "## Common options"), re.M)}
    assert set(rows) == set(READS), f"commands with no row (or rows of no command): {set(READS) ^ set(rows)}"
    for name, (reads, refused) in rows.items():
        named = re.findall(r"`([^`]+)`", re.sub(r"\([^)]*\)", "", reads))
        if reads.startswith("every key"):
            expected = {_shown(k) for k in RUN_FILE_KEYS if k not in named}
            assert {_shown(k) for k in READS[name]} == expected, name
        else:
            assert named == [_shown(k) for k in READS[name]] or (reads == "none" and not READS[name]), name
        assert re.findall(r"`(--[a-z]+)`", re.sub(r"\([^)]*\)", "", refused)) == [_FLAG[o] for o in REFUSED[name]], name
