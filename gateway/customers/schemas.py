"""What partners see of the consenting customer."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, with_config
from typing_extensions import TypedDict

from gateway.http.schemas import closed


@with_config(
    closed(
        {
            "customer_id": "psu_x5k2m7qz3v4n6w8d2f5h7j3k4l",
            "name": "张",
            "risk_tolerance": "C3",
            "kyc_status": "Verified",
        }
    )
)
class CustomerOut(TypedDict):
    """The customer behind the consent; never the bank's customer number, ID or mobile."""

    customer_id: Annotated[
        str,
        Field(
            pattern=r"^psu_[a-z2-7]{1,64}$",
            description="The customer's pairwise id for this partner (as on the consent).",
        ),
    ]
    name: Annotated[
        str,
        Field(description="The family name only, unless ReadPartyDetail was granted."),
    ]
    risk_tolerance: Annotated[
        Literal["C1", "C2", "C3", "C4", "C5"],
        Field(description="The customer's assessed risk tolerance, C1 (lowest) to C5."),
    ]
    kyc_status: Annotated[
        str, Field(examples=["Verified"], description="Verified, Pending or Failed.")
    ]
