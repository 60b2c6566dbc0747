"""``SikkaWriteOptions``: how writes are sent to one practice at Sikka, grouped and checked once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from pms_connect.errors import InvalidArgumentError
from pms_connect.statuses import MEANINGS
from pms_connect.validation import check_id, check_text

__all__ = ["SikkaWriteOptions"]


def _frozen(values: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class SikkaWriteOptions:
    """How writes are sent to the practice; the defaults suit most practices.

    ``check_spu``: refuse a write at once ([PreconditionFailedError][pms_connect.errors.PreconditionFailedError])
    while the practice's utility (the Sikka bridge on the practice's server) is offline, instead of letting
    Sikka queue it until the utility is back.

    ``status_values``: the practice's own status for ``"cancel"`` and ``"confirm"`` when its names do not say
    so (e.g. ``{"confirm": "CONF-TEXT"}``).

    ``pms_fields``: the practice's own values for the fields some PMSs require on a write (OrthoTrac:
    ``staff`` and ``type``; Dolphin: ``user``, ``status``, ``type``; Planet DDS: ``production_type``;
    ClearDent: ``status``, ``type``, ``user``; from Sikka's ``writeback_details``): without them such a write
    is refused before sending with [UnsupportedOperationError][pms_connect.errors.UnsupportedOperationError]
    naming what is missing.

    ``negative_payments``: the sign a payment's positive ``amount`` takes on the wire: negative (a credit),
    as Sikka's only documented ``POST transaction`` example posts a cash payment (``"-39.30"``) and as its
    ledger lists payments; ``False`` sends it positive.

    ``reconcile_window``: how long after sending, a write whose answer was lost may still appear in Sikka's
    writeback log; not logged by then, it ends ``not_applied``.
    """

    check_spu: bool = False
    status_values: Mapping[str, str] = field(default_factory=dict)
    pms_fields: Mapping[str, str] = field(default_factory=dict)
    negative_payments: bool = True
    reconcile_window: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        if not isinstance(self.check_spu, bool) or not isinstance(self.negative_payments, bool):
            raise InvalidArgumentError("check_spu and negative_payments must be True or False")
        if not isinstance(self.reconcile_window, timedelta) or self.reconcile_window <= timedelta(0):
            raise InvalidArgumentError("reconcile_window must be a positive timedelta")
        unknown = [k for k in self.status_values if k not in MEANINGS]
        if unknown:
            raise InvalidArgumentError(f"status_values names a meaning other than {', '.join(MEANINGS)}")
        statuses = {
            k: check_text(v, f"status_values[{k!r}]", max_length=100) for k, v in self.status_values.items()
        }
        fields = {
            check_id(k, "a pms_fields name"): check_text(v, f"pms_fields[{k!r}]", max_length=100)
            for k, v in self.pms_fields.items()
        }
        object.__setattr__(self, "status_values", _frozen(statuses))
        object.__setattr__(self, "pms_fields", _frozen(fields))
