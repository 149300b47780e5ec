"""A target with no Value-like class."""


class Point:
    def __init__(self, x):
        self.x = x
