"""`python3 -m rt_tasks ...` is `rt ...` (the console entry point), without installing it."""
from .program import program

program.run()
