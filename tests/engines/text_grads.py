"""A correct engine that leaves its gradients as text: backward() stores str(gradient).

float("1.5") parses a string, so a checker reading numbers with float() would pass it."""

from engine_base import Value as Base


class Value(Base):
    def backward(self):
        super().backward()
        stack, seen = [self], set()
        while stack:
            node = stack.pop()
            if id(node) not in seen:
                seen.add(id(node))
                node.grad = str(node.grad)
                stack.extend(node._children)
