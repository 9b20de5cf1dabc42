"""Typed refusals. Each names the rule it enforces and says what a merchant can do."""


class DomainError(Exception):
    """A command refused by a domain rule."""

    rule: str = "domain_rule"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NoPolicy(DomainError):
    rule = "policy_required"


class AmountOutsidePolicy(DomainError):
    rule = "policy_amount_interval"


class CarrierNotEnabled(DomainError):
    rule = "policy_carrier_enabled"


class ParcelHasOpenIntercept(DomainError):
    rule = "one_open_intercept_per_parcel"


class ParcelAlreadyIntercepted(DomainError):
    rule = "no_reintercept_after_success"


class NotCancellable(DomainError):
    rule = "cancel_only_while_open"


class CarrierMismatch(DomainError):
    rule = "carrier_reports_own_parcels"


class IdempotencyKeyReused(DomainError):
    rule = "idempotency_key_same_command"


class UnknownIntercept(DomainError):
    rule = "intercept_exists"


class CurrencyMismatch(DomainError):
    rule = "fee_in_order_currency"


class ConcurrencyConflict(DomainError):
    """Other writers kept changing the same aggregate; the command was not recorded."""

    rule = "concurrent_modification"


class NotPickedUp(DomainError):
    """Before pickup there is nothing to intercept: the shipment itself is cancelled."""

    rule = "no_intercept_before_pickup"


class AlreadySigned(DomainError):
    rule = "no_intercept_after_signing"


class AfterSaleFactsFixed(DomainError):
    """An after-sale record reported again with another order, parcel or amount."""

    rule = "after_sale_same_shipment"
