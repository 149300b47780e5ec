"""An engine that raises, while it is imported, an exception whose __str__ raises."""


class Unprintable(Exception):
    def __str__(self):
        raise Unprintable()


raise Unprintable()
