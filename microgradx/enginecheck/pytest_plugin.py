"""A pytest plugin: ``pytest --engine=module:Value`` checks an engine, one test per finding.

Installed with microgradx (the ``pytest11`` entry point ``microgradx``), so a course repository
adds one line, on the command line or in its configuration::

    pytest --engine=nanograd:Value            # or path/to/nanograd.py:Value

    # pytest.ini                               # pyproject.toml: [tool.pytest.ini_options]
    [pytest]
    engine = nanograd:Value

Each finding of ``microgradx.enginecheck.api.check_target`` becomes a test named
``engine::<check>`` (``engine::op tanh``, ``engine::backward() twice``): a wrong value or
gradient or a crash fails with the finding's message and smallest input, an unsupported form or
a check the budget did not reach is skipped with its reason, a behaviour next to IEEE-754's
passes with the behaviour in its report section. A target that cannot be checked is one failing
test, ``engine::target``, whose message is the one line ``microgradx check`` prints.
``--engine-data-attr``, ``--engine-grad-attr``, ``--engine-backward``, ``--engine-budget`` and
``--engine-seed`` are ``microgradx check``'s options.

Without ``--engine`` (or ``engine =``) the plugin adds nothing and runs nothing. The check runs
once, at collection (the tests' names are the checks found); under pytest-xdist every worker
would run it, so run it with ``-p no:xdist`` or ``-n 0``.

This module imports pytest, so only pytest loads it; nothing in microgradx imports it.
"""

from __future__ import annotations

from typing import Any

import pytest

from microgradx.enginecheck.command import DEFAULT_BUDGET, parse_name, parse_seconds, parse_seed
from microgradx.enginecheck.findings import (
    BEHAVIOUR,
    NOT_CHECKED,
    UNSUPPORTED,
    EngineReport,
    Finding,
    TargetError,
)
from microgradx.enginecheck.report import summary
from microgradx.viz.markup import visible

PREFIX = "engine"  # the tests' node ids: engine::op tanh
_REPORT = pytest.StashKey[EngineReport]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("microgradx", "checking an autodiff engine (microgradx check)")
    group.addoption(
        "--engine",
        metavar="TARGET",
        default=None,
        help="check this engine's Value class, one test per finding: path/to/file.py or"
        " package.module, either with :ClassName",
    )
    group.addoption("--engine-data-attr", type=parse_name, metavar="NAME", help="its number's name")
    group.addoption(
        "--engine-grad-attr", type=parse_name, metavar="NAME", help="its gradient's name"
    )
    group.addoption(
        "--engine-backward", type=parse_name, metavar="NAME", help="its backward's name"
    )
    group.addoption(
        "--engine-budget",
        type=parse_seconds,
        default=DEFAULT_BUDGET,
        metavar="SECONDS",
        help=f"bound on the whole check (default {DEFAULT_BUDGET:g})",
    )
    group.addoption("--engine-seed", type=parse_seed, default=0, help="for the examples drawn")
    parser.addini("engine", "the engine to check, as --engine (TARGET)", default="")


def _target(config: pytest.Config) -> str:
    given = config.getoption("engine")
    return str(given if given else config.getini("engine")).strip()


class FindingFailed(Exception):
    """A finding that makes the check fail (its message is the test's failure)."""


class FindingItem(pytest.Item):
    """One finding as a test: fails, is skipped or passes as the finding says."""

    def __init__(self, *, finding: Finding | None, problem: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.finding = finding
        self.problem = problem  # a target that cannot be checked

    def runtest(self) -> None:
        finding = self.finding
        if finding is None:
            raise FindingFailed(self.problem)
        if finding.kind in (UNSUPPORTED, NOT_CHECKED):
            pytest.skip(visible(f"{finding.kind}: {finding.message or finding.check}", 500))
        if finding.kind == BEHAVIOUR and finding.message:
            self.add_report_section("call", "behaviour", visible(finding.message, newlines=True))
        if finding.failed:
            example = f"\nsmallest failing input: {finding.example}" if finding.example else ""
            raise FindingFailed(f"{finding.kind}: {finding.message}{example}")

    def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
        if isinstance(excinfo.value, FindingFailed):
            return visible(str(excinfo.value), newlines=True)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.name


def _items(session: pytest.Session, target: str) -> list[FindingItem]:
    config = session.config
    # Lazily: the checker loads only when an engine is named.
    from microgradx.enginecheck.api import check_target

    try:
        report: EngineReport = check_target(
            target,
            data_attr=config.getoption("engine_data_attr"),
            grad_attr=config.getoption("engine_grad_attr"),
            backward=config.getoption("engine_backward"),
            budget=config.getoption("engine_budget"),
            seed=config.getoption("engine_seed"),
        )
    except TargetError as error:
        problem = f"cannot check {target}: {error}"
        return [
            FindingItem.from_parent(
                session, name="target", nodeid=f"{PREFIX}::target", finding=None, problem=problem
            )
        ]
    config.stash[_REPORT] = report
    items = []
    for finding in report.findings:
        name = visible(finding.check, 200)
        items.append(
            FindingItem.from_parent(session, name=name, nodeid=f"{PREFIX}::{name}", finding=finding)
        )
    return items


@pytest.hookimpl(tryfirst=True)  # before -k and -m deselect: they apply to these tests too
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    target = _target(config)
    if target:
        items.extend(_items(session, target))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    report = config.stash.get(_REPORT, None)
    if report is not None:
        line = f"microgradx check {report.target}: {summary(report)}"
        terminalreporter.write_line(visible(line, 2000))
