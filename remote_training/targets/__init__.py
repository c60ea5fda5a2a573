"""Where jobs run: the Target interface (base.py) and its two kinds, fixed hosts reached over SSH (host.py)
and Nebius Serverless (serverless.py); fleet.py picks the targets a command names and finds a job on them."""
