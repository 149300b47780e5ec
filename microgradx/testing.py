"""Testing tools, for our tests and for yours.

- Hypothesis strategies for random expression graphs (``expressions``, ``op_inputs``,
  ``well_conditioned``; defined in ``microgradx.strategies``)::

      from hypothesis import given
      from microgradx import gradcheck
      from microgradx.testing import expressions

      @given(expressions())
      def test_gradients(expr):
          gradcheck(expr, expr.inputs)

Needs hypothesis: ``pip install 'microgradx[test]'``.
"""

from microgradx.enginecheck.api import check_engine, check_target
from microgradx.enginecheck.findings import EngineReport, Finding, TargetError
from microgradx.strategies import Expression, Step, expressions, op_inputs, well_conditioned

__all__ = [
    "EngineReport",
    "Expression",
    "Finding",
    "Step",
    "TargetError",
    "check_engine",
    "check_target",
    "expressions",
    "op_inputs",
    "well_conditioned",
]
