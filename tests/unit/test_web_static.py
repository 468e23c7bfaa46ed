"""Static checks of the dashboard in web/: it must run under the strict CSP and never parse data as markup."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Final

import pytest

WEB: Final = Path(__file__).resolve().parents[2] / "web"
JS_FILES: Final = sorted(WEB.glob("*.js"))

# The ids the e2e tests and the docs rely on.
REQUIRED_IDS: Final = (
    "country",
    "reload",
    "filter",
    "users",
    "prev",
    "next",
    "range",
    "page-size",
    "sync-status",
    "sync-warning",
    "api-error",
    "empty-state",
    "content",
    "gender-chart",
    "country-chart",
)

# Sinks that turn strings into markup or code: none may appear in web/*.js.
FORBIDDEN_JS: Final = {
    "innerHTML": re.compile(r"\binnerHTML\b"),
    "outerHTML": re.compile(r"\bouterHTML\b"),
    "insertAdjacentHTML": re.compile(r"\binsertAdjacentHTML\b"),
    "document.write": re.compile(r"\bdocument\s*\.\s*write(?:ln)?\b"),
    "eval": re.compile(r"\beval\s*\("),
    "new Function": re.compile(r"\bnew\s+Function\b"),
    "createContextualFragment": re.compile(r"\bcreateContextualFragment\b"),
    "DOMParser": re.compile(r"\bDOMParser\b"),
    "srcdoc": re.compile(r"\bsrcdoc\b"),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    "string timer": re.compile(r"\bset(?:Timeout|Interval)\s*\(\s*[\"'`]"),
}


class _Page(HTMLParser):
    """Collects what the checks need from index.html."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.script_text.append(data)

    def with_tag(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.elements if name == tag]

    def by_id(self) -> dict[str, tuple[str, dict[str, str | None]]]:
        found: dict[str, tuple[str, dict[str, str | None]]] = {}
        for name, attrs in self.elements:
            element_id = attrs.get("id")
            if element_id is not None:
                found[element_id] = (name, attrs)
        return found


@pytest.fixture(scope="module")
def page() -> _Page:
    parser = _Page()
    parser.feed((WEB / "index.html").read_text(encoding="utf-8"))
    parser.close()
    return parser


def test_the_dashboard_files_exist() -> None:
    for name in ("index.html", "app.js", "app.css"):
        assert (WEB / name).is_file(), name


def test_the_page_declares_language_direction_charset_and_viewport(page: _Page) -> None:
    (html,) = page.with_tag("html")
    assert html.get("lang") == "en"
    assert html.get("dir") == "ltr"
    metas = page.with_tag("meta")
    assert any((meta.get("charset") or "").lower() == "utf-8" for meta in metas)
    assert any(meta.get("name") == "viewport" for meta in metas)


def test_every_script_is_an_external_same_origin_module_with_no_inline_code(
    page: _Page,
) -> None:
    scripts = page.with_tag("script")
    assert scripts, "index.html loads no script"
    for script in scripts:
        src = script.get("src")
        assert src, f"<script> without src: {script}"
        assert not re.match(r"^(?:[a-z]+:)?//", src), (
            f"script from another origin: {src}"
        )
        assert script.get("type") == "module"
    assert page.script_text == []


def test_no_element_has_a_style_attribute_or_an_inline_event_handler(
    page: _Page,
) -> None:
    for tag, attrs in page.elements:
        assert "style" not in attrs, f"<{tag}> has style="
        handlers = [name for name in attrs if name.startswith("on")]
        assert handlers == [], f"<{tag}> has inline handlers {handlers}"
    assert page.with_tag("style") == [], "inline <style> is blocked by style-src 'self'"


def test_no_resource_comes_from_another_origin(page: _Page) -> None:
    for tag, attrs in page.elements:
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not re.match(r"^(?:[a-z]+:)?//", value), f"<{tag} {name}={value}>"


def test_the_ids_the_tests_rely_on_exist_exactly_once(page: _Page) -> None:
    html = (WEB / "index.html").read_text(encoding="utf-8")
    ids = page.by_id()
    for wanted in REQUIRED_IDS:
        assert wanted in ids, f"#{wanted} is missing"
        assert len(re.findall(rf'\bid="{re.escape(wanted)}"', html)) == 1, wanted
    assert ids["country"][0] == "select"
    assert ids["reload"][0] == "button"
    assert ids["users"][0] == "table"


def test_every_id_app_js_looks_up_exists_in_the_page(page: _Page) -> None:
    ids = page.by_id()
    looked_up = set()
    for path in JS_FILES:
        looked_up |= set(
            re.findall(r"byId\(\"([^\"]+)\"\)", path.read_text(encoding="utf-8"))
        )
    assert looked_up, "app.js looks nothing up"
    assert sorted(looked_up - ids.keys()) == []


def test_the_sync_warning_is_an_alert_hidden_until_a_failure(page: _Page) -> None:
    _, warning = page.by_id()["sync-warning"]
    assert warning.get("role") == "alert"
    assert "hidden" in warning
    _, error = page.by_id()["api-error"]
    assert error.get("role") == "alert"


def test_every_form_control_has_a_label(page: _Page) -> None:
    labelled = {attrs.get("for") for attrs in page.with_tag("label")}
    for tag in ("select", "input", "textarea"):
        for attrs in page.with_tag(tag):
            assert attrs.get("id") in labelled or attrs.get("aria-label"), (
                f"<{tag} {attrs}>"
            )


def test_every_button_is_a_plain_button_never_a_submit(page: _Page) -> None:
    for attrs in page.with_tag("button"):
        assert attrs.get("type") == "button", (
            f"{attrs}: a submit would hit form-action 'none'"
        )


@pytest.mark.parametrize("path", JS_FILES, ids=lambda path: path.name)
def test_scripts_never_turn_strings_into_markup_or_code(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    found = [name for name, pattern in FORBIDDEN_JS.items() if pattern.search(source)]
    assert found == []


@pytest.mark.parametrize("path", JS_FILES, ids=lambda path: path.name)
def test_scripts_set_no_style_attribute_and_import_only_local_modules(
    path: Path,
) -> None:
    source = path.read_text(encoding="utf-8")
    assert not re.search(r"setAttribute\(\s*[\"']style[\"']", source)
    imports = re.findall(
        r"^(?:import|export)\s[^;]*?\bfrom\s+\"([^\"]+)\";", source, re.MULTILINE
    )
    for target in imports:
        assert target.startswith("./"), target
        assert (WEB / target).is_file(), target
    assert not re.search(r"\bfetch\(\s*[\"'`]https?:", source), (
        "fetch from another origin"
    )


# Runs web/dom.js in node with a minimal stand-in `document`: for each props
# object, "ok <attributes>" or "refused".
DOM_PROBE: Final = """
const made = [];
globalThis.document = {
  createElement: (tag) => {
    const node = { tag, attrs: {}, children: [],
      setAttribute(k, v) { this.attrs[k] = v; },
      append(c) { this.children.push(c); } };
    made.push(node);
    return node;
  },
};
const { el } = await import(process.argv[1]);
for (const props of JSON.parse(process.argv[2])) {
  try { console.log("ok " + JSON.stringify(el("td", props).attrs)); }
  catch { console.log("refused"); }
}
"""


def test_the_element_helper_refuses_style_and_event_handler_attributes() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: make install-test installs nodejs")
    cases = [
        {"style": "color: red"},
        {"onclick": "alert(1)"},
        {"onMouseOver": "alert(1)"},
        {"class": "col-name", "dir": "auto", "hidden": True, "title": None},
    ]
    result = subprocess.run(
        [node, "--input-type=module", "-e", DOM_PROBE, str(WEB / "dom.js"),
         json.dumps(cases)],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip

    assert result.stdout.splitlines() == [
        "refused",
        "refused",
        "refused",
        'ok {"class":"col-name","dir":"auto","hidden":""}',
    ]


def test_the_stylesheet_shows_focus_and_adapts_to_narrow_screens() -> None:
    css = (WEB / "app.css").read_text(encoding="utf-8")
    assert ":focus-visible" in css
    assert re.search(r"@media\s*\(max-width:", css)
    assert "[hidden]" in css
    assert not re.search(r"@import|url\(\s*[\"']?(?:https?:)?//", css)
