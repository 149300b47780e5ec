"""Renamed: forward mode is ``microgradx.dual`` (``forward`` also names an op's float rule and
``Module.forward``)."""

raise ImportError("microgradx.forward is now microgradx.dual (Dual, jvp, derivative, count_ops)")
