"""The carriers the engine knows: configuration, not a closed list in the event schemas.

A TOML file named by `INTERCEPT_CARRIERS_FILE` lists them; without one the catalog is the
eight carriers built in, none with a connection (nothing is dispatched to them; manual and
callback reports still work). Adding a carrier is an entry in that file:

    [[carrier]]
    code = "DBL"
    name = "Deppon"
    adapter = "generic"
    [carrier.capabilities]
    actions = ["return_to_sender", "redirect"]
    quotes_fees = true
    [carrier.connection]
    base_url = "http://127.0.0.1:9100"
    secret_env = "INTERCEPT_DBL_SECRET"

Credentials are never written in the file: `secret_env` names the environment variable that
holds the secret, read when the connection is used, and never printed.
"""

import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domain.types import CarrierCode
from domain.vocabulary import Action, Carrier

_BUILT_IN_NAMES = {
    Carrier.ZTO: "ZTO Express",
    Carrier.YTO: "YTO Express",
    Carrier.STO: "STO Express",
    Carrier.YD: "Yunda Express",
    Carrier.JT: "J&T Express",
    Carrier.SF: "SF Express",
    Carrier.JD: "JD Logistics",
    Carrier.EMS: "China Post EMS",
}


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Capabilities(_Entry):
    actions: frozenset[Action] = Field(default=frozenset(Action), min_length=1)
    """The intercept actions the carrier offers; every action when not said."""
    quotes_fees: bool = False
    """Whether the carrier quotes an intercept fee before the request."""


class Connection(_Entry):
    base_url: str = Field(min_length=1)
    secret_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    """The environment variable that holds the carrier's secret (the file never does)."""
    account_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    """The environment variable that holds the merchant's account or key id at the carrier."""

    def secret(self, environ: Mapping[str, str] | None = None) -> str | None:
        env = os.environ if environ is None else environ
        return env.get(self.secret_env) if self.secret_env else None

    def account(self, environ: Mapping[str, str] | None = None) -> str | None:
        env = os.environ if environ is None else environ
        return env.get(self.account_env) if self.account_env else None


class CarrierEntry(_Entry):
    code: CarrierCode
    name: str = Field(min_length=1, max_length=100)
    adapter: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")
    """The protocol family that speaks to it ("direct", "aggregator", "generic"); None: none."""
    capabilities: Capabilities = Capabilities()
    connection: Connection | None = None

    def supports(self, action: Action) -> bool:
        return action in self.capabilities.actions


class CatalogError(ValueError):
    """A carriers file that cannot be read or says something invalid."""


class CarrierRefused(ValueError):
    """A request naming a carrier the catalog does not have, or an action it does not offer."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class CarrierCatalog:
    entries: Mapping[str, CarrierEntry]

    @classmethod
    def of(cls, entries: Iterable[CarrierEntry]) -> "CarrierCatalog":
        found: dict[str, CarrierEntry] = {}
        for entry in entries:
            if entry.code in found:
                raise CatalogError(f"carrier {entry.code} is listed twice")
            found[entry.code] = entry
        if not found:
            raise CatalogError("the carrier catalog lists no carrier")
        return cls(MappingProxyType(found))

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self.entries)

    def get(self, code: str) -> CarrierEntry | None:
        return self.entries.get(code)

    def entry(self, code: str, field: str = "carrier") -> CarrierEntry:
        found = self.entries.get(code)
        if found is None:
            raise CarrierRefused(
                field,
                f"unknown carrier {code!r}: the carrier catalog has {', '.join(self.codes)}",
            )
        return found

    def admit(self, code: str, action: Action) -> CarrierEntry:
        """The carrier a request names, refused when unknown or when it lacks the action."""
        found = self.entry(code)
        if not found.supports(action):
            offered = ", ".join(sorted(found.capabilities.actions))
            raise CarrierRefused(
                "action",
                f"carrier {code} does not offer the action {action.value!r} (it offers {offered})",
            )
        return found

    def admit_all(self, codes: Iterable[str], field: str = "carriers") -> None:
        for code in codes:
            self.entry(code, field)


def built_in() -> CarrierCatalog:
    return CarrierCatalog.of(
        CarrierEntry(code=code.value, name=name) for code, name in _BUILT_IN_NAMES.items()
    )


def load_catalog(path: Path | None) -> CarrierCatalog:
    """The catalog a carriers file declares, or the built-in one when there is no file."""
    if path is None:
        return built_in()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CatalogError(f"cannot read the carriers file {path}: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise CatalogError(f"the carriers file {path} is not valid TOML: {error}") from None
    unknown = set(document) - {"carrier"}
    if unknown:
        raise CatalogError(
            f"the carriers file {path} has unknown keys: {', '.join(sorted(unknown))}"
        )
    entries = []
    for n, item in enumerate(document.get("carrier", [])):
        try:
            entries.append(CarrierEntry.model_validate(item))
        except ValidationError as error:
            problems = "; ".join(
                f"carrier[{n}].{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                for e in error.errors()
            )
            raise CatalogError(f"the carriers file {path} is invalid: {problems}") from None
    return CarrierCatalog.of(entries)
