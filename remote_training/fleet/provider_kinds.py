"""The provider kinds hosts.yaml names (`provider: {type: KIND}`): the one list of them.

A leaf module (no imports): the inventory, the providers, the serverless target and the cost report
all name kinds, and the serverless target is read by the inventory, so the list sits below them all.
"""
STATIC = "static"  # a machine that is always on: nothing to start or stop
COMMAND = "command"  # started, stopped and asked by the user's own shell commands
NEBIUS = "nebius"  # a Nebius Compute VM, through the Nebius SDK
NEBIUS_SERVERLESS = "nebius-serverless"  # not a host: a Nebius Serverless target, with no SSH
HOST_KINDS = (STATIC, COMMAND, NEBIUS)  # the kinds of a machine reached over SSH
