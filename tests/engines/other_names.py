"""A correct engine with other spellings: .val, .g and backprop(); only + and *."""


class Node:
    def __init__(self, val, parents=(), local=()):
        self.val = float(val)
        self.g = 0.0
        self.parents = parents
        self.local = local

    def __add__(self, other):
        return Node(self.val + other.val, (self, other), (1.0, 1.0))

    def __mul__(self, other):
        return Node(self.val * other.val, (self, other), (other.val, self.val))

    def backprop(self):
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in node.parents)
        self.g += 1.0
        for node in reversed(order):
            for parent, local in zip(node.parents, node.local):
                parent.g += local * node.g
