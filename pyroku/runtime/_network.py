"""Dyno networking on the host: /30 address leases, the nftables fence, and listening-socket checks.

Each dyno lives in its own network namespace (created by its supervisor) joined to the host by a
veth pair: host side ``<prefix><12 hex>`` with ``.1``, dyno side ``eth0`` with ``.2`` of a /30 of
the platform's subnet. The fence is one nftables table matching interfaces by prefix, so starting
or removing a dyno never touches the ruleset: deleting the veth is the whole cleanup.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pyroku.runtime._config import NetworkConfig
from pyroku.runtime._exceptions import NetworkExhausted, RuntimeUnavailable


@dataclass(frozen=True, slots=True)
class Lease:
    slot: int
    host_ip: str
    dyno_ip: str
    veth: str


def veth_name(config: NetworkConfig, dyno_id: str) -> str:
    return config.interface_prefix + dyno_id.replace("-", "")[:12]


def _addresses(config: NetworkConfig, slot: int) -> tuple[str, str]:
    base = int(config.network.network_address) + 4 * slot
    return str(ipaddress.IPv4Address(base + 1)), str(ipaddress.IPv4Address(base + 2))


class Leases:
    """Address leases as files ``<dir>/<slot>`` holding the dyno id, created with O_EXCL."""

    def __init__(self, directory: Path, config: NetworkConfig) -> None:
        self._dir = directory
        self._config = config
        self._dir.mkdir(parents=True, exist_ok=True)

    def acquire(self, dyno_id: str) -> Lease:
        slots = self._config.slots
        start = random.randrange(slots)
        for i in range(slots):
            slot = (start + i) % slots
            try:
                fd = os.open(self._dir / str(slot), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            except FileExistsError:
                continue
            with os.fdopen(fd, "w") as f:
                f.write(dyno_id)
            return self.lease(slot, dyno_id)
        raise NetworkExhausted(f"all {slots} dyno addresses of {self._config.subnet} are in use")

    def lease(self, slot: int, dyno_id: str) -> Lease:
        host_ip, dyno_ip = _addresses(self._config, slot)
        return Lease(slot, host_ip, dyno_ip, veth_name(self._config, dyno_id))

    def release(self, slot: int, dyno_id: str) -> None:
        """Free ``slot`` if ``dyno_id`` still holds it."""
        path = self._dir / str(slot)
        with contextlib.suppress(FileNotFoundError):
            if path.read_text() == dyno_id:
                path.unlink()

    def holders(self) -> dict[int, str]:
        out = {}
        for path in self._dir.iterdir():
            if path.name.isdigit():
                with contextlib.suppress(OSError):
                    out[int(path.name)] = path.read_text()
        return out


def host_dns_servers(resolv_conf: Path = Path("/etc/resolv.conf")) -> tuple[str, ...]:
    """The host's nameservers a dyno can reach (loopback resolvers are not reachable from a netns)."""
    servers = []
    with contextlib.suppress(OSError):
        for line in resolv_conf.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 2 and fields[0] == "nameserver":
                with contextlib.suppress(ValueError):
                    if not ipaddress.ip_address(fields[1]).is_loopback:
                        servers.append(fields[1])
    return tuple(servers)


def ruleset(config: NetworkConfig) -> str:
    """The nftables table fencing dynos in (replaces any previous version of itself atomically)."""
    table = f"inet {config.nft_table}"
    dynos = f'"{config.interface_prefix}*"'
    blocked = ", ".join([config.subnet, *(str(ipaddress.ip_network(b, strict=False)) for b in config.blocked_networks)])
    outbound = "accept" if config.nat else "reject with icmpx admin-prohibited"
    forward_out = f"        iifname {dynos} {outbound}\n"
    nat = (
        f"    chain postrouting {{\n"
        f"        type nat hook postrouting priority srcnat; policy accept;\n"
        f"        ip saddr {config.subnet} ip daddr != {config.subnet} oifname != {dynos} masquerade\n"
        f"    }}\n"
        if config.nat else ""
    )
    return (
        f"table {table} {{}}\n"
        f"delete table {table}\n"
        f"table {table} {{\n"
        f"    chain input {{\n"
        f"        type filter hook input priority filter; policy accept;\n"
        f"        iifname {dynos} ct state established,related accept\n"
        f"        iifname {dynos} reject with icmpx admin-prohibited\n"
        f"    }}\n"
        f"    chain forward {{\n"
        f"        type filter hook forward priority filter; policy accept;\n"
        f"        iifname {dynos} oifname {dynos} reject with icmpx admin-prohibited\n"
        f"        iifname {dynos} ip daddr {{ {blocked} }} reject with icmpx admin-prohibited\n"
        f"        oifname {dynos} ct state established,related accept\n"
        f"        oifname {dynos} drop\n"
        f"{forward_out}"
        f"    }}\n"
        f"{nat}"
        f"}}\n"
    )


def install_firewall(config: NetworkConfig, nft: str) -> None:
    """Install (or refresh) the fence; with NAT also enable IPv4 forwarding."""
    try:
        result = subprocess.run([nft, "-f", "-"], input=ruleset(config), capture_output=True, text=True, check=False)
    except OSError as exc:
        raise RuntimeUnavailable(f"cannot run nft: {exc}") from exc
    if result.returncode != 0:
        raise RuntimeUnavailable(f"nft refused the dyno firewall: {result.stderr.strip()}")
    if config.nat:
        forward = Path("/proc/sys/net/ipv4/ip_forward")
        if forward.read_text().strip() != "1":
            try:
                forward.write_text("1\n")
            except OSError as exc:
                raise RuntimeUnavailable(f"cannot enable IPv4 forwarding for dyno NAT: {exc}") from exc


def remove_firewall(table: str, nft: str = "nft") -> None:
    """Delete the nftables table ``table`` (family inet) if it exists.

    A platform keeps its table while it has dynos (they outlive the controller); test and benchmark
    platforms call this when they are done, so their rules do not stay on every packet of the host.
    """
    subprocess.run([nft, "delete", "table", "inet", table], capture_output=True, check=False)


def delete_veth(ip: str, veth: str) -> None:
    """Delete a host-side veth (and so its peer) if it still exists."""
    if Path("/sys/class/net", veth).exists():
        subprocess.run([ip, "link", "del", veth], capture_output=True, check=False)


_LISTEN = "0A"


def listening_ports(pid: int, reachable_ip: str) -> set[int]:
    """TCP ports some socket in ``pid``'s network namespace listens on, reachable at ``reachable_ip``.

    Sockets bound to loopback do not count: the router could not reach them.
    """
    wanted = {"00000000", _hex_ipv4(reachable_ip)}
    wanted6 = {"0" * 32, _hex_ipv4_mapped(reachable_ip)}
    ports: set[int] = set()
    for name, addresses in (("tcp", wanted), ("tcp6", wanted6)):
        try:
            lines = Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != _LISTEN:
                continue
            address, _, port = fields[1].partition(":")
            if address in addresses:
                ports.add(int(port, 16))
    return ports


def _hex_ipv4(ip: str) -> str:
    return ipaddress.IPv4Address(ip).packed[::-1].hex().upper()


def _hex_ipv4_mapped(ip: str) -> str:
    # /proc/net/tcp6 prints the address as four host-order 32-bit words
    packed = ipaddress.IPv6Address(f"::ffff:{ip}").packed
    return "".join(packed[i:i + 4][::-1].hex().upper() for i in range(0, 16, 4))
