"""Hostile: backward() forks a process that sleeps, then the engine's process exits."""

import os
import time

from engine_base import Value as Base


class Value(Base):
    def backward(self):
        if os.fork() == 0:
            with open(os.environ["FORKS_PIDS"], "a") as pids:  # for the test to look for it
                pids.write(f"{os.getpid()}\n")
            time.sleep(300)
            os._exit(0)
        os._exit(3)
