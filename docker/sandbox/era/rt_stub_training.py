"""SANDBOX STUB: the training loop the model-layer stubs share (installed into the gr00t and openpi stub venvs).

No model: one tick of the clock (RT_STANDIN_TICK seconds, default 0.3) per save interval, a tqdm bar as the
real trainers print it, and `save(step)` at every save interval and at the last step.
"""
import os
import sys
import time
from typing import Callable

from tqdm import tqdm


def run_steps(start: int, total: int, every: int, save: Callable[[int], None]) -> None:
    tick = float(os.environ.get("RT_STANDIN_TICK", "0.3"))
    bar = tqdm(total=total, initial=start, file=sys.stdout, mininterval=0)
    step = start
    while step < total:
        time.sleep(tick)
        advance = min(every - step % every, total - step)
        step += advance
        bar.update(advance)
        save(step)
    bar.close()
