"""The endpoint router: a separate long-lived process that owns endpoint addresses and forwards each
connection to the endpoint's current target (the primary of a Multi-AZ instance, a healthy reader of a
reader endpoint). While an endpoint has no reachable target, new connections are held — not refused —
for up to the table's hold time, so clients that connect during a failover just see a slower connect.

Kura writes the table (`table.py`) and signals the router (`control.py`); the router (`proxy.py`, run
as `python -m kura.net.router`) reloads it without dropping a connection and survives Kura restarts.
Where the kernel allows, a writer endpoint's new connections do not pass through it at all: they are
steered to the primary's own listening socket (`steer.py`, over the bpf(2) calls in `bpf.py`).
"""
