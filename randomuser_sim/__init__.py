"""A local stand-in for https://randomuser.me/api with injectable faults.

Run it with `python -m randomuser_sim --host 127.0.0.1 --port 8400` (see `--help`),
or build it in-process with `randomuser_sim.app.create_app(SimConfig(...))`.

It serves `/api`, `/api/1.4` and `/api/1.3` (any case, trailing slash optional) with
production's parameters, envelope, per-nationality formats, seeds and rate limit
(RANDOMUSER-API.md). Names and places come from short lists, so seeded content is
deterministic but not byte-identical to production.

Admin API (never faulted, never counted):
    POST   /_sim/faults      {"mode": <mode>, "count": <int | null>, "delay": <s>}
                             queue a fault for the next `count` requests (null: until
                             cleared); `delay` is for `slow` (default 5). 201.
    GET    /_sim/faults      {"faults": [{"mode", "count" (left), "delay"}, ...]}
    DELETE /_sim/faults      clear every pending fault
    GET    /_sim/stats       {"requests": n, "users_served": n}
    DELETE /_sim/rate-limit  reset every client's counter. 204.
Modes: see `randomuser_sim.faults.FaultMode`.
"""
