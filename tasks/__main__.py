"""`python3 -m tasks ...` is `rt ...` (the console entry point), without installing it."""
from .program import program

program.run()
