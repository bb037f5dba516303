"""A warm parent for scripted `gateway` commands, in the manner of Mercurial's chg.

Every `gateway` command is a new interpreter that imports SQLAlchemy, cryptography and our modules
before doing anything: about 0.45 s, more than most commands' own work, and a scripted hand-over
runs several. `gateway command-server` imports them once and forks a child per command; the
`gateway` entry point (client.py) hands its arguments, environment, working directory, umask and
standard streams to that child over a Unix socket, forwards signals to it and exits as it exits.
The child is a whole process of its own (its own pid, work files and exit status) that runs
exactly what a fresh `gateway` would, as the same user: nothing passes between commands.

Used only when nothing could tell the difference: no controlling terminal (a prompt reads
/dev/tty, which a forked child cannot reach) and a server for the command's home running this
very code (wire.py says how the two check that).
"""
