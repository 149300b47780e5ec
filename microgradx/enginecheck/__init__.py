"""Checking an autodiff engine someone else wrote (a learner's micrograd, a course's, a port):
``microgradx check TARGET`` and ``microgradx.testing.check_engine``."""
