"""Hostile labels, and what a page must not do with them: for the tests of every HTML/SVG sink.

Each payload that could run script sets ``window.__pwned`` (or opens a dialog, or loads ``x``); a
test loads the page in Chromium with a ``Watch`` on it and checks afterwards that none of that
happened, that the labels are shown as text, and that the step-through still steps.
"""

from __future__ import annotations

from microgradx import Value
from microgradx.viz.markup import LABEL_CHARS, visible

# The first label is also the output's: it is in the page's title, the first text the old
# chained str.replace inserted and then scanned again for "{data}".
ROOT_LABEL = "{data}</script><img src=x onerror=window.__pwned=1>"
HOSTILE = [
    "</script><script>window.__pwned=2</script>",
    "{uid}",
    "{svg}",
    "{live}",
    "{script}",
    "{table}",
    "{title}</title><script>window.__pwned=3</script>",
    "{static}{first}{max}{fit}{checked}",
    "<!--<script>",
    "<!--<script>window.__pwned=4</script>-->",
    "<script><!--",
    "</scRIPT ><img src=x onerror=window.__pwned=5>",
    "</script\t/><svg onload=window.__pwned=6>",
    "<svg onload=window.__pwned=7>",
    '"><img src=x onerror=window.__pwned=8>',
    "'><img src=x onerror=alert(9)>",
    "javascript:window.__pwned=10",
    '<a href="javascript:window.__pwned=11">link</a>',
    "&lt;script&gt;window.__pwned=12&lt;/script&gt;",
    "&amp;&#60;&#x3c;&quot;",
    "line\u2028separator\u2029paragraph",
    "]]><img src=x onerror=window.__pwned=13>",
    "<![CDATA[<img src=x onerror=window.__pwned=14>]]>",
    "<style>*{display:none !important}</style>",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__pwned=15>",
    "x" * 20_000,
    "nul\x00bel\x07esc\x1b[31m red\x7f\x9b",
    "new\nline\rcarriage\ttab",
    "${window.__pwned=16}`${alert(17)}`",
    "{{constructor.constructor('window.__pwned=18')()}}",
    "back\\slash \\N \\G \\\\ \"double\" 'single'",
    "}->{<>|[label=x];",
    "\u202eRTL override\u202c \u200fmark\u200e \u2066isolate\u2069",
    "lone \udc80 surrogate \ud800",
    "\ufeffBOM \ufffe \U0010ffff noncharacters",
    "zero\u200bwidth",
    "ünïcödé ∂δ 漢字 😀",
]
assert len(HOSTILE) >= 20

# What each label looks like on the page: control and invisible characters written out, long
# labels cut with an ellipsis (the same function the drawings use, so the two agree).
SHOWN = {label: visible(label, LABEL_CHARS) for label in [ROOT_LABEL, *HOSTILE]}


def hostile_graph() -> Value:
    """A graph whose every leaf and intermediate node carries a hostile label."""
    leaves = [Value(0.05 * (k + 1), label=label) for k, label in enumerate(HOSTILE)]
    total = leaves[0]
    for k, leaf in enumerate(leaves[1:], start=1):
        total = total + leaf * 0.5
        total.label = HOSTILE[-k]
    out = total.tanh()
    out.label = ROOT_LABEL
    return out


_HANDLERS = """() => {
  const found = [];
  for (const element of document.querySelectorAll("*")) {
    for (const attribute of element.attributes) {
      const name = attribute.name.toLowerCase(), value = attribute.value.toLowerCase();
      if (name.startsWith("on") || value.includes("javascript:")) {
        found.push(element.tagName + " " + name + "=" + attribute.value);
      }
    }
  }
  return found;
}"""


class Watch:
    """Records what a payload would cause on ``page``: dialogs, script errors, console errors,
    requests to anything but ``allowed`` (a URL prefix). Requests to ``ignored`` (a URL prefix:
    the host page's own, such as nbconvert's template reaching for a CDN) and the errors of
    their failing are not counted."""

    def __init__(self, page, allowed: str, ignored: str | None = None) -> None:  # type: ignore[no-untyped-def]
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []

        def counted(url: str | None) -> bool:
            return not (ignored and url and url.startswith(ignored))

        def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on(
            "console",
            lambda message: (
                self.errors.append(f"{message.text} ({message.location.get('url')})")
                if message.type == "error" and counted(message.location.get("url"))
                else None
            ),
        )
        page.on(
            "request",
            lambda request: (
                None
                if request.url.startswith((allowed, "data:")) or not counted(request.url)
                else self.requests.append(request.url)
            ),
        )

    def check(self, page) -> None:  # type: ignore[no-untyped-def]
        """No payload ran: the flag is unset, no dialog, no error, no request, no handler."""
        assert page.evaluate("typeof window.__pwned") == "undefined", "a payload ran"
        assert self.dialogs == [], f"a payload opened a dialog: {self.dialogs}"
        assert self.errors == [], f"errors on the page: {self.errors}"
        assert self.requests == [], f"the page requested: {self.requests}"
        assert page.evaluate(_HANDLERS) == [], "an element with an event handler or a js: URL"


def names_in_picture(page, root: str) -> set[str]:  # type: ignore[no-untyped-def]
    """The name line of every box of the step-through at ``root`` (as text)."""
    return set(
        page.locator(f"{root} .mgx-graph-box g.node text.name").evaluate_all(
            "ts => ts.map(t => t.textContent)"
        )
    )


def steps_through(page, root, equations, clicks=None):  # type: ignore[no-untyped-def]
    """The step-through at ``root`` steps with the buttons (through the first ``clicks`` steps,
    or all), the slider and the keys, and shows each step's equation exactly (as text)."""
    stepper = page.locator(root)
    assert stepper.get_attribute("data-ready") == "1", "the step-through's script did not run"
    controls = stepper.locator(".mgx-controls")
    assert controls.is_visible() and stepper.locator(".mgx-graph-box svg").is_visible()

    def check(i: int) -> None:
        assert stepper.get_attribute("data-step") == str(i)
        assert stepper.locator(".mgx-live .mgx-equation").text_content() == equations[i]

    check(0)
    for i in range(1, min(len(equations), (clicks or len(equations)) + 1)):
        stepper.locator(".mgx-next").click()
        check(i)
    last = len(equations) - 1
    stepper.locator(".mgx-slider").fill(str(last))
    check(last)
    stepper.locator(".mgx-slider").fill("0")
    check(0)
    stepper.locator(".mgx-live .mgx-equation").click()  # the keys work once it has the focus
    page.keyboard.press("ArrowRight")
    check(1)
    stepper.locator(".mgx-previous").click()
    check(0)
