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

from microgradx.strategies import Expression, Step, expressions, op_inputs, well_conditioned

__all__ = ["Expression", "Step", "expressions", "op_inputs", "well_conditioned"]
