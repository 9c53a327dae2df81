"""Just enough rtnetlink for a dyno's network: a veth pair across namespaces, links up, addresses, a route.

The supervisor does this in-process instead of running ``ip`` twice (~10 ms on the start path).
Standard-library C modules only, like the supervisor that loads it. A netlink socket acts on the
network namespace it was created in, whichever namespace its process is in later.
"""

from __future__ import annotations

import _socket
import os
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

_NETLINK_ROUTE: Final = 0
_RTM_NEWLINK: Final = 16
_RTM_DELLINK: Final = 17
_RTM_NEWADDR: Final = 20
_RTM_NEWROUTE: Final = 24
_NLMSG_ERROR: Final = 2
_NLM_F_REQUEST: Final = 0x1
_NLM_F_ACK: Final = 0x4
_NLM_F_EXCL: Final = 0x200
_NLM_F_CREATE: Final = 0x400
_IFLA_IFNAME: Final = 3
_IFLA_LINKINFO: Final = 18
_IFLA_NET_NS_FD: Final = 28
_IFLA_INFO_KIND: Final = 1
_IFLA_INFO_DATA: Final = 2
_VETH_INFO_PEER: Final = 1
_IFA_ADDRESS: Final = 1
_IFA_LOCAL: Final = 2
_RTA_OIF: Final = 4
_RTA_GATEWAY: Final = 5
_IFF_UP: Final = 0x1
_AF_INET: Final = 2
_RT_TABLE_MAIN: Final = 254
_RTPROT_BOOT: Final = 3
_RTN_UNICAST: Final = 1
_RTNH_F_ONLINK: Final = 4
_HEADER: Final = struct.Struct("=LHHLL")


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _ifinfo(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    return struct.pack("=BxHiII", 0, 0, index, flags, change)


def _name(name: str) -> bytes:
    return name.encode() + b"\0"


class Netlink:
    """An rtnetlink socket of the current network namespace; every request waits for its ack."""

    def __init__(self) -> None:
        self._sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, _NETLINK_ROUTE)
        self._sock.bind((0, 0))
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def _request(self, kind: int, flags: int, body: bytes) -> None:
        self._seq += 1
        self._sock.send(_HEADER.pack(_HEADER.size + len(body), kind, _NLM_F_REQUEST | _NLM_F_ACK | flags,
                                     self._seq, 0) + body)
        while True:
            data = self._sock.recv(65536)
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, message, _flags, seq, _pid = _HEADER.unpack_from(data, offset)
                if message == _NLMSG_ERROR and seq == self._seq:
                    (error,) = struct.unpack_from("=i", data, offset + _HEADER.size)
                    if error:
                        raise OSError(-error, os.strerror(-error))
                    return
                offset += (length + 3) & ~3

    def add_veth(self, name: str, peer: str, peer_netns_fd: int) -> None:
        """Create ``name`` here and its peer ``peer`` in the namespace of ``peer_netns_fd``."""
        peer_info = _ifinfo() + _attr(_IFLA_IFNAME, _name(peer)) + _attr(_IFLA_NET_NS_FD,
                                                                          struct.pack("=I", peer_netns_fd))
        link_info = _attr(_IFLA_INFO_KIND, b"veth") + _attr(_IFLA_INFO_DATA, _attr(_VETH_INFO_PEER, peer_info))
        body = _ifinfo() + _attr(_IFLA_IFNAME, _name(name)) + _attr(_IFLA_LINKINFO, link_info)
        self._request(_RTM_NEWLINK, _NLM_F_CREATE | _NLM_F_EXCL, body)

    def set_up(self, name: str) -> None:
        self._request(_RTM_NEWLINK, 0, _ifinfo(0, _IFF_UP, _IFF_UP) + _attr(_IFLA_IFNAME, _name(name)))

    def add_address(self, index: int, address: str, prefix: int) -> None:
        packed = _socket.inet_aton(address)
        body = struct.pack("=BBBBI", _AF_INET, prefix, 0, 0, index)
        self._request(_RTM_NEWADDR, _NLM_F_CREATE | _NLM_F_EXCL,
                      body + _attr(_IFA_LOCAL, packed) + _attr(_IFA_ADDRESS, packed))

    def add_default_route(self, index: int, gateway: str) -> None:
        body = struct.pack("=BBBBBBBBI", _AF_INET, 0, 0, 0, _RT_TABLE_MAIN, _RTPROT_BOOT, 0, _RTN_UNICAST,
                           _RTNH_F_ONLINK)
        body += _attr(_RTA_GATEWAY, _socket.inet_aton(gateway)) + _attr(_RTA_OIF, struct.pack("=I", index))
        self._request(_RTM_NEWROUTE, _NLM_F_CREATE | _NLM_F_EXCL, body)

    def delete_link(self, name: str) -> None:
        self._request(_RTM_DELLINK, 0, _ifinfo() + _attr(_IFLA_IFNAME, _name(name)))
