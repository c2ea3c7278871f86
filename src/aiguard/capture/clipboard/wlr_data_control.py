"""Client bindings for wlroots' data-control protocol (zwlr_data_control_*_v1), for pywayland.

pywayland ships ext-data-control (the standardised protocol) but not its wlroots
predecessor, which is what sway < 1.11, Hyprland and KWin offer. The two protocols
have the same requests and events in the same order; only the interface names and
versions differ, so these classes are built from one message table.
Importing this module needs pywayland.
"""

from __future__ import annotations

from typing import Any

from pywayland.protocol.wayland import WlSeat
from pywayland.protocol_core import Argument, ArgumentType, Global, Interface, Proxy, Resource


def _message(interface: type[Interface], kind: str, name: str, *arguments: Argument, version: int | None = None):
    def stub(self: Any, *args: Any) -> None:
        """Wire description only."""

    stub.__name__ = name
    getattr(interface, kind)(*arguments, version=version)(stub)


class ZwlrDataControlManagerV1(Interface):
    name = "zwlr_data_control_manager_v1"
    version = 2


class ZwlrDataControlDeviceV1(Interface):
    name = "zwlr_data_control_device_v1"
    version = 2


class ZwlrDataControlSourceV1(Interface):
    name = "zwlr_data_control_source_v1"
    version = 1


class ZwlrDataControlOfferV1(Interface):
    name = "zwlr_data_control_offer_v1"
    version = 1


_S, _FD = ArgumentType.String, ArgumentType.FileDescriptor
_message(ZwlrDataControlManagerV1, "request", "create_data_source",
         Argument(ArgumentType.NewId, interface=ZwlrDataControlSourceV1))
_message(ZwlrDataControlManagerV1, "request", "get_data_device",
         Argument(ArgumentType.NewId, interface=ZwlrDataControlDeviceV1),
         Argument(ArgumentType.Object, interface=WlSeat))
_message(ZwlrDataControlManagerV1, "request", "destroy")

_message(ZwlrDataControlDeviceV1, "request", "set_selection",
         Argument(ArgumentType.Object, interface=ZwlrDataControlSourceV1, nullable=True))
_message(ZwlrDataControlDeviceV1, "request", "destroy")
_message(ZwlrDataControlDeviceV1, "request", "set_primary_selection",
         Argument(ArgumentType.Object, interface=ZwlrDataControlSourceV1, nullable=True), version=2)
_message(ZwlrDataControlDeviceV1, "event", "data_offer", Argument(ArgumentType.NewId, interface=ZwlrDataControlOfferV1))
_message(ZwlrDataControlDeviceV1, "event", "selection",
         Argument(ArgumentType.Object, interface=ZwlrDataControlOfferV1, nullable=True))
_message(ZwlrDataControlDeviceV1, "event", "finished")
_message(ZwlrDataControlDeviceV1, "event", "primary_selection",
         Argument(ArgumentType.Object, interface=ZwlrDataControlOfferV1, nullable=True), version=2)

_message(ZwlrDataControlSourceV1, "request", "offer", Argument(_S))
_message(ZwlrDataControlSourceV1, "request", "destroy")
_message(ZwlrDataControlSourceV1, "event", "send", Argument(_S), Argument(_FD))
_message(ZwlrDataControlSourceV1, "event", "cancelled")

_message(ZwlrDataControlOfferV1, "request", "receive", Argument(_S), Argument(_FD))
_message(ZwlrDataControlOfferV1, "request", "destroy")
_message(ZwlrDataControlOfferV1, "event", "offer", Argument(_S))


class ZwlrDataControlManagerV1Proxy(Proxy[ZwlrDataControlManagerV1]):
    interface = ZwlrDataControlManagerV1

    def create_data_source(self) -> Any:
        return self._marshal_constructor(0, ZwlrDataControlSourceV1)

    def get_data_device(self, seat: Any) -> Any:
        return self._marshal_constructor(1, ZwlrDataControlDeviceV1, seat)

    def destroy(self) -> None:
        self._marshal(2)
        self._destroy()


class ZwlrDataControlDeviceV1Proxy(Proxy[ZwlrDataControlDeviceV1]):
    interface = ZwlrDataControlDeviceV1

    def set_selection(self, source: Any) -> None:
        self._marshal(0, source)

    def destroy(self) -> None:
        self._marshal(1)
        self._destroy()


class ZwlrDataControlSourceV1Proxy(Proxy[ZwlrDataControlSourceV1]):
    interface = ZwlrDataControlSourceV1

    def offer(self, mime_type: str) -> None:
        self._marshal(0, mime_type)

    def destroy(self) -> None:
        self._marshal(1)
        self._destroy()


class ZwlrDataControlOfferV1Proxy(Proxy[ZwlrDataControlOfferV1]):
    interface = ZwlrDataControlOfferV1

    def receive(self, mime_type: str, fd: int) -> None:
        self._marshal(0, mime_type, fd)

    def destroy(self) -> None:
        self._marshal(1)
        self._destroy()


for _interface, _proxy in ((ZwlrDataControlManagerV1, ZwlrDataControlManagerV1Proxy),
                           (ZwlrDataControlDeviceV1, ZwlrDataControlDeviceV1Proxy),
                           (ZwlrDataControlSourceV1, ZwlrDataControlSourceV1Proxy),
                           (ZwlrDataControlOfferV1, ZwlrDataControlOfferV1Proxy)):
    _interface._gen_c()
    _interface.proxy_class = _proxy
    _interface.resource_class = type(f"{_interface.__name__}Resource", (Resource,), {"interface": _interface})
    _interface.global_class = type(f"{_interface.__name__}Global", (Global,), {"interface": _interface})
