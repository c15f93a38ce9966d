"""Ray, for the commands that scale out (`--ray [ADDRESS]`): the one place that imports it.

Ray is an extra (`pip install -e ".[ray]"`); without it every command runs on one machine as
before. `connect` joins a running cluster (`ray start --head` printed its address) or, with no
address, starts a local Ray on this machine, reachable from 127.0.0.1 only.
"""

from __future__ import annotations

from worlds.errors import ConfigError

LOCAL = "local"  # `--ray` with no address: a Ray started on the spot on this machine


def require_ray():
    """The `ray` module, or a clear error that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError('--ray needs Ray: pip install -e ".[ray]"') from None
    return ray


def connect(address: str | None = LOCAL, num_cpus: int | None = None):
    """Join the cluster at `address` (host:port, or "auto" for the one `ray start` left running
    here) or start a local one; a second call reuses the connection. Returns the `ray` module."""
    ray = require_ray()
    if ray.is_initialized():
        return ray
    if address in (None, LOCAL):
        ray.init(
            num_cpus=num_cpus,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            _node_ip_address="127.0.0.1",
        )
    else:
        try:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise ConfigError(f"--ray {address}: cannot join the Ray cluster: {err}") from None
    return ray


def add_ray_option(parser) -> None:
    """`--ray [ADDRESS]`, the same flag on every command that can scale out."""
    parser.add_argument(
        "--ray",
        nargs="?",
        const=LOCAL,
        default=None,
        metavar="ADDRESS",
        help="run on Ray: a cluster's address (host:port, or auto), or none for a local Ray here",
    )
