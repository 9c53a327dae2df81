"""Dynos cannot see or reach each other, nor the host's services; what they held is cleaned up."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from pathlib import Path

import pytest

from pyroku.runtime import DynoHandle
from tests.runtime.conftest import TEST_NETWORK, Harness, eventually

pytestmark = pytest.mark.anyio

# connect() with a short timeout from inside a dyno: prints "open", "refused", "blocked" (an ICMP
# admin-prohibited reject: EHOSTUNREACH) or the error. Host "gateway" is the dyno's default route.
PROBE = (
    "python3 -c \"import errno, socket, sys\n"
    "host = sys.argv[1]\n"
    "if host == 'gateway':\n"
    "    gw = [l.split()[2] for l in open('/proc/net/route') if l.split()[1] == '00000000'][0]\n"
    "    host = socket.inet_ntoa(bytes.fromhex(gw)[::-1])\n"
    "s = socket.socket(); s.settimeout(3)\n"
    "try:\n    s.connect((host, int(sys.argv[2]))); print('open')\n"
    "except ConnectionRefusedError: print('refused')\n"
    "except OSError as e: print('blocked' if e.errno == errno.EHOSTUNREACH else repr(e))\" {host} {port}"
)


async def _web(harness: Harness, marker: str, **changes: object) -> tuple[DynoHandle, str]:
    """A web dyno serving /app over HTTP, with a marker file and a marker process."""
    slug = harness.slugs.make({"index.html": f"{marker}\n"})
    spec = harness.spec(f"(exec -a {marker} sleep 600) & exec python3 -m http.server $PORT", slug=slug,
                        port=5000, **changes)
    handle = await harness.runtime.start(spec)
    await eventually(lambda: harness.runtime.bound(handle.id, 5000), what="the web dyno to bind $PORT")
    return handle, marker


async def test_dynos_cannot_see_each_others_processes_or_files(harness: Harness) -> None:
    _, marker = await _web(harness, "other-app-secret", app_id="app-other", app_name="other")
    _, out = await harness.run(
        f"ps -eo comm= | sort | tr '\\n' ' '; echo; grep -rl {marker} /app /tmp 2>/dev/null | wc -l; "
        f"ls /proc | grep -c '^[0-9]'"
    )
    processes = out[0].split()
    assert marker not in processes and "python3" not in processes  # the other dyno's processes
    assert set(processes) <= {"init", "bash", "ps", "sort", "tr"}  # init: tini at /dev/init
    assert out[1] == "0"  # its files
    assert int(out[2]) < 10  # a PID namespace of its own


async def test_dynos_cannot_reach_each_other_or_the_host(harness: Harness) -> None:
    other, _ = await _web(harness, "target")
    assert other.address is not None
    # a host service on every interface, like the API or a database bound to 0.0.0.0
    with socket.socket() as host_service:
        host_service.bind(("0.0.0.0", 0))  # noqa: S104 - the point: a careless host service
        host_service.listen()
        host_port = host_service.getsockname()[1]
        checks = "; ".join([
            PROBE.format(host=other.address[0], port=other.address[1]),  # another dyno
            PROBE.format(host="gateway", port=host_port),  # the host, through the dyno's own gateway
            PROBE.format(host=_gateway_of(other), port=host_port),  # the host, at another dyno's gateway
            PROBE.format(host="127.0.0.1", port=host_port),  # the host's loopback is not the dyno's
        ])  # (outbound and metadata traffic is checked on the ruleset: tests never send it out)
        exit_, out = await harness.run(checks, port=5000)
    assert exit_.status == 0
    assert out == ["blocked", "blocked", "blocked", "refused"], out
    # the host itself reaches the other dyno (that is how the router works)
    with socket.create_connection(other.address, timeout=5):
        pass


def _gateway_of(handle: DynoHandle) -> str:
    assert handle.address is not None
    a, b, c, d = (int(x) for x in handle.address[0].split("."))
    return f"{a}.{b}.{c}.{d - 1}"


async def test_firewall_and_nat_rules_installed(harness: Harness) -> None:
    ruleset = subprocess.run(["nft", "list", "table", "inet", TEST_NETWORK.nft_table],
                             capture_output=True, text=True, check=True).stdout
    prefix = f'"{TEST_NETWORK.interface_prefix}*"'
    assert f"iifname {prefix} ct state established,related accept" in ruleset
    assert f"iifname {prefix} reject with icmpx admin-prohibited" in ruleset
    assert f"iifname {prefix} oifname {prefix} reject" in ruleset
    assert f"ip daddr {{ {TEST_NETWORK.subnet}, 169.254.0.0/16 }} reject" in ruleset
    assert f"oifname {prefix} drop" in ruleset
    assert f"ip saddr {TEST_NETWORK.subnet} ip daddr != {TEST_NETWORK.subnet} oifname != {prefix} masquerade" in ruleset
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "1"


async def test_dyno_network_and_default_route(harness: Harness) -> None:
    handle = await harness.runtime.start(harness.spec("exec sleep 600", port=5000))
    assert handle.address is not None
    _, out = await harness.run("cat /proc/net/route | awk 'NR>1 {print $1, $2, $3}'; cat /etc/resolv.conf | head -1",
                               port=5000)
    routes = [line.split() for line in out if line.startswith("eth0")]
    assert routes[0][:2] == ["eth0", "00000000"]  # default route via the host side of the veth
    veths = subprocess.run(["ip", "-br", "addr"], capture_output=True, text=True, check=True).stdout
    assert _gateway_of(handle) + "/30" in veths


async def test_remove_cleans_up_veth_lease_and_engine_state(harness: Harness) -> None:
    handle = await harness.runtime.start(harness.spec("exec sleep 600", port=5000))
    state = harness.config.state_dir
    leases = list((state / "leases").iterdir())
    assert [p.read_text() for p in leases] == [handle.id]
    veth = TEST_NETWORK.interface_prefix + handle.id.replace("-", "")[:12]
    assert Path("/sys/class/net", veth).exists()
    assert (state / "engine" / handle.id).exists()
    exit_ = await harness.runtime.kill(handle.id)
    assert exit_.status == 137 and exit_.reason == "killed"
    # the supervisor gives back the network as soon as the dyno exits ...
    assert not Path("/sys/class/net", veth).exists()
    assert not list((state / "leases").iterdir())
    assert not (state / "engine" / handle.id).exists()
    # ... and remove() forgets the rest
    await harness.runtime.remove(handle.id)
    assert not (state / "dynos" / handle.id).exists()
    assert await harness.runtime.list() == []


async def test_many_dynos_start_concurrently(harness: Harness) -> None:
    specs = [harness.spec("exec sleep 600", port=5000) for _ in range(6)]
    handles = await asyncio.gather(*(harness.runtime.start(s) for s in specs))
    addresses = {h.address for h in handles}
    assert len(addresses) == 6
    statuses = await harness.runtime.list()
    assert {s.id for s in statuses if s.state == "running"} == {h.id for h in handles}
