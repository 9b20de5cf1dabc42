"""Refusals the API makes on its own account, before any command reaches the domain."""


class ApiRefusal(Exception):
    status: int = 400
    title: str = "Bad request"
    rule: str = "valid_request"
    headers: dict[str, str] | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotAuthenticated(ApiRefusal):
    status = 401
    title = "Not authenticated"
    rule = "api_key_valid"
    headers = {"WWW-Authenticate": 'Bearer realm="intercept"'}


class BadSignature(ApiRefusal):
    status = 401
    title = "Callback signature refused"
    rule = "callback_signature_valid"


class Forbidden(ApiRefusal):
    status = 403
    title = "Not allowed for this key"
    rule = "role_permits"


class NotFound(ApiRefusal):
    """Also what a key gets for what exists but is not its own: existence is not revealed."""

    status = 404
    title = "Not found"
    rule = "visible_to_key"


class TooLarge(ApiRefusal):
    status = 413
    title = "Content too large"
    rule = "evidence_size_limit"


class InvalidInput(ApiRefusal):
    status = 422
    title = "Invalid input"
    rule = "valid_input"


class BodyTooLarge(ApiRefusal):
    status = 413
    title = "Content too large"
    rule = "body_size_limit"


class EvidenceNotStored(ApiRefusal):
    status = 503
    title = "Evidence not stored"
    rule = "evidence_stored_first"


class ParcelNotFound(ApiRefusal):
    status = 404
    title = "Not found"
    rule = "parcel_known"
