"""Side-by-side benchmarks: our gateway against DCRF 1.3 + channelsmultiplexer 0.0.3.

Run ``python -m benchmarks`` (or ``make bench``). The harness builds the
reference virtualenv on first use, starts every server as a subprocess pinned to
one core, drives it from this process over loopback websockets, and writes
``benchmarks/results/latest.md`` and ``latest.json``.

The harness modules (everything outside ``benchmarks.project``) never import
Django: the servers and the in-process workload run in subprocesses with their
own settings, so the reference packages are only ever imported inside the
reference virtualenv.
"""
