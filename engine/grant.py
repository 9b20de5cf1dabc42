"""What a new API key is allowed to do: a role and, for some roles, whose it is."""

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.types import CarrierCode, Code
from engine.roles import Role


class KeyGrant(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    merchant_id: Code | None = Field(
        default=None, description="Required for a merchant key, refused for any other role."
    )
    carrier: CarrierCode | None = Field(
        default=None, description="Required for a carrier key, refused for any other role."
    )

    @model_validator(mode="after")
    def _scoped_to_its_role(self) -> Self:
        # A merchant key without a merchant would be a key to everyone's intercepts.
        if (self.role is Role.MERCHANT) != (self.merchant_id is not None):
            raise ValueError("a merchant key needs a merchant, and only a merchant key takes one")
        if (self.role is Role.CARRIER) != (self.carrier is not None):
            raise ValueError("a carrier key needs a carrier, and only a carrier key takes one")
        return self
