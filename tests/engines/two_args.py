"""A target whose Value needs two arguments."""


class Value:
    def __init__(self, data, label):
        self.data = data
        self.grad = 0.0
        self.label = label

    def backward(self):
        self.grad = 1.0
