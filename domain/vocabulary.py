"""The closed sets of words the domain speaks: carriers, actions, reasons, statuses."""

from enum import StrEnum


# The carriers built in: the default catalog, and the closed list `Requested` v1 and v2 were
# published with (no docstring: it would change their schemas). Events since carry a
# `CarrierCode` (domain/types.py): carriers are configuration.
class Carrier(StrEnum):
    ZTO = "ZTO"
    YTO = "YTO"
    STO = "STO"
    YD = "YD"
    JT = "JT"
    SF = "SF"
    JD = "JD"
    EMS = "EMS"


class Action(StrEnum):
    RETURN_TO_SENDER = "return_to_sender"
    RETURN_TO_STATION = "return_to_station"
    REDIRECT = "redirect"


class AfterSaleStatus(StrEnum):
    NONE = "none"
    REFUND_REQUESTED = "refund_requested"
    RETURN_REQUESTED = "return_requested"
    REFUNDED = "refunded"
    CLOSED = "closed"


class ParcelStage(StrEnum):
    """Where the parcel was when the intercept was requested, as the merchant knew it."""

    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    UNKNOWN = "unknown"
    NOT_PICKED_UP = "not_picked_up"
    SIGNED = "signed"


class CancelReason(StrEnum):
    MISOPERATION = "misoperation"
    BUYER_CHANGED_MIND = "buyer_changed_mind"
    WRONG_TRACKING_OR_ADDRESS = "wrong_tracking_or_address"
    FORCE_MAJEURE = "force_majeure"
    OTHER = "other"


class FailureReason(StrEnum):
    TOO_LATE_OUT_FOR_DELIVERY = "too_late_out_for_delivery"
    ALREADY_SIGNED = "already_signed"
    NOT_PICKED_UP = "not_picked_up"
    CARRIER_REJECTED = "carrier_rejected"
    OTHER = "other"


class FeeKind(StrEnum):
    INTERCEPT = "intercept"
    RETURN_SHIPPING = "return_shipping"
    STORAGE = "storage"
    OTHER = "other"


class Payer(StrEnum):
    MERCHANT = "merchant"
    CARRIER = "carrier"
    PLATFORM = "platform"
    BUYER = "buyer"


class EvidenceKind(StrEnum):
    SCREENSHOT = "screenshot"
    CHAT_LOG = "chat_log"
    CALL_RECORD = "call_record"
    OTHER = "other"


class Status(StrEnum):
    """The merchant-facing state of an intercept."""

    REQUESTED = "requested"
    ACCEPTED = "accepted"
    INTERCEPTED = "intercepted"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    RETURNING = "returning"
    RETURNED = "returned"
    DELIVERED_TO_NEW_ADDRESS = "delivered_to_new_address"
    # Which of these are open, cancellable or terminal is domain/lifecycle.py's to say.


class CarrierReport(StrEnum):
    """What a carrier can say about an intercept."""

    ACCEPTED = "accepted"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    RELEASED = "released"
    REJECTED = "rejected"
    RETURNING = "returning"
    RETURNED = "returned"
    DELIVERED_TO_NEW_ADDRESS = "delivered_to_new_address"


class RejectionCode(StrEnum):
    """Why a carrier refused a request when it was sent."""

    NOT_A_PLATFORM_WAYBILL = "not_a_platform_waybill"
    CONDITIONS_NOT_MET = "conditions_not_met"
    NOT_PICKED_UP = "not_picked_up"
    ALREADY_SIGNED = "already_signed"
    # The parcel is stopped already, by another channel: a success for the parcel's rules.
    ALREADY_INTERCEPTED_OTHER_CHANNEL = "already_intercepted_other_channel"
    ALREADY_INTERCEPTED_SAME_CHANNEL = "already_intercepted_same_channel"


class Conflict(StrEnum):
    """Facts that contradict each other; the merchant has to act on them."""

    INTERCEPTED_AFTER_CANCEL = "intercepted_after_cancel"
    RELEASED_WITHOUT_CANCEL = "released_without_cancel"
    CONTRADICTORY_CARRIER_REPORTS = "contradictory_carrier_reports"


class DispatchState(StrEnum):
    """Where the engine's own request to the carrier stands (the carrier gateway's words).

    Not the intercept's status: what the engine did about telling the carrier, which the
    carrier's reports then follow."""

    NOT_CONNECTED = "not_connected"
    """The carrier has no connection configured: nothing is sent; reports come by hand."""
    PENDING = "pending"
    """Not sent yet: the gateway has not tried."""
    SENT = "sent"
    """Tried, no answer yet: the call is under way or waits to be tried again."""
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"
    """The gateway gave up for now (`CarrierUnreachable`): call the carrier's service."""
    WITHDRAWN = "withdrawn"
    """Cancelled before it was ever sent: the carrier never heard of it."""


class Flag(StrEnum):
    """Things the merchant must look at that are not conflicts: nothing contradicts, but
    someone has to decide. The row's `flags` column lists the raised ones, sorted."""

    CARRIER_UNREACHABLE = "carrier_unreachable"
    LIKELY_TO_FAIL = "likely_to_fail"
    FEE_WITHOUT_SUCCESS = "fee_without_success"
    AFTER_SALE_WITHDRAWN = "after_sale_withdrawn"
    STALLED = "stalled"


class Deadline(StrEnum):
    """A policy's deadline for an open intercept (docs/automation.md)."""

    ACCEPTANCE = "acceptance"  # no carrier acceptance (or outcome) yet
    OUTCOME = "outcome"  # no carrier outcome yet


class Subject(StrEnum):
    """Whose personal data a field holds (domain/personal.py marks and seals such fields)."""

    BUYER = "buyer"  # the order's buyer: notes and evidence about the order
    RECIPIENT = "recipient"  # an intercept's redirect recipient: where the parcel goes


ERASED = "[erased]"
"""What a personal field reads as once its subject's key is destroyed."""
