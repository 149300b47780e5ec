"""A correct micrograd-style engine (the test engines plant one bug each on top of it).

Each node keeps its children and its local derivatives; backward() walks the graph with an
explicit stack and adds this pass's gradients to .grad (accumulating, as PyTorch does)."""

import math


class Value:
    def __init__(self, data, _children=(), _local=()):
        self.data = float(data)
        self.grad = 0.0
        self._children = tuple(_children)
        self._local = tuple(_local)

    def _lift(self, other):
        return other if isinstance(other, Value) else type(self)(other)

    def _new(self, data, children, local):
        return type(self)(data, children, local)

    def __add__(self, other):
        other = self._lift(other)
        return self._new(self.data + other.data, (self, other), (1.0, 1.0))

    def __radd__(self, other):
        return self + other

    def __mul__(self, other):
        other = self._lift(other)
        return self._new(self.data * other.data, (self, other), (other.data, self.data))

    def __rmul__(self, other):
        return self * other

    def __sub__(self, other):
        other = self._lift(other)
        return self._new(self.data - other.data, (self, other), (1.0, -1.0))

    def __rsub__(self, other):
        return self._lift(other) - self

    def __truediv__(self, other):
        other = self._lift(other)
        out = self.data / other.data
        return self._new(out, (self, other), (1.0 / other.data, -out / other.data))

    def __rtruediv__(self, other):
        return self._lift(other) / self

    def __pow__(self, other):
        if isinstance(other, Value):
            out = self.data**other.data
            local = (other.data * self.data ** (other.data - 1), out * math.log(self.data))
            return self._new(out, (self, other), local)
        return self._new(self.data**other, (self,), (other * self.data ** (other - 1),))

    def __rpow__(self, other):
        out = other**self.data
        return self._new(out, (self,), (out * math.log(other),))

    def __neg__(self):
        return self._new(-self.data, (self,), (-1.0,))

    def tanh(self):
        t = math.tanh(self.data)
        return self._new(t, (self,), (1.0 - t * t,))

    def exp(self):
        e = math.exp(self.data)
        return self._new(e, (self,), (e,))

    def log(self):
        return self._new(math.log(self.data), (self,), (1.0 / self.data,))

    def relu(self):
        return self._new(max(self.data, 0.0), (self,), (1.0 if self.data > 0 else 0.0,))

    def sigmoid(self):
        s = 1.0 / (1.0 + math.exp(-self.data))
        return self._new(s, (self,), (s * (1.0 - s),))

    def _topo(self):
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in node._children if id(c) not in seen)
        return order

    def _edges(self):
        return zip(self._children, self._local)

    def _store(self, node, g):
        node.grad += g

    def backward(self):
        order = self._topo()
        grads = {id(self): 1.0}
        for v in reversed(order):
            g = grads.get(id(v), 0.0)
            for child, local in v._edges():
                grads[id(child)] = grads.get(id(child), 0.0) + local * g
        for v in order:
            self._store(v, grads.get(id(v), 0.0))
